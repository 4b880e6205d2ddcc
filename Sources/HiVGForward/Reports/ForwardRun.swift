import Foundation
import HiVGCore
import HiVGFormats
import HiVGModel

/// `forward`: a model run on the inputs of a safetensors file, the outputs written as safetensors.
public struct ForwardRun: Sendable {
    public var modelPath, inputs, output: String
    public var read = ReadOptions()
    public var overrides = ConfigOverrides()
    public var base: String?
    public var weightPath = ForwardModel.WeightPath.decoded
    public var options = ForwardOptions()
    /// Passes run in this process (the outputs are the last pass's).
    public var passes = 1
    /// The tool recorded in the outputs' metadata.
    public var tool: String

    public init(modelPath: String, inputs: String, output: String, tool: String) {
        self.modelPath = modelPath
        self.inputs = inputs
        self.output = output
        self.tool = tool
    }

    /// Loads, runs and writes; returns the report and the outputs (for `--expect`).
    public func run() throws -> (report: ForwardReport, outputs: ForwardOutputs) {
        let blas = try LinearAlgebra.prepare()
        let t0 = Date()
        let loaded = try ModelLoader.load(modelPath, read: read, overrides: overrides, base: base)
        try FiniteCheck.require(loaded)
        let fm = try ForwardModel(loaded, weightPath: weightPath)
        let t1 = Date()
        let inp: ForwardInputs
        do { inp = try ForwardInputs.from(try SafetensorsReader.read(path: inputs).graph) } catch let e as ForwardError {
            throw ForwardError.naming(inputs: inputs, e)
        }
        // Input errors found by the model (ids outside its vocabulary, a text too long) name the file too.
        func pass() throws -> ForwardOutputs {
            do { return try fm.run(inp, options: options) } catch let e as ForwardError { throw ForwardError.naming(inputs: inputs, e) }
        }
        let cpu0 = Self.processCPUSeconds()
        var res = try pass()
        let t2 = Date()
        let cpu = Self.processCPUSeconds() - cpu0
        // Further passes, timed alone (warm caches and heap, as a benchmark's warm-up would leave them).
        var timed = [ForwardReport.Pass(seconds: t2.timeIntervalSince(t1), cpuSeconds: cpu)]
        for _ in 1 ..< max(passes, 1) {
            let (w0, c0) = (Date(), Self.processCPUSeconds())
            res = try pass()
            timed.append(.init(seconds: Date().timeIntervalSince(w0), cpuSeconds: Self.processCPUSeconds() - c0))
        }
        var meta = ["hivgkit.forward.model": modelPath, "hivgkit.forward.architecture": fm.config.architecture, "hivgkit.tool": tool]
        if !loaded.encodedTensors.isEmpty { meta["hivgkit.forward.weights"] = fm.weightsDescription }
        if inp.batch > 1 {
            meta["hivgkit.forward.batch_semantics"] = options.batchQuirk ? "original cross-batch bridge reshape (--batch-quirk)" : "per-sample (B = 1)"
        }
        try SafetensorsWriter.write(res.graph(metadata: meta), to: output)
        var r = ForwardReport(
            model: modelPath, architecture: fm.config.architecture, batch: inp.batch, height: inp.height, width: inp.width, output: output,
            outputs: res.names, loadSeconds: t1.timeIntervalSince(t0), forwardSeconds: t2.timeIntervalSince(t1), forwardCPUSeconds: cpu,
            passes: timed, activation: .init(name: fm.config.activation, from: fm.config.provenance["activation"] ?? "carried config"),
            batchQuirk: options.batchQuirk, threads: options.threads ?? ProcessInfo.processInfo.activeProcessorCount,
            blas: .init(library: blas.library, config: blas.config, core: blas.core, chosenBy: blas.chosenBy),
            weights: .init(path: fm.int8Linears.isEmpty ? "decoded" : "int8", int8Linears: fm.int8Linears.count,
                           quantizedTensors: loaded.encodedTensors.count, vnni: PackedGEMM.int8UsesVNNI),
            weightsDescription: fm.weightsDescription)
        func rows(_ name: String) -> [[Double]]? {
            guard let o = res[name], let w = o.shape.last, w > 0 else { return nil }
            return stride(from: 0, to: o.values.count, by: w).map { o.values[$0 ..< $0 + w].map(Double.init) }
        }
        if fm.config.architecture == "clip" {
            r.imageEmbeds = rows("image_embeds")
            r.textEmbeds = rows("text_embeds")
        } else {
            r.predBox = rows("pred_box")
        }
        return (r, res)
    }

    /// CPU time of the whole process (all threads), user + system: with `forward_seconds` it tells how
    /// well the threads were kept busy, and it is far less disturbed than wall time by other processes.
    static func processCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}

extension ForwardModel {
    /// What ran, for reports: the path and how many linears took the int8 GEMM.
    public var weightsDescription: String {
        int8Linears.isEmpty ? "decoded (F32 GEMM)"
            : "int8 GEMM on \(int8Linears.count) q8_0 linears (activations quantized to q8_0 per row; "
            + (PackedGEMM.int8UsesVNNI ? "AVX-512 VNNI" : "portable loop") + ")"
    }
}
