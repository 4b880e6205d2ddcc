// hivgkit-bench: in-process measurements behind `make bench` (scripts/bench.sh). Not a test: it prints
// timings as one JSON object on stdout and never fails on a slow machine.
//
//   hivgkit-bench read FILE [--reps N]       read every tensor's bytes through the mmap (single thread)
//   hivgkit-bench f16 [--mb 256] [--reps N]   HalfKernels.f32ToF16 over a warm buffer, best of N
//   hivgkit-bench open FILE                   CheckpointReader.read only; memory split after it
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
    let data = try! JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
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

/// Touches every byte: wrapping sum of the 64-bit words (four accumulators so the loop vectorizes),
/// then the tail bytes. A checksum-like reduction, as cheap as a read can be.
@inline(never)
func wordSum(_ raw: UnsafeRawBufferPointer) -> UInt64 {
    guard let base = raw.baseAddress, raw.count > 0 else { return 0 }
    let words = raw.count / 8
    var a0: UInt64 = 0, a1: UInt64 = 0, a2: UInt64 = 0, a3: UInt64 = 0
    var i = 0
    if Int(bitPattern: base) & 7 == 0 {
        let p = base.assumingMemoryBound(to: UInt64.self)
        while i + 4 <= words {
            a0 &+= p[i]; a1 &+= p[i + 1]; a2 &+= p[i + 2]; a3 &+= p[i + 3]
            i += 4
        }
        while i < words { a0 &+= p[i]; i += 1 }
    } else {
        while i < words { a0 &+= raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self); i += 1 }
    }
    var s = a0 &+ a1 &+ a2 &+ a3
    for j in (words * 8) ..< raw.count { s &+= UInt64(raw[j]) }
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

func openBench(_ path: String) {
    let before = memStatus()
    let t0 = now()
    let c: Checkpoint
    do { c = try CheckpointReader.read(path) } catch { fail("\(error)") }
    let t1 = now()
    var out: [String: Any] = ["what": "open", "file": path, "tensors": c.graph.count, "seconds": t1 - t0,
                              "minor_faults": minorFaults()]
    for (k, v) in memStatus() { out[k] = v }
    for (k, v) in before { out["before_" + k] = v }
    emit(out)
    withExtendedLifetime(c) {}
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
    guard args.count >= 2 else { fail("usage: hivgkit-bench open FILE") }
    openBench(args[1])
case "f16":
    f16Bench(mb: option(args, "--mb", 256), reps: option(args, "--reps", 10))
default:
    fail("usage: hivgkit-bench read FILE [--reps N] | open FILE | f16 [--mb 256] [--reps N]")
}
