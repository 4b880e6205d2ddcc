// Shared by the libFuzzer targets (built by scripts/fuzz.sh, not by SwiftPM).
#if canImport(Glibc)
import Glibc
#endif
import HiVGCore
@testable import HiVGFormats

/// Tensors larger than this are validated but not materialized: a few hundred bytes can describe a
/// valid stride-0 view terabytes long (docs/fuzzing.md, finding 2). `FUZZ_MAX_TENSOR_BYTES` overrides.
let fuzzMaxTensorBytes: Int = {
    if let s = getenv("FUZZ_MAX_TENSOR_BYTES"), let v = Int(String(cString: s)) { return v }
    return 16 << 20
}()

/// Globals accepted as inert records, so the `--allow-global` path of the interpreter is reachable.
let fuzzAllowedGlobals: Set<String> = ["argparse.Namespace", "numpy.core.multiarray._reconstruct", "os.system"]

/// Reads every tensor the way the tools do: validate, contiguous little-endian bytes (gather and
/// byte swap included), and F32 conversion. Every byte is touched so ASan sees out-of-bounds views.
func fuzzReadAll(_ graph: WeightGraph) {
    for (name, t) in graph.entries {
        do {
            try t.validate(name: name)
            guard t.nbytes <= fuzzMaxTensorBytes else { continue }
            let sum = try t.withContiguousBytes(name: name) { raw -> UInt8 in
                precondition(raw.count == t.nbytes, "contiguous bytes of \(name): \(raw.count) ≠ nbytes \(t.nbytes)")
                var x: UInt8 = 0
                for b in raw { x ^= b }
                return x
            }
            fuzzSink ^= sum
            if t.dtype != .c64 && t.dtype != .c128 {
                let f = try t.floats(name: name)
                precondition(f.count == t.elementCount, "floats of \(name): \(f.count) ≠ \(t.elementCount)")
            }
        } catch {}
    }
}

/// Keeps the reads above from being optimized away.
nonisolated(unsafe) var fuzzSink: UInt8 = 0

/// A global that is never allowed must not come out as an inert record, even though the harness
/// lists `os.system` among the allowed globals. Walks the result (shared containers once, at most
/// 200,000 values).
func fuzzCheckNoRefusedRecords(_ root: PickleValue) {
    var stack = [root]
    var seen = Set<ObjectIdentifier>()
    var budget = 200_000
    while let v = stack.popLast(), budget > 0 {
        budget -= 1
        switch v {
        case let .tuple(items): stack += items
        case let .list(l), let .set(l):
            if seen.insert(ObjectIdentifier(l)).inserted { stack += l.items }
        case let .dict(d):
            if seen.insert(ObjectIdentifier(d)).inserted { stack += d.keys; stack += d.values; if let a = d.attributes { stack.append(a) } }
        case let .object(o):
            precondition(!(o.fromCall && TorchGlobals.isNeverAllowed(module: o.module, full: o.className)),
                         "never-allowed global \(o.className) was called")
            if seen.insert(ObjectIdentifier(o)).inserted { stack += o.args; if let s = o.state { stack.append(s) } }
        default: break
        }
    }
}

/// Dequantizes a block-quantized tensor the way the model layer does when its scheme is one we
/// decode and its bytes are exactly what the shape needs in that scheme (a manifest may state another
/// layout under a known scheme name; the model layer refuses those). Above `fuzzMaxTensorBytes` of
/// output, only the bytes are read.
func fuzzDequantize(_ name: String, scheme: QuantScheme?, shape: [Int], source: any ByteSource) {
    guard let scheme, let n = Tensor.checkedCount(shape), n > 0 else { return }
    let cols = shape.last ?? 1, rows = n / max(cols, 1)
    do {
        try source.withBytes { raw in
            var x: UInt8 = 0
            for b in raw { x ^= b }
            fuzzSink ^= x
            guard scheme.fits(rowLength: cols), raw.count == scheme.byteCount(rows: rows, cols: cols),
                  n * 4 <= fuzzMaxTensorBytes else { return }
            let v = Quantizer.dequantize(raw, rows: rows, cols: cols, scheme: scheme)
            precondition(v.count == n, "\(name): \(v.count) values of \(n)")
            fuzzSink ^= UInt8(truncatingIfNeeded: v.count)
        }
    } catch {}
}
