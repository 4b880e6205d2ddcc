// fuzz-safetensors: the input is a whole .safetensors file: header length, strict JSON header
// (UTF-8, duplicates, nesting), entry checks, tiling of the data buffer; then every tensor is read.
import HiVGCore
@testable import HiVGFormats

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let header = try? SafetensorsReader.parseHeader(bytes: bytes, file: "fuzz.safetensors")
    do {
        let r = try SafetensorsReader.read(bytes: bytes, file: "fuzz.safetensors", source: nil)
        precondition(header != nil, "read succeeded where parseHeader failed")
        precondition(r.graph.count == header!.entries.count, "graph has \(r.graph.count) tensors, header \(header!.entries.count)")
        fuzzReadAll(r.graph)
    } catch {
        precondition(header == nil, "parseHeader succeeded where read failed: \(error)")
    }
    return 0
}
