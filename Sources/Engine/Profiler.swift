import Dispatch

/// Opt-in per-op wall-time accounting for the tape (what `spinebench bench train --per-op` prints).
/// Off by default; when off each recorded node costs one branch on a static flag.
///
/// Forward time of an op is the wall time since the previous node was recorded on the same tape (so the
/// caller's own work between two ops, e.g. building loss targets, lands on the next op). Backward time is
/// the time of the op's backward closure, including adding its gradients into its inputs. Main-thread use only.
public enum Profiler {
    public struct Row: Sendable {
        public var op: String
        public var calls = 0
        public var forwardSeconds = 0.0, backwardSeconds = 0.0
        /// Multiply-add FLOPs (2 per MAC) of forward and of backward, for ops that report them (convs).
        public var forwardFlops = 0.0, backwardFlops = 0.0
        public var seconds: Double { forwardSeconds + backwardSeconds }
    }

    nonisolated(unsafe) public private(set) static var enabled = false
    /// Rows per op and output shape ("conv1x1 [16, 32, 32, 64]") instead of per op, to see where an op's
    /// time goes across a network's levels.
    nonisolated(unsafe) public static var byShape = false
    nonisolated(unsafe) private static var rows: [String: Row] = [:]

    /// Turns accounting on or off; turning it on clears what was collected.
    public static func set(enabled on: Bool) {
        enabled = on
        if on { rows = [:] }
    }

    public static func reset() { rows = [:] }

    /// Collected rows, slowest first.
    public static var report: [Row] { rows.values.sorted { $0.seconds > $1.seconds } }

    @inline(__always) static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Adds time (and FLOPs) to an op's row. Also used outside the tape (e.g. "sgd.step").
    public static func add(_ op: String, forward: Double = 0, backward: Double = 0, calls: Int = 0,
                           forwardFlops: Double = 0, backwardFlops: Double = 0) {
        var r = rows[op] ?? Row(op: op)
        r.calls += calls
        r.forwardSeconds += forward; r.backwardSeconds += backward
        r.forwardFlops += forwardFlops; r.backwardFlops += backwardFlops
        rows[op] = r
    }

    /// Times body under `op` (forward column) when on; runs it plainly when off. For work outside the
    /// tape, such as the optimiser step.
    @inline(__always)
    public static func measure<R>(_ op: String, _ body: () throws -> R) rethrows -> R {
        guard enabled else { return try body() }
        let t0 = now()
        let r = try body()
        add(op, forward: Double(now() - t0) / 1e9, calls: 1)
        return r
    }

    /// "conv2d(_:_:bias:stride:)" -> "conv2d", with " [shape]" when `byShape`.
    static func name(_ s: StaticString, shape: [Int]) -> String {
        let full = s.description
        let op = full.firstIndex(of: "(").map { String(full[..<$0]) } ?? full
        return byShape ? "\(op) \(shape)" : op
    }
}
