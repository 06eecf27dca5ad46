import Foundation

/// Transparent huge pages for the engine's tensors.
///
/// A training step allocates its activations afresh (~200 MB at the benchmark's size, reusing freed heap, so
/// with no page faults after the first step) and streams through them; on 4 KB pages the TLB covers a few MB
/// of that, and every further page costs a page walk. Where the kernel hands out huge pages
/// only on request (THP "madvise", Debian's default), glibc's malloc asks for them when the tunable
/// glibc.malloc.hugetlb=1 is set. Tunables are read when the process starts, so the command line restarts
/// itself with it set (see `SpineBench`), as it does for OPENBLAS_CORETYPE. Measured on an Emerald Rapids VM:
/// backbone and detector steps ~4% faster in alternating runs. Results do not depend on it (only addresses
/// change).
public enum HugePages {
    /// The kernel's THP mode (the bracketed word of the sysfs file: "always", "madvise" or "never"), or nil
    /// where there is no such file.
    public static func mode(path: String = "/sys/kernel/mm/transparent_hugepage/enabled") -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let open = text.firstIndex(of: "["), let close = text[open...].firstIndex(of: "]") else { return nil }
        return String(text[text.index(after: open)..<close])
    }

    /// The GLIBC_TUNABLES value to restart with, or nil to leave the environment alone: THP off or unknown,
    /// or the user already chose malloc's huge-page setting. Other tunables the user set are kept.
    public static func tunables(environment: [String: String], mode: String?) -> String? {
        guard mode == "madvise" || mode == "always" else { return nil }
        let setting = "glibc.malloc.hugetlb=1"
        guard let current = environment["GLIBC_TUNABLES"], !current.isEmpty else { return setting }
        return current.contains("glibc.malloc.hugetlb") ? nil : current + ":" + setting
    }
}
