// fuzz-gguf: the input is a whole GGUF file: header, typed KV pairs (strings, nested arrays, the
// element budget), tensor infos (types, dims, offsets, ggml alignment, overlaps); then every plain
// tensor is read and every block-quantized tensor of a scheme we decode is dequantized.
import HiVGCore
@testable import HiVGFormats

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGGUF(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    guard let f = try? GGUFReader.read(bytes: bytes, mapped: nil, file: "fuzz.gguf") else { return 0 }
    precondition(f.graph.count + f.quantized.count <= f.tensors.count, "more tensors than tensor infos")
    for t in f.tensors {
        precondition(t.fileOffset >= f.dataOffset && t.fileOffset + t.byteCount <= size, "tensor \(t.name) outside the file")
    }
    fuzzReadAll(f.graph)
    for q in f.quantized { fuzzDequantize(q.name, scheme: QuantScheme(rawValue: String(describing: q.type)), shape: q.shape, source: q.source) }
    return 0
}
