import Foundation
import HiVGCore

/// `check --json`: whether a `.hivgw` or GGUF file is intact, and every finding.
public struct CheckReport: Codable, Sendable {
    /// One finding, or the error that stopped the check.
    public struct Finding: Codable, Sendable {
        /// A stable spelling of the failure (`native-checksum`, `io`, …); absent for GGUF layout findings.
        public var kind: String?
        public var message: String
        public var tensor: String?
        /// File offset.
        public var offset: Int?

        init(_ e: NativeFormatError) {
            kind = e.kind.rawValue
            message = e.message
            tensor = e.tensor
            offset = e.offset
        }

        init(kind: String?, message: String, tensor: String? = nil, offset: Int? = nil) {
            self.kind = kind
            self.message = message
            self.tensor = tensor
            self.offset = offset
        }
    }

    public var file: String
    public var ok: Bool
    /// `gguf` for GGUF files (absent for .hivgw).
    public var format: String?
    /// What stopped the check (a structural error); absent when the file could be walked.
    public var error: Finding?
    public var version: Int?
    public var tensors: Int?
    /// .hivgw: block-quantized tensors, the checksum algorithm, the damaged tensors and every failure.
    public var quantizedTensors: Int?
    public var bytesChecked: Int?
    public var checksum: String?
    public var damagedTensors: [String]?
    public var failures: [Finding]?
    /// GGUF: KV pairs, alignment and the layout findings.
    public var kv: Int?
    public var alignment: Int?
    public var findings: [Finding]?
    /// GGUF: tensor counts by ggml type, most frequent first (`F32 200, Q8_0 369`; text report only).
    public var typeSummary: String?

    enum CodingKeys: String, CodingKey {
        case file, ok, format, error, version, tensors, checksum, failures, kv, alignment, findings
        case quantizedTensors = "quantized_tensors", bytesChecked = "bytes_checked", damagedTensors = "damaged_tensors"
    }

    /// A .hivgw file whose structure could not be read.
    public init(file: String, structural e: NativeFormatError) {
        self.file = file
        ok = false
        error = Finding(e)
    }

    /// A .hivgw file walked to the end.
    public init(file: String, opened f: NativeFile, verification v: NativeFile.Verification) {
        self.file = file
        ok = v.ok
        version = Int(NativeFormat.version)
        tensors = f.manifest.tensors.count
        quantizedTensors = f.quantized.count
        bytesChecked = v.bytesChecked
        checksum = NativeFormat.checksumAlgorithm
        damagedTensors = v.damagedTensors
        failures = v.failures.map(Finding.init)
    }

    /// A GGUF file the reader refused (`FormatError`).
    public init(file: String, ggufError e: FormatError) {
        self.file = file
        ok = false
        format = "gguf"
        error = Finding(kind: e.kind.rawValue, message: e.description)
    }

    /// A GGUF file checked to the end.
    public init(file: String, gguf c: GGUFCheck) {
        self.file = file
        ok = c.ok
        format = "gguf"
        version = Int(c.file.version)
        tensors = c.file.tensors.count
        kv = c.file.kv.count
        alignment = c.file.alignment
        bytesChecked = c.dataBytes
        findings = c.findings.map { Finding(kind: nil, message: $0.message, tensor: $0.tensor, offset: $0.offset) }
        typeSummary = c.typeSummary
    }

    /// The text report (printed on stdout; a structural error goes to stderr instead).
    public func lines() -> [String] {
        if format == "gguf" { return ggufLines() }
        guard let tensors, let bytesChecked, let failures else { return [] }
        if ok { return ["\(file): ok: \(ReportText.counted(tensors, "tensor")), \(ReportText.bytes(bytesChecked)) checked (CRC-32C)"] }
        let damaged = damagedTensors ?? []
        let padding = failures.count - damaged.count
        var out = ["\(file): damaged: \(damaged.count) of \(ReportText.counted(tensors, "tensor")) "
                   + (damaged.count == 1 ? "fails its" : "fail their") + " CRC-32C"
                   + (padding > 0 ? ", \(ReportText.counted(padding, "padding finding"))" : "")]
        for e in failures { out.append("  " + Self.line(e)) }
        return out
    }

    private func ggufLines() -> [String] {
        guard let version, let tensors, let kv, let alignment, let bytesChecked, let findings else { return [] }
        if ok {
            return ["\(file): ok: GGUF v\(version), \(ReportText.counted(tensors, "tensor")) (\(typeSummary ?? "")), "
                    + "\(ReportText.counted(kv, "KV pair")), alignment \(alignment); \(ReportText.bytes(bytesChecked)) of tensor data laid out as ggml expects "
                    + "(GGUF has no checksums: structure, alignment and sizes checked)"]
        }
        return ["\(file): damaged: \(ReportText.counted(findings.count, "finding"))"] + findings.map { "  " + Self.line($0) }
    }

    static func line(_ e: Finding) -> String {
        (e.kind.map { "[\($0)] " } ?? "") + (e.tensor.map { "`\($0)`: " } ?? "") + e.message + (e.offset.map { " (file offset \($0))" } ?? "")
    }
}
