import Foundation
import HiVGCore

/// Where an output's weights came from: the one provenance record every writer stores (safetensors
/// and `.pth` metadata `hivgkit.provenance`, the `.hivgw` manifest, GGUF KV), with one spelling of
/// each key: `sources` (`file`, `bytes`, `sha256`), `stages_merged`, `quantization` (`scheme`,
/// `settings`), `verification`, `tool`, `dtype`, `layout`.
public struct Provenance: Codable, Equatable, Sendable {
    public struct Source: Codable, Equatable, Sendable {
        public var file: String
        public var bytes: Int
        /// 64 lower-case hex digits (a placeholder of zeros until known: see `NativeWriter.finish`).
        public var sha256: String
        public init(file: String, bytes: Int, sha256: String) {
            self.file = file; self.bytes = bytes; self.sha256 = sha256
        }
    }

    public struct Quantization: Codable, Equatable, Sendable {
        public var scheme: String
        /// Other settings (keep / only globs, fallbacks…), by name.
        public var settings: [String: String]
        public init(scheme: String, settings: [String: String] = [:]) {
            self.scheme = scheme; self.settings = settings
        }
    }

    public var sources: [Source]
    /// Checkpoints of the training run merged in stage order (the output is the merge of the last).
    public var stagesMerged: Int
    public var quantization: Quantization?
    /// Verification figures by name (e.g. worst relative RMS error of the quantized tensors).
    public var verification: [String: Double]
    /// `hivgkit 0.1.0`.
    public var tool: String
    /// Output encoding: `f32`, `f16`, `bf16`, `source`, or the scheme.
    public var dtype: String
    public var layout: String

    public init(sources: [Source] = [], stagesMerged: Int = 0, quantization: Quantization? = nil, verification: [String: Double] = [:],
                tool: String = "", dtype: String = "", layout: String = "") {
        self.sources = sources
        self.stagesMerged = stagesMerged
        self.quantization = quantization
        self.verification = verification
        self.tool = tool
        self.dtype = dtype
        self.layout = layout
    }

    enum CodingKeys: String, CodingKey {
        case sources, quantization, verification, tool, dtype, layout
        case stagesMerged = "stages_merged"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sources = try c.decodeIfPresent([Source].self, forKey: .sources) ?? []
        stagesMerged = try c.decodeIfPresent(Int.self, forKey: .stagesMerged) ?? 0
        quantization = try c.decodeIfPresent(Quantization.self, forKey: .quantization)
        verification = try c.decodeIfPresent([String: Double].self, forKey: .verification) ?? [:]
        tool = try c.decodeIfPresent(String.self, forKey: .tool) ?? ""
        dtype = try c.decodeIfPresent(String.self, forKey: .dtype) ?? ""
        layout = try c.decodeIfPresent(String.self, forKey: .layout) ?? ""
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(sources, forKey: .sources)
        try c.encode(stagesMerged, forKey: .stagesMerged)
        try c.encodeIfPresent(quantization, forKey: .quantization)
        if !verification.isEmpty { try c.encode(verification, forKey: .verification) }
        try c.encode(tool, forKey: .tool)
        try c.encode(dtype, forKey: .dtype)
        try c.encode(layout, forKey: .layout)
    }

    /// The record as JSON (sorted keys; verification figures stay floats, non-finite ones as strings).
    public var json: String { (try? JSONValueEncoder().encode(self).rendered()) ?? "{}" }

    /// Sources with their sizes and a placeholder hash of the final width (64 hex digits).
    public static func placeholders(_ files: [String]) -> [Source] {
        files.map { path in
            var st = stat()
            let size = stat(path, &st) == 0 ? Int(st.st_size) : 0
            return Source(file: (path as NSString).lastPathComponent, bytes: size, sha256: String(repeating: "0", count: 64))
        }
    }
}
