// fuzz-pickle: the input is a raw pickle (what `archive/data.pkl` holds in a torch zip). It runs on
// the pickle VM with the torch interpreter; persistent ids get synthetic storages of exactly the
// declared size (keys ending in "b" are big-endian), then the result goes through state-dict
// location (torch-zip and torchscript rules), `summary`, and every tensor is read.
import HiVGCore
@testable import HiVGFormats

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPickle(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    var budget = 64 << 20
    let interpreter = TorchInterpreter(file: "fuzz.pth", entry: "archive/data.pkl", allowedGlobals: fuzzAllowedGlobals,
                                       storage: { key, dtype, numel, offset in
        let (n, overflow) = numel.multipliedReportingOverflow(by: dtype.size)
        guard !overflow, n <= budget else {
            throw FormatError(.pickleLimit, file: "fuzz.pth", offset: offset, "fuzz harness: storage budget")
        }
        budget -= n
        var b = [UInt8](repeating: 0, count: n)
        for i in b.indices { b[i] = UInt8(truncatingIfNeeded: i &* 31 &+ 7) }
        return Storage(key: key, dtype: dtype, source: OwnedBytes(b, origin: "fuzz storage \(key)"), bigEndian: key.hasSuffix("b"))
    })
    var limits = PickleLimits()
    limits.maxBytes = 1 << 20
    do {
        let root = try PickleMachine(data: bytes, file: "fuzz.pth", entry: "archive/data.pkl", limits: limits,
                                     interpreter: interpreter).run()
        fuzzCheckNoRefusedRecords(root)
        _ = root.summary()
        _ = root.summary(maxLength: 4096, depth: 12)
        for format in ["torch-zip", "torchscript"] {
            if let c = try? CheckpointReader.fromPickle(root, format: format, file: "fuzz.pth", options: ReadOptions()) {
                fuzzReadAll(c.graph)
            }
        }
    } catch {}
    return 0
}
