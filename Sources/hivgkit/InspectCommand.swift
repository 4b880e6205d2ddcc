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

    func validate() throws {
        if depth < 1 { throw ValidationError("--depth must be at least 1") }
    }

    func run() throws {
        try InspectRun(path: path, readOptions: read.readOptions, json: output.json, quiet: output.quiet, tensors: tensors,
                       filter: filter, hash: hash, depth: depth).run()
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
    /// Module lines in the text summary (a file of a million top-level names would print a million).
    static let maxModuleLines = 200

    var path: String
    var readOptions: ReadOptions
    var json: Bool
    var quiet: Bool
    var tensors: Bool
    var filter: String?
    var hash: Bool
    var depth: Int

    func run() throws {
        if ONNXModelFile.looksLikeONNX(path: path) {
            return try InspectONNX(path: path, json: json, tensors: tensors || filter != nil || hash, filter: filter, hash: hash).run()
        }
        try reportingErrors {
            let c = try CheckpointReader.read(path, options: readOptions)
            // Without a filter, no second list (a quarter million entries cost ~14 MB a list).
            let listed = filter.map { f in c.graph.entries.filter { fnmatch(f, $0.name, 0) == 0 } } ?? c.graph.entries
            var hashes: [String: String] = [:]
            if hash {
                let progress = Progress(label: "hashing", total: listed.reduce(0) { $0.saturatingAdd($1.tensor.nbytes) }, quiet: quiet)
                for (n, t) in listed {
                    hashes[n] = try t.withContiguousBytes(name: n) { SHA256.hex($0) }
                    progress.advance(by: t.nbytes, item: n)
                }
                progress.finish()
            }
            if json {
                try JSONText.print(jsonReport(c, listed, hashes))
            } else {
                print(textReport(c, listed, hashes))
            }
            // Nothing is left to write: skip freeing the parsed container tree (a sixth of the run).
            fflush(nil)
            Glibc.exit(0)
        }
    }

    private func structure(_ c: Checkpoint) -> [(key: String, type: String, value: PickleValue?)] {
        guard let root = c.root, let d = root.asDict, c.format != "torchscript" else { return [] }
        return d.entries.map { k, v in (k.asString ?? k.summary(maxLength: 40), v.typeName, v) }
    }

    private func jsonReport(_ c: Checkpoint, _ listed: [(name: String, tensor: Tensor)], _ hashes: [String: String]) -> [String: Any] {
        var out: [String: Any] = [
            "path": c.path,
            "format": c.format,
            "select": c.select,
            "metadata": c.graph.metadata,
            "tensor_count": c.graph.count,
            "parameters": c.graph.parameterCount,
            "bytes": c.graph.byteCount,
            "tensors": JSONLazyArray(count: listed.count) { i -> [String: Any] in
                let e = listed[i]
                var d: [String: Any] = ["name": e.name, "dtype": e.tensor.dtype.rawValue, "shape": e.tensor.shape, "nbytes": e.tensor.nbytes]
                if let h = hashes[e.name] { d["sha256"] = h }
                return d
            },
            "modules": { () -> JSONLazyArray in
                let modules = c.graph.moduleSummary(depth: depth)
                return JSONLazyArray(count: modules.count) { i in
                    let m = modules[i]
                    return ["prefix": m.prefix, "tensors": m.tensors, "parameters": m.parameters, "bytes": m.bytes, "dtypes": m.dtypes.sorted()]
                }
            }(),
            "ignored": c.ignored.map { ["name": $0.name, "type": $0.type] },
            "encoded": c.encoded.filter { e in filter.map { fnmatch($0, e.name, 0) == 0 } ?? true }.map {
                ["name": $0.name, "encoding": $0.scheme, "shape": $0.shape, "nbytes": $0.source.byteCount] as [String: Any]
            },
        ]
        out["structure"] = structure(c).map { e -> [String: Any] in
            var d: [String: Any] = ["key": e.key, "type": e.type]
            if let v = e.value { d["value"] = v.jsonScalar }
            return d
        }
        if let cfg = c.configJSON { out["config"] = (try? JSONSerialization.jsonObject(with: Data(cfg.utf8))) ?? cfg }
        return out
    }

    private func textReport(_ c: Checkpoint, _ listed: [(name: String, tensor: Tensor)], _ hashes: [String: String]) -> String {
        var lines: [String] = []
        lines.append("\(c.path): \(c.format)")
        let s = structure(c)
        if !s.isEmpty {
            lines.append("")
            lines.append("contents:")
            let w = s.map(\.key.count).max() ?? 0
            for e in s {
                let isSelected = c.select.first == e.key
                let detail: String
                if isSelected, c.select.count == 1 { detail = "state dict, \(c.graph.count) tensors" }
                else if let v = e.value, case .dict(let d) = v { detail = "\(e.type), \(d.count) entries" }
                else { detail = e.value?.summary(maxLength: 200) ?? e.type }
                lines.append("  " + e.key.padding(toLength: w, withPad: " ", startingAt: 0) + "  " + detail)
            }
        }
        if !c.select.isEmpty { lines.append("state dict: \(c.select.joined(separator: "."))") }
        if !c.graph.metadata.isEmpty {
            lines.append("")
            lines.append("metadata:")
            for k in c.graph.metadata.keys.sorted() {
                let v = c.graph.metadata[k]!
                lines.append("  \(k): \(v.count > 120 ? String(v.prefix(119)) + "…" : v)")
            }
        }
        let dtypes = Dictionary(grouping: c.graph.entries, by: { $0.tensor.dtype.rawValue }).mapValues(\.count)
        lines.append("")
        lines.append("\(c.graph.count) tensors, \(humanCount(c.graph.parameterCount)) parameters, \(humanBytes(c.graph.byteCount)) ("
            + dtypes.keys.sorted().map { "\($0) ×\(dtypes[$0]!)" }.joined(separator: ", ") + ")")
        let modules = c.graph.moduleSummary(depth: depth)
        if !modules.isEmpty {
            lines.append("")
            let w = min(70, modules.prefix(InspectRun.maxModuleLines).map(\.prefix.count).max() ?? 0)
            for m in modules.prefix(InspectRun.maxModuleLines) {
                lines.append("  " + m.prefix.padding(toLength: w, withPad: " ", startingAt: 0)
                    + "  " + String(m.tensors).leftPad(5) + " tensors  " + humanCount(m.parameters).leftPad(8)
                    + "  " + humanBytes(m.bytes).leftPad(9) + "  " + m.dtypes.sorted().joined(separator: ","))
            }
            if modules.count > InspectRun.maxModuleLines {
                lines.append("  … \(modules.count - InspectRun.maxModuleLines) more modules (--json lists them all)")
            }
        }
        if tensors || filter != nil || hash {
            lines.append("")
            let w = min(90, listed.map(\.name.count).max() ?? 0)
            for (n, t) in listed {
                lines.append("  " + n.padding(toLength: w, withPad: " ", startingAt: 0) + "  " + t.dtype.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)
                    + " " + "\(t.shape)" + (hashes[n].map { "  " + $0 } ?? ""))
            }
        }
        if !c.encoded.isEmpty {
            let schemes = Dictionary(grouping: c.encoded, by: \.scheme).mapValues(\.count)
            lines.append("")
            lines.append("\(c.encoded.count) block-quantized tensors, \(humanBytes(c.encoded.reduce(0) { $0.saturatingAdd($1.source.byteCount) })) ("
                + schemes.keys.sorted().map { "\($0) ×\(schemes[$0]!)" }.joined(separator: ", ") + ")")
            if tensors || filter != nil {
                for e in c.encoded where filter.map({ fnmatch($0, e.name, 0) == 0 }) ?? true {
                    lines.append("  \(e.name)  \(e.scheme)  \(e.shape)")
                }
            }
        }
        if !c.ignored.isEmpty {
            lines.append("")
            lines.append("not tensors (ignored): " + c.ignored.map { "\($0.name) (\($0.type))" }.joined(separator: ", "))
        }
        // Names, keys and strings come from the file: each line is printed with its control
        // characters escaped (a newline in a name cannot forge a line) and cut to a sane length.
        return lines.map { TerminalText.needsEscaping($0) ? TerminalText.escaped($0) : $0 }.joined(separator: "\n")
    }
}

/// `String(format: "%.1f", v)` for 0 ≤ v < 2^50 (`humanBytes`/`humanCount` use it: the `CVarArg` casts of
/// `String(format:)` cost the inspect report more than everything else in it): the exact binary value rounded to one decimal,
/// ties to even, as C's printf does. nil outside that range.
func oneDecimal(_ v: Double) -> String? {
    guard v >= 0, v < 0x1p50 else { return nil }
    if v == 0 { return "0.0" }
    guard v.isNormal else { return nil }
    // v = m · 2^e exactly; tenths = round-half-even(10 · m · 2^e).
    let m = v.significandBitPattern | (1 << 52)
    let e = Int(v.exponent) - 52
    guard e < 0, e > -64 else { return nil }  // e ≤ -3 below 2^50
    let s = UInt64(-e), x = 10 * m  // < 2^57
    var tenths = x >> s
    let rest = x & ((1 << s) - 1), half = UInt64(1) << (s - 1)
    if rest > half || (rest == half && tenths & 1 == 1) { tenths += 1 }
    return String(tenths / 10) + "." + String(tenths % 10)
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
