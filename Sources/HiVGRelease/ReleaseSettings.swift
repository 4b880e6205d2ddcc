import Foundation
import HiVGCore
import HiVGFormats
import HiVGModel

/// One `--schemes` entry: a plain dtype (`f32`, `f16`, `bf16`) or a quantization scheme of the
/// scheme table. Which `WriteRequest` it becomes depends on the format (`encoding(for:)`).
public struct ReleaseEncoding: Hashable, Sendable, CustomStringConvertible {
    /// The spelling given (`f32`, `q8_0`…), also the file-name part of every output it names.
    public let token: String

    /// The plain dtypes a release names beside the schemes.
    public static let plainTokens = ["f32", "f16", "bf16"]
    /// Every token `--schemes` takes, in the scheme table's order after the plain dtypes.
    public static var allTokens: [String] { plainTokens + QuantScheme.allCases.map(\.rawValue).filter { !plainTokens.contains($0) } }

    /// The entry for `token`, or a message listing the accepted ones.
    public static func parse(_ token: String) throws -> ReleaseEncoding {
        guard allTokens.contains(token) else {
            throw ReleaseError.usage("unknown scheme `\(token)`: give one of \(allTokens.joined(separator: ", "))")
        }
        return ReleaseEncoding(token: token)
    }

    /// The token.
    public var description: String { token }

    /// How `format` writes this entry: a plain dtype for every format that writes plain tensors (f16
    /// and bf16 alike, so a row "f16" means every floating-point tensor in F16 whatever the format),
    /// the scheme where the format takes f16 only as a scheme (ONNX), or why the format cannot hold it.
    public func encoding(for format: OutputFormat) -> Result<(scheme: QuantScheme?, dtype: DType?), ReleaseSkip> {
        switch token {
        case "f32": return .success((nil, .f32))
        case "f16", "bf16":
            if format == .onnx {
                let s = QuantScheme(rawValue: token)!
                if let p = format.problem(with: s) { return .failure(ReleaseSkip(reason: p)) }
                return .success((s, nil))
            }
            return .success((nil, token == "f16" ? .f16 : .bf16))
        default:
            let s = QuantScheme(rawValue: token)!
            if let p = format.problem(with: s) { return .failure(ReleaseSkip(reason: p)) }
            return .success((s, nil))
        }
    }
}

/// Why one format × scheme combination is not written.
public struct ReleaseSkip: Error, Equatable, Sendable {
    /// The writer's own words (`OutputFormat.problem(with:)`).
    public var reason: String
}

/// What a release is made with: formats, schemes, verification, the model options given, the tool.
/// Everything here that shapes an output is recorded per output (`ReleaseItemSettings`), so a change
/// redoes exactly the outputs it touches.
public struct ReleaseSettings: Sendable {
    /// `--verify-samples` at most. Verification synthesises every sample at once (3·S² floats each:
    /// 0.6 MB at 224 pixels), so the bound keeps an absurd count a usage error rather than a failed
    /// allocation half-way through a release. The same bound as `verify --samples`
    /// (`Verify.maxSyntheticSamples`, which the synthesis itself enforces; a test keeps them equal).
    public static let maxVerifySamples = 256
    /// `--date` at most, in characters.
    public static let maxDateLength = 64

    /// `--formats` default.
    public static let defaultFormats: [OutputFormat] = [.safetensors, .hfHiVG]
    /// `--schemes` default.
    public static let defaultEncodings = [ReleaseEncoding(token: "f32")]

    /// `--formats`, in the order outputs are written.
    public var formats: [OutputFormat]
    /// `--schemes`, in the order given.
    public var encodings: [ReleaseEncoding]
    /// Synthetic samples of each output's verification (seed 0).
    public var verifySamples = 2
    /// The model options as given (`--config` by its content's SHA-256), by option name.
    public var modelOptions: [String: String] = [:]
    /// `hivgkit 0.1.0`.
    public var tool: String
    /// Printed in the README and recorded in the manifest only when given (`--date`).
    public var date: String?
    /// Hashes of unchanged files from the hash cache (`--no-hash-cache`: off).
    public var useHashCache = true
    /// Quantizer and forward threads (the bytes do not depend on it).
    public var threads = ProcessInfo.processInfo.activeProcessorCount

    public init(formats: [OutputFormat] = defaultFormats, encodings: [ReleaseEncoding] = defaultEncodings, tool: String) {
        self.formats = formats
        self.encodings = encodings
        self.tool = tool
    }

    /// Refuses what cannot make a sensible release: repeated entries, hf-clip (it leaves the bridges
    /// and head out, so its verification would not be of what it holds), and a scheme that none of the
    /// formats asked for can hold (a combination only some formats refuse is skipped with its reason).
    public func validate() throws {
        guard (1 ... Self.maxVerifySamples).contains(verifySamples) else {
            throw ReleaseError.usage("--verify-samples \(verifySamples): must be from 1 to \(Self.maxVerifySamples)")
        }
        if let date, let problem = Self.dateProblem(date) {
            throw ReleaseError.usage("--date `\(TerminalText.escaped(date, limit: 80))`: \(problem)")
        }
        if formats.isEmpty || encodings.isEmpty { throw ReleaseError.usage("--formats and --schemes need at least one entry each") }
        for (name, list) in [("--formats", formats.map(\.rawValue)), ("--schemes", encodings.map(\.token))] {
            if let d = Dictionary(grouping: list, by: { $0 }).first(where: { $0.value.count > 1 }) {
                throw ReleaseError.usage("\(name) names \(d.key) twice")
            }
        }
        if formats.contains(.hfCLIP) {
            throw ReleaseError.usage("hf-clip leaves the bridges and the grounding head out: release --formats hf-hivg for the whole model")
        }
        for e in encodings where formats.allSatisfy({ (try? e.encoding(for: $0).get()) == nil }) {
            let takers = OutputFormat.allCases.filter { $0 != .hfCLIP && (try? e.encoding(for: $0).get()) != nil }.map(\.rawValue)
            throw ReleaseError.usage("no format asked for holds \(e.token) (\(formats.map(\.rawValue).joined(separator: ", "))); "
                                     + "formats that do: \(takers.joined(separator: ", "))")
        }
    }

    /// Why `date` cannot be printed in the README as given, or nil: it goes into Markdown and
    /// release.json verbatim, so only a plain date-like string is taken (ASCII letters, digits, spaces
    /// and `- : . / + ,`; no newline, escape or table bar).
    static func dateProblem(_ date: String) -> String? {
        if date.isEmpty { return "is empty" }
        if date.unicodeScalars.count > maxDateLength { return "is longer than \(maxDateLength) characters" }
        let allowed = Set("-:./+, ".unicodeScalars)
        let plain = date.unicodeScalars.allSatisfy {
            ("0" ... "9").contains($0) || ("a" ... "z").contains($0) || ("A" ... "Z").contains($0) || allowed.contains($0)
        }
        return plain ? nil : "must be a plain date (ASCII letters, digits, spaces and - : . / + ,)"
    }

    /// The model and read options as the manifest records them (what was given, nothing else): a
    /// different `--select` or `--allow-global` can read other weights from the same files.
    public static func modelOptions(_ o: ConfigOverrides, base: String?, select: String? = nil, allowedGlobals: [String] = []) -> [String: String] {
        var d: [String: String] = [:]
        if let select { d["select"] = select }
        if !allowedGlobals.isEmpty { d["allow_global"] = allowedGlobals.sorted().joined(separator: ",") }
        if let v = o.textHeads { d["text_heads"] = String(v) }
        if let v = o.visionHeads { d["vision_heads"] = String(v) }
        if let v = o.vlHeads { d["vl_heads"] = String(v) }
        if let v = o.adaptiveWeights { d["adaptive"] = String(v) }
        if let v = o.mixup { d["mixup"] = String(v) }
        if let v = o.loraAlpha { d["lora_alpha"] = String(v) }
        if let t = o.configJSON { d["config_sha256"] = SHA256.hex(Array(t.utf8)) }
        if let base { d["base"] = (base as NSString).lastPathComponent }
        return d
    }
}

/// A release that cannot start (usage, exit 64) or an output that failed (exit 1, naming it).
public enum ReleaseError: Error, CustomStringConvertible, Sendable {
    case usage(String)
    case data(String)
    /// One output failed; the outputs finished before it are kept and recorded.
    case itemFailed(item: String, reason: String)

    /// The message (no "error:" prefix).
    public var description: String {
        switch self {
        case let .usage(s), let .data(s): return s
        case let .itemFailed(item, reason): return "\(item): \(reason) (finished outputs are kept; run again to resume)"
        }
    }
}
