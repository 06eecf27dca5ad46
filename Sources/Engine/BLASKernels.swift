import CBLAS
import Foundation

/// Which of OpenBLAS's kernel sets runs our sgemm calls.
///
/// Debian's OpenBLAS (0.3.21, DYNAMIC_ARCH) picks its kernels once, when the library loads, from the CPU
/// model. Models newer than it knows (Intel Sapphire and Emerald Rapids among them) get its SSE3 "Prescott"
/// kernels: sgemm then runs at a quarter of the machine's speed (31 against 138 GFLOP/s on one core of an
/// Emerald Rapids VM). The only way to choose is OPENBLAS_CORETYPE in the environment before the library
/// loads, so the command line restarts itself with it set (see `SpineBench`).
public enum BLASKernels {
    /// The kernel set OpenBLAS chose ("Prescott", "Haswell", "SkylakeX", ...).
    public static var current: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// The widest kernel set these CPU flags (as /proc/cpuinfo spells them) can run, or nil for none better
    /// than OpenBLAS's SSE kernels.
    public static func preferred(flags: Set<String>) -> String? {
        let avx512 = ["avx512f", "avx512bw", "avx512vl", "avx512dq"].allSatisfy(flags.contains)
        if avx512 && flags.contains("avx512_bf16") { return "Cooperlake" }
        if avx512 { return "SkylakeX" }
        if flags.contains("avx2") && flags.contains("fma") { return "Haswell" }
        if flags.contains("avx") { return "Sandybridge" }
        return nil
    }

    /// Vector width class of a kernel set, for comparing them; nil for a name not listed.
    static func rank(_ core: String) -> Int? {
        switch core.lowercased() {
        case "cooperlake", "sapphirerapids": return 4
        case "skylakex": return 3
        case "haswell", "zen": return 2
        case "sandybridge", "bulldozer", "piledriver", "steamroller", "excavator": return 1
        case "prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "katmai", "coppermine",
             "northwood", "banias", "opteron", "opteron_sse3", "barcelona", "bobcat", "generic": return 0
        default: return nil
        }
    }

    /// The kernel set to force: `preferred` when it is wider than the one OpenBLAS chose and the user has not
    /// chosen one (OPENBLAS_CORETYPE set, even to the same, means hands off).
    public static func upgrade(current: String, flags: Set<String>, environment: [String: String]) -> String? {
        guard environment["OPENBLAS_CORETYPE"] == nil, let want = preferred(flags: flags),
              let have = rank(current), let better = rank(want), better > have else { return nil }
        return want
    }

    /// Flags of the first CPU in /proc/cpuinfo (empty where there is none, e.g. not Linux).
    public static func cpuFlags(cpuinfo path: String = "/proc/cpuinfo") -> Set<String> {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let colon = line.firstIndex(of: ":") else { return [] }
        return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
    }
}
