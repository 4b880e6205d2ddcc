import Foundation
import HiVGCore
import HiVGForward
import HiVGModel

/// The load-time finiteness check against the rest of `forward`'s load (issue 20): ModelLoader.load,
/// then FiniteCheck.require as the tools run it (stored bits scanned in place; block-quantized weights
/// by their scales) against the earlier way (every weight and factor converted to F32 and scanned:
/// for .hivgw q8_0 that decodes the whole model), interleaved, then ForwardModel's construction. A
/// first untimed pass pages the file in and runs the .hivgw CRC checks, which any read pays once.
/// Times are process CPU seconds (a loaded machine stretches wall time, not CPU time; the check is
/// single-threaded, ForwardModel's packing may use several threads and counts all of them).
func finiteBench(_ path: String, weightPath: ForwardModel.WeightPath, reps: Int) {
    func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
    do {
        let t0 = now()
        let m = try ModelLoader.load(path)
        let load = now() - t0
        try FiniteCheck.require(m)
        var scan: [Double] = [], convert: [Double] = [], build: [Double] = []
        for _ in 0 ..< reps {
            var t = now()
            try FiniteCheck.require(m)
            scan.append(now() - t)
            t = now()
            try convertAndScan(m)
            convert.append(now() - t)
        }
        for _ in 0 ..< max(1, reps / 2) {
            let t = now()
            _ = try ForwardModel(m, weightPath: weightPath)
            build.append(now() - t)
        }
        let loadTotal = load + median(build)
        emit(["file": path, "weight_path": weightPath.rawValue, "encoded_tensors": m.encodedTensors.count, "reps": reps,
              "clock": "process CPU", "load_s": load, "forward_model_s": median(build), "scan_s": median(scan), "convert_scan_s": median(convert),
              "scan_share_of_load": median(scan) / loadTotal, "convert_scan_share_of_load": median(convert) / loadTotal])
    } catch {
        fail("\(error)")
    }
}

/// The check as it was before: F32 values of every floating-point tensor, then a scan.
func convertAndScan(_ m: LoadedModel) throws {
    var tensors = m.weights.entries
    for l in m.loraOrder { if let p = m.lora[l] { tensors += [(l + ".lora_A", p.a), (l + ".lora_B", p.b)] } }
    for (name, t) in tensors where t.dtype.isFloatingPoint {
        if try t.floats(name: name).contains(where: { !$0.isFinite }) { fail("\(name) is not finite") }
    }
}
