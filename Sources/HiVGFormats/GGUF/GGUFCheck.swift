import Foundation
import HiVGCore

/// `check` of a GGUF file. GGUF has no checksums, so "sound" is what ggml's loader relies on: the
/// reader's structural checks (KV types, tensor infos, shapes against their ggml types, offsets inside
/// the data section, no overlaps), then the layout ggml insists on — each tensor's data at the running
/// aligned offset in info order (ggml refuses any other offset) — zero padding between tensors, and
/// nothing after the last tensor but its padding.
public struct GGUFCheck: Sendable {
    /// One layout finding: the tensor and file offset where known.
    public struct Finding: Sendable {
        public var tensor: String?
        public var offset: Int?
        public var message: String
    }

    /// The file as read.
    public var file: GGUFFile
    public var findings: [Finding] = []
    /// Bytes of tensor data checked.
    public var dataBytes = 0

    /// No finding.
    public var ok: Bool { findings.isEmpty }

    /// Reads and checks `path`; a structural error of the reader is thrown as it is (it names the offset).
    public static func run(path: String) throws -> GGUFCheck {
        let gguf = try GGUFReader.read(path: path)
        var check = GGUFCheck(file: gguf)
        let mapped: MappedFile
        do { mapped = try MappedFile(path: path) } catch let e as CoreError { throw FormatError.from(e, file: path) }
        let bytes = mapped.bytes
        var expected = 0
        for t in gguf.tensors {
            if t.offset != expected {
                check.findings.append(Finding(tensor: t.name, offset: gguf.dataOffset + t.offset,
                                              message: "data offset \(t.offset), where ggml expects \(expected) (the previous tensor's end, aligned to \(gguf.alignment))"))
            }
            let end = t.offset + t.byteCount
            let padded = (end + gguf.alignment - 1) / gguf.alignment * gguf.alignment
            let padEnd = min(gguf.dataOffset + padded, bytes.count)
            if gguf.dataOffset + end < padEnd, UnsafeRawBufferPointer(rebasing: bytes[(gguf.dataOffset + end) ..< padEnd]).contains(where: { $0 != 0 }) {
                check.findings.append(Finding(tensor: t.name, offset: gguf.dataOffset + end, message: "the padding after its data is not zero"))
            }
            check.dataBytes += t.byteCount
            expected = max(expected, padded)
        }
        let dataEnd = bytes.count - gguf.dataOffset
        let lastEnd = gguf.tensors.map { $0.offset + $0.byteCount }.max() ?? 0
        if !gguf.tensors.isEmpty && dataEnd > expected {
            check.findings.append(Finding(tensor: nil, offset: gguf.dataOffset + expected,
                                          message: "\(dataEnd - expected) bytes after the last tensor's padding"))
        } else if dataEnd < lastEnd {
            check.findings.append(Finding(tensor: nil, offset: bytes.count, message: "the file ends inside the tensor data"))
        }
        return check
    }

    /// Tensor counts by ggml type, most frequent first (`F32 200, Q8_0 369`).
    public var typeSummary: String {
        var by: [String: Int] = [:]
        for t in file.tensors { by[t.type.name, default: 0] += 1 }
        return by.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }.map { "\($0.key) \($0.value)" }
            .joined(separator: ", ")
    }
}
