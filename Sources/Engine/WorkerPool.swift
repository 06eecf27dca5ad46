import Foundation
import Synchronization

/// The engine's worker threads. Most parallel loops of a training step last 10-500 us; GCD's
/// concurrentPerform wakes its workers too late for those (a 100 us loop split in two took 100 us), so
/// these workers spin on a generation counter for a while after each loop and only then sleep.
///
/// Item i of a loop goes to participant i % workers (the caller is participant 0). Which thread runs an item
/// never changes a result: callers split work into items fixed by the shape alone.
final class WorkerPool: @unchecked Sendable {
    /// (loop number << 8) | participants, moved once per posted loop; workers wait for it to change. One
    /// word, so a worker never pairs one loop's number with another loop's thread count.
    private let generation = Atomic<Int>(0)
    /// Participants that have not finished the current loop.
    private let remaining = Atomic<Int>(0)
    /// Held while a loop runs: a loop started inside another (or from a second thread) runs inline.
    private let busy = Atomic<Bool>(false)
    private var threads: [Worker] = []
    // The current loop; written before `generation` moves (release), read after (acquire).
    private var body: ((Int) -> Void)?
    private var items = 0

    /// How long an idle worker spins before it sleeps.
    private static let spinNanoseconds: UInt64 = 300_000

    private final class Worker: @unchecked Sendable {
        let wake = DispatchSemaphore(value: 0)
        let sleeping = Atomic<Bool>(false)
    }

    /// Runs body(i) for i in 0..<n on up to `workers` threads (this one included).
    func run(_ n: Int, workers: Int, _ body: (Int) -> Void) {
        let w = min(workers, n, 255)   // the thread count shares a word with the loop number
        guard w > 1, !busy.exchange(true, ordering: .acquiring) else {
            for i in 0..<n { body(i) }
            return
        }
        defer { busy.store(false, ordering: .releasing) }
        while threads.count < w - 1 { start(index: threads.count + 1) }
        withoutActuallyEscaping(body) { b in
            self.body = b
            items = n
            remaining.store(w - 1, ordering: .relaxed)
            let g = generation.load(ordering: .relaxed)
            generation.store(((g >> 8) + 1) << 8 | w, ordering: .sequentiallyConsistent)
            for t in threads.prefix(w - 1) where t.sleeping.exchange(false, ordering: .sequentiallyConsistent) {
                t.wake.signal()
            }
            var i = 0
            while i < n { b(i); i += w }
            var spins = 0
            while remaining.load(ordering: .acquiring) > 0 {
                spins += 1
                if spins & 1023 == 0 { sched_yield() }   // a worker may be descheduled on a busy machine
            }
            self.body = nil
        }
    }

    private func start(index: Int) {
        let worker = Worker()
        threads.append(worker)
        let seen = generation.load(ordering: .acquiring)
        let thread = Thread { [self] in loop(index: index, worker: worker, seen: seen) }
        thread.stackSize = 8 << 20
        thread.start()
    }

    private func loop(index: Int, worker: Worker, seen start: Int) {
        var seen = start
        while true {
            seen = waitForLoop(after: seen, worker: worker)
            let w = seen & 255
            guard index < w else { continue }            // this loop needs fewer threads
            runItems(from: index, step: w)
            remaining.subtract(1, ordering: .releasing)
        }
    }

    /// A function of its own so the worker's reference to the loop body is gone before it reports done
    /// (the caller checks that the body did not escape).
    @inline(never)
    private func runItems(from index: Int, step: Int) {
        let n = items, b = body!
        var i = index
        while i < n { b(i); i += step }
    }

    /// Spins until the generation moves past `seen`, sleeping once the spin budget is spent.
    private func waitForLoop(after seen: Int, worker: Worker) -> Int {
        var began: UInt64 = 0, spins = 0
        while true {
            let g = generation.load(ordering: .acquiring)
            if g != seen { return g }
            spins += 1
            if spins & 255 != 0 { continue }
            let now = DispatchTime.now().uptimeNanoseconds
            if began == 0 { began = now; continue }
            if now - began < Self.spinNanoseconds { continue }
            // Sleep: announce it, re-check (a loop may have been posted meanwhile), then wait for a signal.
            worker.sleeping.store(true, ordering: .sequentiallyConsistent)
            if generation.load(ordering: .sequentiallyConsistent) != seen {
                // The poster may have seen the flag and signalled: the wait below would then return at once
                // later, which is harmless (the loop re-checks the generation).
                worker.sleeping.store(false, ordering: .relaxed)
                continue
            }
            worker.wake.wait()
            began = 0
        }
    }
}
