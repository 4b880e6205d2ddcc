import Foundation
import HiVGCore
import HiVGFormats

/// What `export` / `quantize` writes for every tensor: the decision table of the quantization policy
/// (`HiVGSurgery.QuantPolicy`), consumed by `Exporter`.
public struct ExportPlan: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        /// Canonical name.
        public var name: String
        public var shape: [Int]
        public var sourceDType: DType
        /// The encoding chosen; nil: written plain as `plainDType`. `f16` / `bf16` are written as plain
        /// F16 / BF16 tensors (encoded by the quantizer, ggml's rounding); the block schemes and `int8`
        /// as blocks.
        public var scheme: QuantScheme?
        /// The dtype of a tensor written plain (`scheme == nil`).
        public var plainDType: DType
        /// The scheme asked for when the policy fell back from it (a row its block does not divide).
        public var requested: QuantScheme?
        /// Why: `quantized: linear weight`, `kept: LayerNorm`, `fallback q4_k→q8_0: row 64 % 256`, …
        public var reason: String

        public init(name: String, shape: [Int], sourceDType: DType, scheme: QuantScheme?, plainDType: DType,
                    requested: QuantScheme? = nil, reason: String) {
            self.name = name
            self.shape = shape
            self.sourceDType = sourceDType
            self.scheme = scheme
            self.plainDType = plainDType
            self.requested = requested
            self.reason = reason
        }

        public var elementCount: Int { Tensor.checkedCount(shape) ?? 0 }
        /// The last dimension (1 for a scalar): blocks run along it.
        public var rowLength: Int { shape.last ?? 1 }
        public var rows: Int { rowLength == 0 ? 0 : elementCount / rowLength }
        /// Blocks (or row scales): not a plain tensor in the output.
        public var isBlockEncoded: Bool { scheme != nil && scheme != .f16 && scheme != .bf16 }
        /// The dtype a reader gets: F16 / BF16 for those schemes, F32 for block schemes (dequantized),
        /// else `plainDType`.
        public var outputDType: DType {
            switch scheme {
            case .f16?: return .f16
            case .bf16?: return .bf16
            case .some: return .f32
            case nil: return plainDType
            }
        }
        /// Bytes of the tensor's payload in the output.
        public var outputBytes: Int {
            if let s = scheme, isBlockEncoded { return s.byteCount(rows: rows, cols: rowLength) }
            return elementCount * outputDType.size
        }
        /// True when the written values can differ from the source's (an encoding or a narrowing).
        public var isLossy: Bool {
            if isBlockEncoded { return true }
            let out = outputDType
            if out == sourceDType || !sourceDType.isFloatingPoint { return false }
            return out.size < sourceDType.size || out == .bf16 || out == .f16
        }
    }

    /// The scheme asked for (nil: plain export).
    public var scheme: QuantScheme?
    public var entries: [Entry]
    /// `--keep` / `--only` globs as given.
    public var keep: [String]
    public var only: [String]

    public init(scheme: QuantScheme?, entries: [Entry], keep: [String] = [], only: [String] = []) {
        self.scheme = scheme
        self.entries = entries
        self.keep = keep
        self.only = only
    }

    /// Tensors per chosen encoding (`f32`, `q8_0`, …; plain ones by dtype, lower case).
    public var counts: [String: Int] {
        var c: [String: Int] = [:]
        for e in entries { c[e.scheme?.rawValue ?? e.plainDType.rawValue.lowercased(), default: 0] += 1 }
        return c
    }

    public var fallbacks: [Entry] { entries.filter { $0.requested != nil } }

    /// Settings recorded in the provenance (`quantization.settings`): what decides the bytes.
    public var settings: [String: String] {
        var s: [String: String] = [
            "policy": "hivgkit-1: 2-D linear weights and the token embedding quantized; LayerNorms, biases, position/class embeddings, "
                + "logit_scale, the box head, convolutions kept F32; fallback K-quant → q8_0 → f16",
            "tensors": String(entries.count),
            "encoded": String(entries.filter { $0.scheme != nil }.count),
            "fallbacks": String(fallbacks.count),
        ]
        for (k, v) in counts { s["count." + k] = String(v) }
        if !keep.isEmpty { s["keep"] = keep.joined(separator: " ") }
        if !only.isEmpty { s["only"] = only.joined(separator: " ") }
        return s
    }

    public var sourceBytes: Int { entries.reduce(0) { $0 + $1.elementCount * $1.sourceDType.size } }
    public var outputBytes: Int { entries.reduce(0) { $0 + $1.outputBytes } }
}
