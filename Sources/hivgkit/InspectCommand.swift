import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import HiVGCore
import HiVGFormats

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show what a checkpoint holds: format, container structure, module tree and tensors.",
        discussion: "Reads only the directory and the pickle; tensor bytes are never touched. Nothing in the file is executed.")

    @Argument(help: "A .pth/.bin/.pt file, a safetensors file, an ONNX model, or a Hugging Face folder.")
    var path: String

    @OptionGroup var read: ReadOptionGroup
    @OptionGroup var output: OutputOptionGroup

    @Flag(help: "List every tensor.")
    var tensors = false

    @Option(help: ArgumentHelp("Only tensors whose name matches this glob (implies --tensors).", valueName: "GLOB"))
    var filter: String?

    @Flag(help: "Read every listed tensor and show the SHA-256 of its bytes (contiguous, little-endian).")
    var hash = false

    @Option(help: "Depth of the module-tree summary (dotted name components).")
    var depth = 2

    @Flag(help: "Print every name whole even on a terminal (in a pipe or a file they always are).")
    var wide = false

    func validate() throws {
        if depth < 1 { throw ValidationError("--depth must be at least 1") }
    }

    func run() throws {
        try InspectRun(path: path, readOptions: read.readOptions, json: output.json, quiet: output.quiet, tensors: tensors,
                       filter: filter, hash: hash, depth: depth, wide: wide).run()
    }

    /// `hivgkit inspect FILE` with no option, the most common call, skips the argument parser (a
    /// noticeable part of a short command's time): returns when `arguments` are anything else.
    static func runIfPlain(_ arguments: [String]) {
        guard arguments.count == 3, arguments[1] == "inspect" else { return }
        let path = arguments[2]
        guard !path.isEmpty, !path.hasPrefix("-"), path != "help" else { return }
        do {
            try InspectRun(path: path, readOptions: ReadOptions(), json: false, quiet: false, tensors: false, filter: nil,
                           hash: false, depth: 2).run()
        } catch {
            HiVGKitCommand.exit(withError: error)
        }
        Glibc.exit(0)
    }
}

/// The work of `inspect`, on plain values.
struct InspectRun {
    var path: String
    var readOptions: ReadOptions
    var json: Bool
    var quiet: Bool
    var tensors: Bool
    var filter: String?
    var hash: Bool
    var depth: Int
    var wide = false

    func run() throws {
        if ONNXModelFile.looksLikeONNX(path: path) {
            return try InspectONNX(path: path, json: json, tensors: tensors || filter != nil || hash, filter: filter, hash: hash).run()
        }
        try reportingErrors {
            let c = try CheckpointReader.read(path, options: readOptions)
            let matches: ((String) -> Bool)? = filter.map { f in { fnmatch(f, $0, 0) == 0 } }
            var hashes: [String: String] = [:]
            if hash {
                let listed = c.graph.entries.filter { matches?($0.name) ?? true }
                let progress = Progress(label: "hashing", total: listed.reduce(0) { $0.saturatingAdd($1.tensor.nbytes) }, quiet: quiet)
                for (n, t) in listed {
                    hashes[n] = try t.withContiguousBytes(name: n) { SHA256.hex($0) }
                    progress.advance(by: t.nbytes, item: n)
                }
                progress.finish()
            }
            let report = InspectReport(c, filter: matches, hashes: hashes, depth: depth)
            if json {
                // The listings are written record by record (a million tensors are never one document in memory).
                var head = report
                head.tensors = LazyRecords(count: 0) { _ in fatalError("empty") }
                head.modules = LazyRecords(count: 0) { _ in fatalError("empty") }
                head.metadata = [:]
                try printJSON(report: head, streaming: [
                    StreamedMember(key: "tensors", count: report.tensors.count, element: { report.tensors.element($0).json },
                                   write: { report.tensors.element($0).write(to: &$1) }),
                    StreamedMember(key: "modules", count: report.modules.count, element: { report.modules.element($0).json },
                                   write: { report.modules.element($0).write(to: &$1) }),
                    StreamedMember(key: "metadata", object: report.metadata),
                ])
            } else {
                Console.print(report.lines(width: wide ? nil : Console.terminalWidth, listTensors: tensors || filter != nil || hash))
            }
            // Nothing is left to write: skip freeing the parsed container tree (a sixth of the run).
            fflush(nil)
            Glibc.exit(0)
        }
    }
}
