// fuzz-safetensors: the input is a whole .safetensors file: header length, strict JSON header
// (UTF-8, duplicates, nesting), entry checks, tiling of the data buffer; then every tensor is read.
// Differential: the header read with the plain-entry fast path and through the general JSON parser
// alone must be the same header, or the same error (kind, offset, tensor, message).
import HiVGCore
@testable import HiVGFormats

/// The header read one way (`plain`: with the plain-entry fast path, as `parseHeader` reads it), and
/// its text for the comparison: the entries, or the error.
func fuzzHeader(_ bytes: UnsafeRawBufferPointer, plain: Bool) -> (SafetensorsHeader?, String) {
    do {
        let h = try SafetensorsReader.parseHeader(bytes: bytes, file: "fuzz.safetensors", plainEntries: plain)
        return (h, "\(h.metadata.sorted { $0.key < $1.key }) \(h.entries.map { "\($0.name) \($0.dtype) \($0.shape) \($0.begin) \($0.end)" })")
    } catch {
        return (nil, "error \(String(describing: (error as? FormatError)?.kind)) \(error)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let (header, plain) = fuzzHeader(bytes, plain: true)
    let general = fuzzHeader(bytes, plain: false).1
    precondition(plain == general, "plain-entry reading differs: \(plain.prefix(300)) vs \(general.prefix(300))")
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
