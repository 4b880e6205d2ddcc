import Foundation
import XCTest

@testable import HiVGCore

/// The one CPU detection (CKernels cpu.c, `CPUFeatures`): the bits are what Linux reports, the level
/// follows from them, and the kernels' own questions read the same bits.
final class CPUFeaturesTests: XCTestCase {
    /// Each feature against the kernel's flag in /proc/cpuinfo (Linux clears AVX flags the OS does
    /// not enable, as the detection's XCR0 check does).
    func testFeaturesMatchProcCpuinfo() throws {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else {
            throw XCTSkip("no /proc/cpuinfo flags here")
        }
        #if !arch(x86_64)
        XCTAssertEqual(CPUFeatures.current, [], "no x86 features off x86-64")
        #else
        let flags = Set(line.split(separator: ":").last!.split(separator: " ").map(String.init))
        let linuxName: [String: String] = ["sse4.1": "sse4_1", "sse4.2": "sse4_2", "avx512vnni": "avx512_vnni", "sha": "sha_ni"]
        let cpu = CPUFeatures.current
        for (feature, name) in CPUFeatures.named {
            XCTAssertEqual(cpu.contains(feature), flags.contains(linuxName[name] ?? name), name)
        }
        #endif
    }

    func testLevelFollowsFromTheBits() {
        let cpu = CPUFeatures.current
        let expected = cpu.isSuperset(of: .level2) ? 2 : cpu.isSuperset(of: .level1) ? 1 : 0
        XCTAssertEqual(CPUFeatures.simdLevel, expected, "features \(cpu)")
        XCTAssertTrue(CPUFeatures.level2.isStrictSuperset(of: CPUFeatures.level1))
        XCTAssertEqual(HalfKernels.usesF16C, cpu.isSuperset(of: [.f16c, .avx]))
        // the int8 GEMM's VNNI kernel runs exactly when the level allows AVX-512 and the CPU has VNNI
        XCTAssertEqual(PackedGEMM.int8UsesVNNI, CPUFeatures.simdLevel == 2 && cpu.contains(.avx512vnni))
        XCTAssertEqual(CPUFeatures.named.count, 13)
        XCTAssertEqual(CPUFeatures.named.reduce(CPUFeatures()) { $0.union($1.0) }.rawValue, (1 << 13) - 1, "distinct bits")
        print("CPUFeaturesTests: \(cpu) → level \(CPUFeatures.simdLevel)")
    }
}
