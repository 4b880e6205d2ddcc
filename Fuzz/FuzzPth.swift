// fuzz-pth: the input is a whole file; CheckpointReader detects torch zip / TorchScript / legacy /
// safetensors from the bytes (zip directory, libzip inflate, pickle VM, storages), then every tensor
// is read.
import HiVGCore
@testable import HiVGFormats

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPth(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    var options = ReadOptions()
    options.allowedGlobals = fuzzAllowedGlobals
    do {
        let c = try CheckpointReader.read(bytes: bytes, mapped: nil, file: "fuzz.pth", options: options)
        if let root = c.root {
            fuzzCheckNoRefusedRecords(root)
            _ = root.summary()
        }
        fuzzReadAll(c.graph)
    } catch {}
    return 0
}
