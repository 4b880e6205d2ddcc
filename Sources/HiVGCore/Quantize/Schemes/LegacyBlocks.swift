
/// The 32-element ggml block schemes of the first GGUF generation, one block at a time, following
/// ggml's `quantize_row_*_ref` and `dequantize_row_*` (ggml-quants.c) operation for operation. `x`
/// points at 32 floats, `y` at one block.

/// ggml Q4_0 — fp16 d, 16 bytes; d = max / -8 with max the signed value of largest magnitude (the
/// first one on ties), q = min(15, (int8)(x·id + 8.5)); j in the low nibble, j+16 in the high.
enum Q4_0: BlockCodec {
    typealias S = GGMLScalar
    static let blockSize = 32, blockBytes = 18
    static let layout = "f16 d, 16 bytes: element j low nibble, j+16 high"

    static func encodeBlock(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>) {
        var amax: Float = 0, max: Float = 0
        for j in 0..<32 {
            let v = x[j]
            if amax < abs(v) { amax = abs(v); max = v }
        }
        let d = max / -8
        let id: Float = d != 0 ? 1 / d : 0
        S.store16(y, S.fp16(d))
        for j in 0..<16 {
            let x0 = x[j] * id, x1 = x[j + 16] * id
            let xi0 = UInt8(truncatingIfNeeded: Swift.min(15, S.int8(x0 + 8.5)))
            let xi1 = UInt8(truncatingIfNeeded: Swift.min(15, S.int8(x1 + 8.5)))
            y[2 + j] = xi0 | xi1 << 4
        }
    }

    static func decodeBlock(_ b: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>) {
        let d = S.f32(fp16: S.load16(b))
        for j in 0..<16 {
            let q = b[2 + j]
            y[j] = Float(Int(q & 0x0F) - 8) * d
            y[j + 16] = Float(Int(q >> 4) - 8) * d
        }
    }

}

/// ggml Q4_1 — fp16 d, fp16 m, 16 bytes; d = (max - min) / 15, q = min(15, (int8)((x - min)·id + 0.5)).
enum Q4_1: BlockCodec {
    typealias S = GGMLScalar
    static let blockSize = 32, blockBytes = 20
    static let layout = "f16 d, f16 m (min), 16 bytes of nibbles as q4_0"

    static func encodeBlock(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>) {
        let (min, max) = S.minMax(x, 32)
        let d = (max - min) / 15
        let id: Float = d != 0 ? 1 / d : 0
        S.store16(y, S.fp16(d))
        S.store16(y + 2, S.fp16(min))
        for j in 0..<16 {
            let x0 = (x[j] - min) * id, x1 = (x[j + 16] - min) * id
            let xi0 = UInt8(truncatingIfNeeded: Swift.min(15, S.int8(x0 + 0.5)))
            let xi1 = UInt8(truncatingIfNeeded: Swift.min(15, S.int8(x1 + 0.5)))
            y[4 + j] = xi0 | xi1 << 4
        }
    }

    static func decodeBlock(_ b: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>) {
        let d = S.f32(fp16: S.load16(b)), m = S.f32(fp16: S.load16(b + 2))
        for j in 0..<16 {
            let q = b[4 + j]
            y[j] = Float(q & 0x0F) * d + m
            y[j + 16] = Float(q >> 4) * d + m
        }
    }

}

/// ggml Q5_0 — fp16 d, u32 qh, 16 bytes; d = max / -16, q = min(31, (int8)(x·id + 16.5)); the low
/// nibbles as Q4_0, the fifth bit of element j in bit j of qh.
enum Q5_0: BlockCodec {
    typealias S = GGMLScalar
    static let blockSize = 32, blockBytes = 22
    static let layout = "f16 d, u32 qh (5th bits), 16 bytes of low nibbles"

    static func encodeBlock(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>) {
        var amax: Float = 0, max: Float = 0
        for j in 0..<32 {
            let v = x[j]
            if amax < abs(v) { amax = abs(v); max = v }
        }
        let d = max / -16
        let id: Float = d != 0 ? 1 / d : 0
        S.store16(y, S.fp16(d))
        var qh: UInt32 = 0
        for j in 0..<16 {
            let x0 = x[j] * id, x1 = x[j + 16] * id
            let xi0 = UInt8(truncatingIfNeeded: Swift.min(31, S.int8(x0 + 16.5)))
            let xi1 = UInt8(truncatingIfNeeded: Swift.min(31, S.int8(x1 + 16.5)))
            y[6 + j] = (xi0 & 0x0F) | (xi1 & 0x0F) << 4
            qh |= UInt32((xi0 & 0x10) >> 4) << UInt32(j)
            qh |= UInt32((xi1 & 0x10) >> 4) << UInt32(j + 16)
        }
        S.store32(y + 2, qh)
    }

    static func decodeBlock(_ b: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>) {
        let d = S.f32(fp16: S.load16(b))
        let qh = S.load32(b + 2)
        for j in 0..<16 {
            let h0 = Int((qh >> UInt32(j)) << 4 & 0x10)
            let h1 = Int((qh >> UInt32(j + 12)) & 0x10)
            let q = b[6 + j]
            y[j] = Float((Int(q & 0x0F) | h0) - 16) * d
            y[j + 16] = Float((Int(q >> 4) | h1) - 16) * d
        }
    }

}

/// ggml Q8_0 — fp16 d, 32 × int8. Encoding runs in CKernels (SIMD, `QuantKernels.quantizeQ8_0`) over
/// whole rows; decoding is here. The forward pass multiplies q8_0 weights without decoding them
/// (the int8 GEMM, `PackedGEMM`).
enum Q8_0: BlockCodec {
    typealias S = GGMLScalar
    static let blockSize = 32, blockBytes = 34
    static let layout = "f16 d, 32 × int8"

    static func encodeBlock(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>) {
        QuantKernels.quantizeQ8_0(x, y, blocks: 1)
    }

    static func encode(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>, rows: Int, cols: Int) {
        QuantKernels.quantizeQ8_0(x, y, blocks: rows * cols / 32)
    }

    static func decodeBlock(_ b: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>) {
        let d = S.f32(fp16: S.load16(b))
        for j in 0..<32 { y[j] = Float(Int8(bitPattern: b[2 + j])) * d }
    }
}
