import Foundation
import HiVGCore
import HiVGFormats
import HiVGModel
import HiVGSurgery

/// `merge`: the checkpoints of one training run (or one checkpoint) merged and written through the
/// write pipeline, with the series' increments, the frozen-weight audit and `--emit-stages`.
public struct SeriesMerge: Sendable {
    public var paths: [String]
    public var read = ReadOptions()
    public var overrides = ConfigOverrides()
    /// Base weights under a PEFT adapter folder.
    public var base: String?
    public var output: String
    /// Format, layout, dtype, `--verify` and the folder settings of the output.
    public var request: WriteRequest
    /// Also write every stage's merge into this folder (safetensors, named by `StageMember.fileStem`).
    public var emitStages: String?
    /// Overwrite existing `--emit-stages` files.
    public var force = false
    /// Write even when frozen CLIP weights differ between stages.
    public var allowFrozenChanges = false
    /// Also time the merge arithmetic alone (`MergeReport.timings`).
    public var timings = false
    /// The tool recorded in the provenance.
    public var tool: String
    public var useHashCache = true

    public init(paths: [String], output: String, request: WriteRequest, tool: String) {
        self.paths = paths
        self.output = output
        self.request = request
        self.tool = tool
    }

    /// Loads, audits, merges and writes; `progress` is called after each file read or written. Throws a
    /// `SurgeryError` when frozen weights changed (unless allowed); a report whose verification failed
    /// means nothing was written.
    public func run(progress: ((String) -> Void)? = nil) throws -> MergeReport {
        if request.verify { try LinearAlgebra.prepare() }  // before the source hasher's thread starts
        let clock = ContinuousClock()
        let started = clock.now
        var timed: [(String, Double)] = []
        // The merge arithmetic needs no head count: plain weight files may leave unknown ones unknown
        // (recorded so, never trusted when read back). Formats that state heads, and --verify, need them.
        var overrides = self.overrides
        let plainFile = request.format == .safetensors || (request.format == .pth && request.layout == .canonical)
        overrides.headsMayBeUnknown = plainFile && !request.verify
        var models: [LoadedModel] = []
        for p in paths {
            models.append(try ModelLoader.load(p, read: read, overrides: overrides, base: base))
            progress?(p)
        }
        timed.append(("load", Self.ms(clock.now - started)))
        let last = models[models.count - 1]
        if timings {
            // The arithmetic alone, once, for every LoRA'd linear of the last checkpoint (the write
            // below recomputes each tensor as it streams it).
            let t0 = clock.now
            for linear in last.loraOrder { _ = try Merge.mergedFloats(last, linear: linear) }
            timed.append(("merge arithmetic \(last.lora.count) linears", Self.ms(clock.now - t0)))  // scripts/bench parses this label
        }
        // Increments and the frozen audit are about a series; one checkpoint has neither.
        let members = try StageMember.identify(models)
        let series = models.count > 1 ? try StageSeries.analyse(models) : StageSeries()
        if let d = series.frozenDifferences.first, !allowFrozenChanges {
            throw SurgeryError.mismatch("\(ReportText.counted(series.frozenDifferences.count, "frozen CLIP weight")) changed between stages "
                + "(first: \(d.tensor), \(members[d.fromStage].label) → \(members[d.toStage].label), max |Δ| \(ReportText.scientific(d.maxAbsDiff))): "
                + "not one training run; nothing written (--allow-frozen-changes writes anyway)")
        }
        func sources(_ upTo: Int) -> [String] { models[0 ... upTo].flatMap { $0.source.files } }
        if let dir = emitStages {
            try Self.createFolder(dir, what: "--emit-stages folder")
            let files = members.map { (dir as NSString).appendingPathComponent($0.fileStem + ".safetensors") }
            if !force, let existing = files.first(where: { FileManager.default.fileExists(atPath: $0) }) {
                throw FormatError(.io, file: existing, "--emit-stages would overwrite this file (give --force)")
            }
            for (k, m) in models.enumerated() {
                _ = try WritePipeline.run(m, WriteRequest(format: .safetensors, dtype: request.dtype), to: files[k], stagesMerged: k + 1,
                                          sources: sources(k), tool: tool, useHashCache: useHashCache)
                progress?(files[k])
            }
        }
        let outcome = try WritePipeline.run(last, request, to: output, stagesMerged: models.count, sources: sources(models.count - 1),
                                            tool: tool, useHashCache: useHashCache)
        progress?(output)
        timed.append(("total", Self.ms(clock.now - started)))
        var report = MergeReport(models: models, members: members, series: series, output: output, format: request.format, layout: request.layout)
        report.verification = outcome.verification.map(VerificationReport.init)
        if timings { report.timings = timed }
        return report
    }

    /// Entries of the checkpoint that are not weights (optimizer, epoch, args, …), by name.
    static func notWeights(_ m: LoadedModel) -> [String] {
        var out: [String] = []
        if let root = m.source.root?.asDict, let top = m.source.select.first {
            for k in root.keys.compactMap(\.asString) where k != top { out.append(k) }
        }
        return out + m.source.ignored.map { "\(m.source.select.joined(separator: ".")).\($0.name)" }
    }

    /// Creates `dir` (and its parents), or says plainly why not.
    static func createFolder(_ dir: String, what: String) throws {
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw FormatError(.io, file: dir, "cannot create the \(what): \(SystemErrorText.phrase(of: error))")
        }
    }

    static func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }
}
