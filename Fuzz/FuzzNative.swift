// fuzz-native: the input is a whole .hivgw file: magic, version, the manifest's CRC-32C and
// length, the protobuf manifest (protobuf-c unpack, then our checks: names, dtypes, shapes, offsets,
// alignment, quantization layouts, config and provenance JSON), padding; then every tensor is read
// through its checksum, `verify` runs, and quantized tensors of a scheme we decode are dequantized.
import HiVGCore
@testable import HiVGFormats

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNative(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    guard let f = try? NativeFormat.read(bytes: bytes, mapped: nil, file: "fuzz.hivgw") else { return 0 }
    precondition(f.graph.count + f.quantized.count == f.manifest.tensors.count, "tensors lost between manifest and graph")
    for t in f.manifest.tensors { precondition(f.dataStart + t.offset + t.length <= size, "tensor \(t.name) beyond the file") }
    fuzzReadAll(f.graph)
    for q in f.quantized {
        fuzzDequantize(q.name, scheme: QuantScheme(rawValue: q.quantization.scheme), shape: q.shape, source: q.source)
    }
    let v = try? f.verify()
    precondition(v == nil || v!.tensorsChecked <= f.manifest.tensors.count, "verify checked more tensors than exist")
    return 0
}
