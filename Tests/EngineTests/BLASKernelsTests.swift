import Foundation
import XCTest
@testable import Engine

/// Choosing OpenBLAS's kernel set when its own detection falls back to SSE (CPU models it does not know).
final class BLASKernelsTests: XCTestCase {
    let emeraldRapids: Set<String> = ["sse2", "avx", "avx2", "fma", "avx512f", "avx512dq", "avx512bw", "avx512vl",
                                      "avx512_bf16", "amx_tile"]

    func testPreferredFollowsTheWidestVectorUnit() {
        XCTAssertEqual(BLASKernels.preferred(flags: emeraldRapids), "Cooperlake")
        XCTAssertEqual(BLASKernels.preferred(flags: emeraldRapids.subtracting(["avx512_bf16"])), "SkylakeX")
        // AVX-512 foundation alone (Knights Landing style) is not enough for the SkylakeX kernels
        XCTAssertEqual(BLASKernels.preferred(flags: ["avx", "avx2", "fma", "avx512f"]), "Haswell")
        XCTAssertEqual(BLASKernels.preferred(flags: ["avx", "avx2"]), "Sandybridge")
        XCTAssertNil(BLASKernels.preferred(flags: ["sse2", "sse4_2"]))
    }

    func testUpgradesOnlyAWeakerChoiceTheUserDidNotMake() {
        XCTAssertEqual(BLASKernels.upgrade(current: "Prescott", flags: emeraldRapids, environment: [:]), "Cooperlake")
        XCTAssertNil(BLASKernels.upgrade(current: "Cooperlake", flags: emeraldRapids, environment: [:]))
        XCTAssertNil(BLASKernels.upgrade(current: "Prescott", flags: emeraldRapids,
                                         environment: ["OPENBLAS_CORETYPE": "Prescott"]))
        // a kernel set we cannot rank (a newer OpenBLAS's) is left alone, and so is a wider one than the flags'
        XCTAssertNil(BLASKernels.upgrade(current: "Graniterapids", flags: emeraldRapids, environment: [:]))
        XCTAssertNil(BLASKernels.upgrade(current: "SkylakeX", flags: ["avx2", "fma"], environment: [:]))
        XCTAssertEqual(BLASKernels.upgrade(current: "Sandybridge", flags: ["avx", "avx2", "fma"], environment: [:]),
                       "Haswell")
    }

    func testReadsTheFlagsLineOfCpuinfo() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cpuinfo-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "processor\t: 0\nmodel\t\t: 207\nflags\t\t: fpu sse2 avx2 fma avx512f\nbugs\t\t: spectre_v1\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertEqual(BLASKernels.cpuFlags(cpuinfo: path), ["fpu", "sse2", "avx2", "fma", "avx512f"])
        XCTAssertEqual(BLASKernels.cpuFlags(cpuinfo: path + "-missing"), [])
    }
}

/// Asking malloc for transparent huge pages at start-up.
final class HugePagesTests: XCTestCase {
    func testTunablesAddTheHugePageSettingOnce() {
        XCTAssertEqual(HugePages.tunables(environment: [:], mode: "madvise"), "glibc.malloc.hugetlb=1")
        XCTAssertEqual(HugePages.tunables(environment: [:], mode: "always"), "glibc.malloc.hugetlb=1")
        XCTAssertNil(HugePages.tunables(environment: [:], mode: "never"))
        XCTAssertNil(HugePages.tunables(environment: [:], mode: nil))
        // the user's other tunables are kept; their own huge-page choice, even 0, is left alone
        XCTAssertEqual(HugePages.tunables(environment: ["GLIBC_TUNABLES": "glibc.malloc.arena_max=2"], mode: "madvise"),
                       "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1")
        XCTAssertNil(HugePages.tunables(environment: ["GLIBC_TUNABLES": "glibc.malloc.hugetlb=0"], mode: "madvise"))
        // after the restart the setting is there: no second restart
        XCTAssertNil(HugePages.tunables(environment: ["GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"], mode: "madvise"))
    }

    func testModeIsTheBracketedWord() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("thp-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "always [madvise] never\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertEqual(HugePages.mode(path: path), "madvise")
        try "[always] madvise never\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertEqual(HugePages.mode(path: path), "always")
        XCTAssertNil(HugePages.mode(path: path + "-missing"))
    }
}
