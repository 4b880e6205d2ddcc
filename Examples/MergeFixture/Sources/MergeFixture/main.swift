// Merges the Hi LoRA of one HiVG checkpoint into its CLIP backbone and writes safetensors, through
// the library's one write pipeline (load → merge → plan → verify → write).
//
//     swift run MergeFixture CHECKPOINT.pth OUT.safetensors [TEXT_HEADS VISION_HEADS VL_HEADS]
import Foundation
import HiVGExport
import HiVGModel

let args = CommandLine.arguments
guard args.count == 3 || args.count == 6 else {
    FileHandle.standardError.write(Data("usage: MergeFixture CHECKPOINT OUT.safetensors [TEXT_HEADS VISION_HEADS VL_HEADS]\n".utf8))
    exit(64)
}
var overrides = ConfigOverrides()
if args.count == 6 {
    overrides.textHeads = Int(args[3])
    overrides.visionHeads = Int(args[4])
    overrides.vlHeads = Int(args[5])
}
do {
    let model = try ModelLoader.load(args[1], overrides: overrides)
    var request = WriteRequest(format: .safetensors)
    request.verify = true
    let outcome = try WritePipeline.run(model, request, to: args[2], stagesMerged: 1, sources: model.source.files,
                                        tool: "MergeFixture example")
    guard let written = outcome.result, outcome.verification?.report.pass == true else {
        FileHandle.standardError.write(Data("MergeFixture: verification failed; nothing written\n".utf8))
        exit(1)
    }
    print("merged \(model.lora.count) LoRA'd linears → \(written.path): \(written.tensors.count) tensors, "
          + String(format: "worst NMSE %.2e", outcome.verification?.report.worstGated?.nmse ?? 0))
} catch {
    FileHandle.standardError.write(Data("MergeFixture: \(error)\n".utf8))
    exit(1)
}
