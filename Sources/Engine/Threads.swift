import CBLAS

/// Thread settings for OpenBLAS and the engine's own loops. Engine loops split work into fixed chunks
/// whose boundaries never depend on the thread count, so reductions give the same bits for any count.
///
/// OpenBLAS itself always runs single-threaded: `sgemm` splits each product over the engine's threads.
/// With two pools (OpenBLAS's pthreads and the engine's), OpenBLAS workers spin for a while after every
/// product and take the cores from the engine's loops that follow; one pool avoids that.
public enum Threads {
    nonisolated(unsafe) private static var current: Int = {
        let n = max(1, Int(openblas_get_num_threads()))   // OpenBLAS's default (OPENBLAS_NUM_THREADS or cores)
        openblas_set_num_threads(1)
        return n
    }()

    /// Sets the engine's parallelism (its loops and the split of every sgemm); OpenBLAS gets 1 thread.
    public static func set(_ n: Int) {
        precondition(n >= 1, "Threads.set: need at least one thread, got \(n)")
        current = n
        openblas_set_num_threads(1)
    }

    public static var count: Int { current }

    /// OpenBLAS build description (core, thread model).
    public static var blasConfig: String {
        guard let c = openblas_get_config() else { return "unknown" }
        return String(cString: c)
    }

    private static let pool = WorkerPool()

    /// Runs body(i) for i in 0..<n on up to `count` threads (the calling one included).
    static func parallelFor(_ n: Int, _ body: (Int) -> Void) {
        pool.run(n, workers: current, body)
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
