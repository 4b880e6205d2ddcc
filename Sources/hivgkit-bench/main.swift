// hivgkit-bench: in-process measurements behind `make bench` (scripts/bench.sh). Not a test: it prints
// timings as one JSON object on stdout and never fails on a slow machine.
//
//   hivgkit-bench read FILE [--reps N]       read every tensor's bytes through the mmap (single thread)
//   hivgkit-bench f16 [--mb 256] [--reps N]   HalfKernels.f32ToF16 over a warm buffer, best of N
//   hivgkit-bench open FILE [--reps N]        inspect's phases in-process: parse, module summary, teardown
//   hivgkit-bench finite FILE [--reps N] [--int8]  the load-time finiteness check against the load
import Foundation
import HiVGCore
import HiVGFormats

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

func fail(_ msg: String) -> Never {
    FileHandle.standardError.write(Data(("hivgkit-bench: " + msg + "\n").utf8))
    exit(2)
}

func option(_ args: [String], _ name: String, _ def: Int) -> Int {
    guard let i = args.firstIndex(of: name) else { return def }
    guard i + 1 < args.count, let v = Int(args[i + 1]), v > 0 else { fail("\(name) needs a positive integer") }
    return v
}

func emit(_ obj: [String: Any]) {
    print(JSONValue(any: obj).rendered())
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// /proc/self/status fields in kB (VmHWM, VmRSS, RssAnon, RssFile).
func memStatus() -> [String: Int] {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return [:] }
    var out: [String: Int] = [:]
    for line in s.split(separator: "\n") {
        let parts = line.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, ["VmHWM", "VmRSS", "RssAnon", "RssFile"].contains(String(parts[0])) else { continue }
        out[String(parts[0]) + "_kB"] = Int(parts[1].split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "") ?? 0
    }
    return out
}

func minorFaults() -> Int {
    var u = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
    return Int(u.ru_minflt)
}

/// Touches every byte: wrapping sum of the 64-bit words, 64 bytes per step in vector registers, then
/// the tail bytes. A checksum-like reduction, far cheaper than the memory traffic it causes.
@inline(never)
func wordSum(_ raw: UnsafeRawBufferPointer) -> UInt64 {
    guard let base = raw.baseAddress, raw.count > 0 else { return 0 }
    var acc0 = SIMD8<UInt64>(), acc1 = SIMD8<UInt64>()
    var off = 0
    let n = raw.count
    while off + 128 <= n {
        acc0 &+= (base + off).loadUnaligned(as: SIMD8<UInt64>.self)
        acc1 &+= (base + off + 64).loadUnaligned(as: SIMD8<UInt64>.self)
        off += 128
    }
    while off + 8 <= n {
        acc0[0] &+= (base + off).loadUnaligned(as: UInt64.self)
        off += 8
    }
    var s = (acc0 &+ acc1).wrappedSum()
    while off < n { s &+= UInt64(raw[off]); off += 1 }
    return s
}

func readBench(_ path: String, reps: Int) {
    var times: [Double] = []
    var parseTimes: [Double] = []
    var bytes = 0, tensors = 0
    var sum: UInt64 = 0
    let f0 = minorFaults()
    for _ in 0 ..< reps {
        let t0 = now()
        let c: Checkpoint
        do { c = try CheckpointReader.read(path) } catch { fail("\(error)") }
        let t1 = now()
        bytes = 0; tensors = 0; sum = 0
        for (name, t) in c.graph.entries {
            do { sum &+= try t.withContiguousBytes(name: name) { wordSum($0) } } catch { fail("\(error)") }
            bytes += t.nbytes
            tensors += 1
        }
        let t2 = now()
        times.append(t2 - t0)
        parseTimes.append(t1 - t0)
    }
    let file = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    var out: [String: Any] = [
        "what": "read", "file": path, "file_bytes": file, "tensor_bytes": bytes, "tensors": tensors,
        "checksum": String(sum, radix: 16), "reps": reps, "seconds": times, "parse_seconds": parseTimes,
        "median_s": median(times), "best_s": times.min()!,
        "gbps_median": Double(bytes) / median(times) / 1e9, "gbps_best": Double(bytes) / times.min()! / 1e9,
        "minor_faults_per_rep": (minorFaults() - f0) / reps,
    ]
    for (k, v) in memStatus() { out[k] = v }
    emit(out)
}

/// Where `inspect` spends its time inside the process: parse (CheckpointReader.read), the module
/// summary the text report prints, and freeing the parsed tree. First run measured alone (cold process:
/// first-touch page faults of the mapping, lazy runtime metadata), then the median of `reps` more.
func openBench(_ path: String, reps: Int) {
    var parse: [Double] = [], summary: [Double] = [], teardown: [Double] = []
    var tensors = 0
    var first: [String: Any] = [:]
    for i in 0 ... reps {
        let t0 = now()
        var c: Checkpoint?
        do { c = try CheckpointReader.read(path) } catch { fail("\(error)") }
        let t1 = now()
        let modules = c!.graph.moduleSummary(depth: 2).count
        let t2 = now()
        tensors = c!.graph.count
        if i == 0 {
            first = ["minor_faults": minorFaults(), "modules": modules]
            for (k, v) in memStatus() { first[k] = v }
        }
        c = nil
        let t3 = now()
        if i == 0 {
            first["parse_s"] = t1 - t0; first["summary_s"] = t2 - t1; first["teardown_s"] = t3 - t2
        } else {
            parse.append(t1 - t0); summary.append(t2 - t1); teardown.append(t3 - t2)
        }
    }
    emit(["what": "open", "file": path, "tensors": tensors, "first": first, "reps": reps,
          "parse_median_s": median(parse), "summary_median_s": median(summary), "teardown_median_s": median(teardown)])
}

func f16Bench(mb: Int, reps: Int) {
    let n = mb * (1 << 20) / 4
    let src = UnsafeMutablePointer<Float>.allocate(capacity: n)
    let dst = UnsafeMutableRawPointer.allocate(byteCount: n * 2, alignment: 64)
    defer { src.deallocate(); dst.deallocate() }
    // Values across the f16 range: normals, some subnormals, some overflowing to infinity.
    var x: UInt32 = 0x1234_5678
    for i in 0 ..< n {
        x = x &* 1_664_525 &+ 1_013_904_223
        src[i] = (Float(Int32(bitPattern: x)) / Float(Int32.max)) * Float(1 << ((i >> 10) % 20)) * 0.01
    }
    HalfKernels.f32ToF16(src, dst, n)  // warm: fault in dst, prime the caches
    var times: [Double] = []
    for _ in 0 ..< reps {
        let t0 = now()
        HalfKernels.f32ToF16(src, dst, n)
        times.append(now() - t0)
    }
    // The bound for a streaming kernel on this machine: one thread summing the same f32 buffer.
    var readTimes: [Double] = []
    var sink: UInt64 = 0
    for _ in 0 ..< reps {
        let t0 = now()
        sink &+= wordSum(UnsafeRawBufferPointer(start: src, count: n * 4))
        readTimes.append(now() - t0)
    }
    // Spot check against Swift's own Float16 conversion.
    let h = dst.assumingMemoryBound(to: UInt16.self)
    var mismatches = 0
    for i in stride(from: 0, to: n, by: max(1, n / 4096)) where Float16(src[i]).bitPattern != h[i] && !src[i].isNaN {
        mismatches += 1
    }
    let inBytes = n * 4
    emit(["what": "f16", "f32_bytes": inBytes, "reps": reps, "seconds": times, "best_s": times.min()!,
          "median_s": median(times), "gbps_best": Double(inBytes) / times.min()! / 1e9,
          "gbps_median": Double(inBytes) / median(times) / 1e9, "uses_f16c": HalfKernels.usesF16C,
          "spot_check_mismatches": mismatches, "read_gbps_best": Double(inBytes) / readTimes.min()! / 1e9,
          "read_checksum": String(sink, radix: 16)])
}

let args = Array(CommandLine.arguments.dropFirst())
switch args.first {
case "read":
    guard args.count >= 2 else { fail("usage: hivgkit-bench read FILE [--reps N]") }
    readBench(args[1], reps: option(args, "--reps", 1))
case "open":
    guard args.count >= 2 else { fail("usage: hivgkit-bench open FILE [--reps N]") }
    openBench(args[1], reps: option(args, "--reps", 10))
case "finite":
    guard args.count >= 2 else { fail("usage: hivgkit-bench finite FILE [--reps N] [--int8]") }
    finiteBench(args[1], weightPath: args.contains("--int8") ? .int8 : .decoded, reps: option(args, "--reps", 3))
case "f16":
    f16Bench(mb: option(args, "--mb", 256), reps: option(args, "--reps", 10))
default:
    fail("usage: hivgkit-bench read FILE [--reps N] | open FILE [--reps N] | finite FILE [--reps N] [--int8] | f16 [--mb 256] [--reps N]")
}
