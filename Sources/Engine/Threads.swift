import CBLAS
import Dispatch

/// Thread settings for OpenBLAS and the engine's own loops. Engine loops split work into fixed chunks
/// whose boundaries never depend on the thread count, so reductions give the same bits for any count.
public enum Threads {
    nonisolated(unsafe) private static var current: Int = max(1, Int(openblas_get_num_threads()))

    /// Sets OpenBLAS threads and the engine's loop parallelism.
    public static func set(_ n: Int) {
        precondition(n >= 1, "Threads.set: need at least one thread, got \(n)")
        openblas_set_num_threads(Int32(n))
        current = n
    }

    public static var count: Int { current }

    /// OpenBLAS build description (core, thread model).
    public static var blasConfig: String {
        guard let c = openblas_get_config() else { return "unknown" }
        return String(cString: c)
    }

    /// Runs body(i) for i in 0..<n on up to `count` threads (items handed out in a fixed stride).
    static func parallelFor(_ n: Int, _ body: (Int) -> Void) {
        let workers = min(current, n)
        if workers <= 1 {
            for i in 0..<n { body(i) }
            return
        }
        withoutActuallyEscaping(body) { b in
            let box = UncheckedBox(b)
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                var i = w
                while i < n { box.value(i); i += workers }
            }
        }
    }

    /// Runs body over 0..<total split in fixed chunks of `grain` (chunk index, range).
    static func parallelChunks(_ total: Int, grain: Int, _ body: (Int, Range<Int>) -> Void) {
        let chunks = (total + grain - 1) / grain
        parallelFor(chunks) { c in body(c, (c * grain)..<min(total, (c + 1) * grain)) }
    }
}

struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ v: T) { value = v }
}
