import Foundation
import HiVGCore
import HiVGExport
import HiVGFormats
import HiVGModel
import HiVGPipeline

/// What a release run did (or, with `--dry-run`, would do): the plan, the outputs recorded after it,
/// and whether each top-level file was written or left as it was.
public struct ReleaseReport: Codable, Sendable {
    /// The release folder as given.
    public var dir: String
    /// True for `--dry-run`: nothing was written.
    public var dryRun: Bool
    /// The models with their checkpoints' hashes.
    public var models: [ReleaseModelRecord]
    /// Every combination with its action and reason, and the outputs removed.
    public var plan: ReleasePlan
    /// The manifest's outputs after the run (the previous ones with `--dry-run`).
    public var items: [ReleaseItemRecord]
    /// `README.md`, `release.json`, `SHA256SUMS` → `written` or `unchanged` (empty with `--dry-run`).
    public var topLevel: [String: String]

    enum CodingKeys: String, CodingKey {
        case dir, models, plan, items
        case dryRun = "dry_run"
        case topLevel = "top_level"
    }
}

/// A release of models into one folder: planned against the folder's manifest when made, run by
/// `run`. Each output is written through `WritePipeline` with verification, recorded in
/// `release.json` as soon as it is finished (so a killed run resumes from there), and the README and
/// `SHA256SUMS` are generated last from the records. `SHA256SUMS` is the seal: it is removed before
/// a run changes anything and written only when every output is done.
public final class Release {
    /// The release folder.
    public let dir: String
    /// The models to publish (runs of checkpoints).
    public let models: [ReleaseModel]
    /// Formats, schemes and the rest.
    public let settings: ReleaseSettings
    /// The models with their checkpoints' sizes and SHA-256 (hashed when planned).
    public let modelRecords: [ReleaseModelRecord]
    /// The folder's `release.json` before this run, if any.
    public let previous: ReleaseManifest?
    /// What `run` does.
    public let plan: ReleasePlan

    /// Hashes the sources, reads the folder's manifest and plans. Refuses a folder that holds files
    /// but no manifest (not a release folder: its files would be published with the release).
    public init(models: [ReleaseModel], settings: ReleaseSettings, dir: String) throws {
        try settings.validate()
        self.dir = dir
        self.models = models
        self.settings = settings
        var records: [ReleaseModelRecord] = []
        for m in models {
            var stages: [ReleaseStageRecord] = []
            for (c, member) in zip(m.checkpoints, m.members) {
                for f in c.source.files {
                    let s = try SourceHashCache.describe(f, useCache: settings.useHashCache)
                    stages.append(ReleaseStageRecord(file: s.file, stage: member.label, bytes: s.bytes, sha256: s.sha256))
                }
            }
            records.append(ReleaseModelRecord(name: m.name, architecture: m.last.config.architecture, dataset: m.last.config.dataset, stages: stages))
        }
        modelRecords = records
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) {
            guard isDir.boolValue else { throw ReleaseError.data("\(dir): the output is a file, not a folder") }
            previous = try ReleaseManifest.read(in: dir)
            if previous == nil, let first = try ReleaseFiles.list(dir).first {
                throw ReleaseError.data("\(dir): holds files (\(first)…) but no \(ReleaseManifest.fileName): not a release folder; give a new or empty one")
            }
        } else {
            previous = nil
        }
        plan = try ReleasePlan.make(models: records, settings: settings, previous: previous, in: dir)
    }

    /// The report of a dry run: the plan, nothing written.
    public var dryRunReport: ReleaseReport {
        ReleaseReport(dir: dir, dryRun: true, models: modelRecords, plan: plan, items: previous?.items ?? [], topLevel: [:])
    }

    /// Writes the planned outputs in order, then the manifest, README and `SHA256SUMS` (each only when
    /// its content changes). A failing output ends the run with `ReleaseError.itemFailed` naming it;
    /// the ones finished before stay written and recorded.
    public func run(started: (ReleasePlanEntry, Int, Int) -> Void = { _, _, _ in },
                    finished: (ReleasePlanEntry, ReleaseItemRecord) -> Void = { _, _ in }) throws -> ReleaseReport {
        let writes = plan.writes
        let upToDate = Set(plan.entries.filter { $0.action == .upToDate }.map(\.key))
        var records = (previous?.items ?? []).filter { upToDate.contains($0.key) }
        var manifestWritten = false  // also by the records written as outputs finish
        try createFolder(dir)
        if !writes.isEmpty || !plan.removed.isEmpty {
            try? FileManager.default.removeItem(atPath: path(ReleaseFiles.sumsName))
            let gone = Set(plan.removed)
            ReleaseFiles.remove((previous?.items ?? []).filter { gone.contains($0.path) }.flatMap { $0.files.map(\.path) }, in: dir)
            manifestWritten = try ReleaseFiles.writeIfChanged(try manifest(records).rendered(), to: path(ReleaseManifest.fileName))
        }
        if !writes.isEmpty { try LinearAlgebra.prepare() }  // before the source hasher's thread starts
        for (i, e) in writes.enumerated() {
            started(e, i, writes.count)
            let record: ReleaseItemRecord
            do { record = try write(e) } catch {
                throw ReleaseError.itemFailed(item: e.label, reason: String(describing: error))
            }
            records.removeAll { $0.key == record.key }
            records.append(record)
            manifestWritten = try ReleaseFiles.writeIfChanged(try manifest(records).rendered(), to: path(ReleaseManifest.fileName))
                || manifestWritten
            finished(e, record)
        }
        let final = manifest(records)
        var top: [String: String] = [:]
        func note(_ name: String, _ written: Bool) { top[name] = written ? "written" : "unchanged" }
        note(ReleaseManifest.fileName, try ReleaseFiles.writeIfChanged(try final.rendered(), to: path(ReleaseManifest.fileName)) || manifestWritten)
        note(ReleaseFiles.readmeName, try ReleaseFiles.writeIfChanged(ReleaseReadme.text(final), to: path(ReleaseFiles.readmeName)))
        let listed = try ReleaseFiles.list(dir).filter { $0 != ReleaseFiles.sumsName }
        let sums = try ReleaseFiles.sums(try listed.map { try ReleaseFiles.record($0, relativeTo: dir, useCache: settings.useHashCache) })
        note(ReleaseFiles.sumsName, try ReleaseFiles.writeIfChanged(sums, to: path(ReleaseFiles.sumsName)))
        return ReleaseReport(dir: dir, dryRun: false, models: modelRecords, plan: plan, items: final.items, topLevel: top)
    }

    /// The manifest with `records` in plan order.
    func manifest(_ records: [ReleaseItemRecord]) -> ReleaseManifest {
        let order = Dictionary(plan.entries.enumerated().map { ($0.element.key, $0.offset) }, uniquingKeysWith: { a, _ in a })
        let sorted = records.sorted { (order[$0.key] ?? .max) < (order[$1.key] ?? .max) }
        let na = plan.entries.filter { $0.action == .notApplicable }.map {
            ReleaseNotApplicable(model: $0.model, format: $0.format, encoding: $0.encoding, reason: $0.reason)
        }
        return ReleaseManifest(tool: settings.tool, date: settings.date, models: modelRecords, items: sorted, notApplicable: na)
    }

    /// Writes, verifies and records one output.
    func write(_ e: ReleasePlanEntry) throws -> ReleaseItemRecord {
        guard let model = models.first(where: { $0.name == e.model }), let format = OutputFormat(rawValue: e.format),
              let record = modelRecords.first(where: { $0.name == e.model }) else { preconditionFailure("planned from these models") }
        let encoding = ReleaseEncoding(token: e.encoding)
        let written = try encoding.encoding(for: format).get()
        var request = WriteRequest(format: format, scheme: written.scheme, dtype: written.dtype)
        request.verify = true
        request.verifySamples = settings.verifySamples
        request.threads = settings.threads
        request.name = model.name
        request.folder.force = true  // a folder left half-written by a killed run is ours to replace
        if format == .onnx { request.onnx = ONNXExportOptions(vocabularySHA256: try CLIPTokenizer.bundled().vocabularySHA256) }
        try createFolder(path((e.path as NSString).deletingLastPathComponent))
        let outcome = try WritePipeline.run(model.last, request, to: path(e.path), stagesMerged: model.checkpoints.count,
                                            sources: model.sourceFiles, tool: settings.tool, useHashCache: settings.useHashCache)
        guard let v = outcome.verification else { preconditionFailure("a release verifies every output") }
        if outcome.result == nil {
            throw ReleaseError.data("outside the verification gate (\(v.report.gateReason)): worst NMSE "
                                    + ReleaseNumbers.scientific(v.report.worstGated?.nmse ?? .nan) + "; nothing written")
        }
        let files = try ReleaseFiles.outputFiles(format: format, path: e.path, in: dir)
        let fileRecords = try files.map { try ReleaseFiles.record($0, relativeTo: dir, useCache: settings.useHashCache) }
        let before = previous?.items.first { $0.key == e.key }?.files.map(\.path) ?? []
        ReleaseFiles.remove(before.filter { !files.contains($0) }, in: dir)
        let primary = ReleaseFiles.isFolder(format)
            ? (files.first { $0.hasSuffix("/model.safetensors") } ?? files.first { $0.hasSuffix(".index.json") } ?? files[0]) : e.path
        return ReleaseItemRecord(model: e.model, format: e.format, encoding: e.encoding, path: e.path, primary: primary, files: fileRecords,
                                 sources: record.stages.map { Provenance.Source(file: $0.file, bytes: $0.bytes, sha256: $0.sha256) },
                                 settings: ReleasePlan.settings(settings, format: format, encoding: encoding, written: written),
                                 verification: ReleaseVerification(figures: v.figures, pass: v.report.pass))
    }

    private func path(_ relative: String) -> String { (dir as NSString).appendingPathComponent(relative) }

    /// Creates `folder` when missing (its parent must exist: a mistyped path is not created deep).
    private func createFolder(_ folder: String) throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: folder, isDirectory: &isDir) {
            if isDir.boolValue { return }
            throw ReleaseError.data("\(folder): a file is in the way of the release folder")
        }
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false) } catch {
            throw ReleaseError.data("\(folder): cannot create the folder (does its parent exist?)")
        }
    }
}
