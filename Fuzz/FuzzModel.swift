// fuzz-model: the input is a whole .safetensors model with its forward inputs (the micro HiVG of
// Fixtures/bad/make_hostile_model.py, or any mutation of it). Above the reader: config resolution
// (the carried `hivgkit.config`, a `--config` and an adapter_config.json riding in the metadata as
// `fuzz.config` / `fuzz.adapter`), the description's checks, finiteness, forward-input validation,
// and for small models and images the forward pass itself. Every failure must be a thrown error.
import Foundation
import HiVGCore
@testable import HiVGFormats
@testable import HiVGModel
@testable import HiVGSurgery
@testable import HiVGForward

/// Forward passes run only below these sizes (the seeds' images are 2×2 patches, B = 1): every
/// layer type and code path of the forward pass is reached far below them, and mutants that grow the
/// image only cost executions. `FUZZ_MODEL_MAX_PATCHES` and `FUZZ_MODEL_MAX_BATCH` override.
let fuzzMaxPatches = fuzzEnvInt("FUZZ_MODEL_MAX_PATCHES") ?? 64
let fuzzMaxBatch = fuzzEnvInt("FUZZ_MODEL_MAX_BATCH") ?? 2

func fuzzEnvInt(_ name: String) -> Int? { getenv(name).flatMap { Int(String(cString: $0)) } }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModel(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    guard let r = try? SafetensorsReader.read(bytes: bytes, file: "fuzz.safetensors", source: nil) else { return 0 }
    let graph = r.graph
    var o = ConfigOverrides()
    o.configJSON = graph.metadata["fuzz.config"]
    o.configPath = "fuzz.config"
    do {
        let adapter = try graph.metadata["fuzz.adapter"].map { try AdapterConfig(try ConfigJSON(data: Data($0.utf8), file: "fuzz.adapter")) }
        let c = Checkpoint(path: "fuzz.safetensors", format: "safetensors", select: [], graph: graph, root: nil)
        let m = try ModelLoader.build(c, adapterConfig: adapter, overrides: o)
        // What the loader returns was validated: the description rebuilds from its config.
        _ = try ModelDescription(m.config)
        precondition(m.config.vision.width % m.config.vision.heads == 0 && m.config.text.width % m.config.text.heads == 0)
        if let h = m.config.head { precondition(h.heads > 0 && h.hidden % h.heads == 0) }
        var total = 0
        for (_, t) in m.weights.entries { total += t.nbytes }
        guard total <= fuzzMaxTensorBytes else { return 0 }
        try FiniteCheck.require(m)
        _ = try LoRAStats.compute(m)
        let inputs = try ForwardInputs.from(graph)
        let p = m.config.patchSize
        guard inputs.batch <= fuzzMaxBatch, (inputs.height / p) * (inputs.width / p) <= fuzzMaxPatches else { return 0 }
        let fm = try ForwardModel(m)
        // One thread: a pool per input would dominate the time of these tiny passes.
        let out = try fm.run(inputs, options: ForwardOptions(batchQuirk: false, intermediates: false, threads: 1))
        if let box = out["pred_box"] { precondition(box.values.count == 4 * inputs.batch, "pred_box has \(box.values.count) values") }
    } catch {}
    return 0
}
