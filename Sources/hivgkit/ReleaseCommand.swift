import ArgumentParser
import Foundation
import HiVGFormats
import HiVGForward
import HiVGModel
import HiVGRelease

struct ReleaseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "release",
        abstract: "From a run's checkpoints (or several runs, one per dataset) to a folder ready to publish.",
        discussion: """
        Checkpoints are split into training runs (a base CLIP, a stage that does not follow the previous one, or \
        another dataset starts a run); each run's last checkpoint is merged and written in every format × scheme \
        asked for, each verified against its source, as DIR/{stage}-{dataset}/… . DIR gets a README.md with one \
        table (size, SHA-256, verification NMSE, box IoU), SHA256SUMS and release.json. A re-run skips outputs \
        whose recorded sources and settings match and modifies no file; a format that cannot hold a scheme is \
        skipped with the reason. See docs/release.md.
        """)

    @Argument(help: "Checkpoints, each run in stage order.")
    var paths: [String]

    @Option(name: .shortAndLong, help: "The release folder (created; its parent must exist).")
    var output: String

    @Option(help: "Formats, comma-separated: safetensors, hf-hivg, hivgw, gguf, onnx, pth.")
    var formats = "safetensors,hf-hivg"

    @Option(help: "Schemes, comma-separated: f32, f16, bf16 or a quantization scheme (q8_0, q4_k, int8, …).")
    var schemes = "f32"

    @Option(name: .customLong("verify-samples"), help: "Synthetic samples of each output's verification (at most 256).")
    var verifySamples = 2

    @Option(help: "A date printed in the README and recorded in release.json (none by default: reruns stay byte-identical); letters, digits, spaces and - : . / + , only.")
    var date: String?

    @Flag(name: .customLong("dry-run"), help: "Print the plan and write nothing.")
    var dryRun = false

    @Option(help: "Threads (default: all cores; the bytes do not depend on it).")
    var threads: Int?

    @OptionGroup var read: ReadOptionGroup
    @OptionGroup var model: ModelOptionGroup
    @OptionGroup var out: OutputOptionGroup
    @OptionGroup var hashCache: HashCacheOptionGroup

    func validate() throws {
        if !(1 ... ReleaseSettings.maxVerifySamples).contains(verifySamples) {
            throw ValidationError("--verify-samples must be between 1 and \(ReleaseSettings.maxVerifySamples), not \(verifySamples)")
        }
        if let threads, threads <= 0 { throw ValidationError("--threads must be positive") }
        do { try settings().validate() } catch let e as ReleaseError { throw ValidationError(e.description) }
    }

    func settings() throws -> ReleaseSettings {
        let fs = try formats.split(separator: ",", omittingEmptySubsequences: false).map { name in
            guard let f = OutputFormat(rawValue: String(name)) else { throw ValidationError("unknown format `\(name)` in --formats") }
            return f
        }
        let es = try schemes.split(separator: ",", omittingEmptySubsequences: false).map { t in
            do { return try ReleaseEncoding.parse(String(t)) } catch let e as ReleaseError { throw ValidationError(e.description) }
        }
        var s = ReleaseSettings(formats: fs, encodings: es, tool: "hivgkit \(HiVGKitVersion.string)")
        s.verifySamples = verifySamples
        s.date = date
        s.useHashCache = !hashCache.noHashCache
        s.threads = threads ?? ProcessInfo.processInfo.activeProcessorCount
        s.modelOptions = ReleaseSettings.modelOptions(try model.overrides(), base: model.base, select: read.select,
                                                      allowedGlobals: read.allowGlobal)
        return s
    }

    func run() throws {
        try reportingErrors {
            do {
                let overrides = try model.overrides()
                let loaded = try paths.map { try ModelLoader.load($0, read: read.readOptions, overrides: overrides, base: model.base) }
                let release = try Release(models: try ReleaseModel.group(loaded), settings: try settings(), dir: output)
                let report = dryRun ? release.dryRunReport : try execute(release)
                if out.json { try printJSON(report: report) } else { report.lines.forEach { print($0) } }
            } catch let e as ReleaseError {
                FileHandle.standardError.write(Data(("hivgkit: error: " + TerminalText.escaped(e.description, limit: 4000) + "\n").utf8))
                if case .usage = e { throw ExitCode(64) }
                throw ExitCode(1)
            }
        }
    }

    /// Runs the release with a progress line per output. HIVGKIT_RELEASE_KILL_AFTER=N (a test hook,
    /// docs/release.md) ends the process with SIGKILL once N outputs are finished and recorded.
    private func execute(_ release: Release) throws -> ReleaseReport {
        let progress = Progress(label: "releasing", total: release.plan.writes.count, quiet: out.quiet || out.json)
        let killAfter = ProcessInfo.processInfo.environment["HIVGKIT_RELEASE_KILL_AFTER"].flatMap { Int($0) }
        var done = 0
        let report = try release.run(started: { e, _, _ in progress.advance(by: 0, item: e.path) }, finished: { e, _ in
            progress.advance(item: e.path)
            done += 1
            if done == killAfter { kill(getpid(), SIGKILL) }
        })
        progress.finish()
        return report
    }
}
