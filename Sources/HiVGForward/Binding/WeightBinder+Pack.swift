import Foundation
import HiVGCore
import HiVGFormats
import HiVGModel

extension WeightBinder {
    /// Packs the row-wise stack of `parts` into the GEMM's panel layout, straight from the source where
    /// it can be: q8_0 blocks for the int8 GEMM (`.int8`, every part a q8_0 tensor without LoRA), else
    /// F32 rows read in place (an F32, contiguous, aligned mapping without a LoRA to fold) or converted.
    mutating func pack(_ parts: [Part], inDim: Int, name: ModulePath) throws -> PackedWeight {
        let q8 = parts.compactMap { q8Source($0, inDim: inDim) }
        if !q8.isEmpty && q8.count == parts.count {
            int8Linears.append(name.description)
            let threads = self.threads
            return try withQ8Parts(q8, inDim: inDim) { PackedWeight(q8_0Parts: $0, inFeatures: inDim, threads: threads) }
        }
        let threads = self.threads
        return try withParts(parts, inDim: inDim) { PackedWeight(parts: $0, inFeatures: inDim, threads: threads) }
    }

    /// Whether the LoRA of `linear` is folded into its weight here.
    private func folds(_ linear: String) -> Bool { loraMode == .folded && model.lora[linear] != nil }

    /// Rows of a weight as F32 without a copy when the source holds them so, else through `floats`.
    private func withRows<R>(_ part: Part, inDim: Int, _ body: (UnsafePointer<Float>, Int) throws -> R) throws -> R {
        let name = part.tensor.description
        func sliced(_ base: UnsafePointer<Float>, count: Int) throws -> R {
            guard inDim > 0, count % inDim == 0 else {
                throw ForwardError.unsupported("`\(name)` has \(count) values, not a multiple of its input width \(inDim)")
            }
            let rows = part.rows ?? 0 ..< count / inDim
            guard rows.upperBound <= count / inDim else {
                throw ForwardError.unsupported("`\(name)` has \(count / inDim) rows, expected at least \(rows.upperBound)")
            }
            return try body(base + rows.lowerBound * inDim, rows.count)
        }
        if let t = model.weights[name], t.dtype == .f32, !folds(part.tensor.module.description) {
            if let r = try t.withContiguousBytes(name: name, { raw -> R? in
                guard let base = raw.baseAddress, Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0 else { return nil }
                return try sliced(base.assumingMemoryBound(to: Float.self), count: raw.count / 4)
            }) { return r }
        }
        let values = try floats(part.tensor)
        return try values.withUnsafeBufferPointer { try sliced($0.baseAddress!, count: values.count) }
    }

    private func withParts<R>(_ parts: [Part], inDim: Int, _ body: ([(UnsafePointer<Float>, rows: Int)]) throws -> R) throws -> R {
        try Self.withAll(parts[...], [], { part, next in try withRows(part, inDim: inDim) { try next(($0, $1)) } }, body)
    }

    /// The stored q8_0 blocks of a part, when the int8 path may run it: a q8_0 tensor without LoRA
    /// whose decoded values are `weights[name]` (same storage), rows of inDim values.
    private func q8Source(_ part: Part, inDim: Int) -> (EncodedTensor, rows: Range<Int>)? {
        let name = part.tensor.description
        guard weightPath == .int8, inDim > 0, inDim % 32 == 0, model.lora[part.tensor.module.description] == nil,
              let e = model.encodedTensors[name], e.scheme == QuantScheme.q8_0.rawValue, e.shape.count == 2,
              e.shape[1] == inDim, let t = model.weights[name], t.storage.key == e.name, t.shape == e.shape else { return nil }
        let rows = part.rows ?? 0 ..< e.shape[0]
        guard rows.upperBound <= e.shape[0] else { return nil }
        return (e, rows)
    }

    private func withQ8Parts<R>(_ parts: [(EncodedTensor, rows: Range<Int>)], inDim: Int,
                                _ body: ([(UnsafeRawPointer, rows: Int)]) throws -> R) throws -> R {
        let rowBytes = inDim / 32 * 34
        return try Self.withAll(parts[...], [], { part, next in
            let (e, rows) = part
            return try e.source.withBytes { raw in
                guard raw.count == e.shape[0] * rowBytes, let base = raw.baseAddress else {
                    throw ForwardError.unsupported("`\(e.name)`: \(raw.count) bytes do not hold \(e.shape[0])×\(inDim) q8_0 values")
                }
                return try next((base + rows.lowerBound * rowBytes, rows.count))
            }
        }, body)
    }

    /// Runs `body` with every item opened at once: `open(item, next)` opens one (e.g. maps its bytes,
    /// valid inside its closure only) and continues with `next`, nesting the items in order.
    private static func withAll<T, P, R>(_ items: ArraySlice<T>, _ opened: [P], _ open: (T, (P) throws -> R) throws -> R,
                                         _ body: ([P]) throws -> R) throws -> R {
        guard let item = items.first else { return try body(opened) }
        // Both closures only live for this call; the recursion just needs to capture them.
        return try withoutActuallyEscaping(open) { open in
            try withoutActuallyEscaping(body) { body in try open(item) { try withAll(items.dropFirst(), opened + [$0], open, body) } }
        }
    }
}
