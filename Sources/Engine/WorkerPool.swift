import CBLAS
import Foundation
import Synchronization

/// The engine's worker threads. Most parallel loops of a training step last 10-500 us; GCD's
/// concurrentPerform wakes its workers too late for those (a 100 us loop split in two took 100 us), so
/// these workers spin on a loop counter for a while after each loop and only then sleep.
///
/// Items are claimed one at a time by whoever is free, the caller included: a worker that is late or
/// descheduled (a busy machine) costs at most the item it holds, never the whole loop. Which thread runs an
/// item never changes a result: callers split work into items fixed by the shape alone.
final class WorkerPool: @unchecked Sendable {
    /// (loop number << 8) | threads wanted, moved once per posted loop; workers wait for it to change.
    private let posted = Atomic<Int>(0)
    /// (loop number << 32) | next unclaimed item. The loop number in the same word means a worker that
    /// wakes late can never claim an item of a later loop by mistake.
    private let next = Atomic<Int>(0)
    /// Items of the current loop finished.
    private let finished = Atomic<Int>(0)
    /// Held while a loop runs: a loop started inside another (or from a second thread) runs inline.
    private let busy = Atomic<Bool>(false)
    private var threads: [Worker] = []
    private var loop = 0
    /// Item count of the current loop (atomic: a late worker may read it while the next loop is posted).
    private let items = Atomic<Int>(0)
    // The current loop's body; written before it is posted, read only by a thread holding one of its items.
    private var body: ((Int) -> Void)?

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
            items.store(n, ordering: .relaxed)
            loop = (loop + 1) & 0x7fff_ffff   // wraps long before `loop << 32` could overflow
            finished.store(0, ordering: .relaxed)
            next.store(loop << 32, ordering: .releasing)
            posted.store(loop << 8 | w, ordering: .sequentiallyConsistent)
            for t in threads.prefix(w - 1) where t.sleeping.exchange(false, ordering: .sequentiallyConsistent) {
                t.wake.signal()
            }
            while let i = claim(loop: loop) {
                b(i)
                finished.add(1, ordering: .releasing)
            }
            var spins = 0
            while finished.load(ordering: .acquiring) < n {   // items still held by workers
                spinebench_cpu_relax()
                spins += 1
                if spins & 1023 == 0 { sched_yield() }
            }
            // Close the loop before the next one's item count is written: a worker that read this loop's
            // last word could otherwise compare it with the next loop's count and claim a stale index.
            next.store(loop << 32 | 0xffff_ffff, ordering: .sequentiallyConsistent)
            self.body = nil
        }
    }

    /// The next item of loop `number`, or nil when that loop has none left (or is over).
    private func claim(loop number: Int) -> Int? {
        var word = next.load(ordering: .acquiring)
        while word >> 32 == number && word & 0xffff_ffff < items.load(ordering: .relaxed) {
            let (exchanged, current) = next.compareExchange(expected: word, desired: word + 1,
                                                            ordering: .acquiringAndReleasing)
            if exchanged { return word & 0xffff_ffff }
            word = current
        }
        return nil
    }

    private func start(index: Int) {
        let worker = Worker()
        threads.append(worker)
        let seen = posted.load(ordering: .acquiring)
        let thread = Thread { [self] in work(index: index, worker: worker, seen: seen) }
        thread.stackSize = 8 << 20
        thread.start()
    }

    private func work(index: Int, worker: Worker, seen start: Int) {
        var seen = start
        while true {
            seen = waitForLoop(after: seen, worker: worker)
            guard index < seen & 255 else { continue }      // this loop wants fewer threads
            while runClaimed(loop: seen >> 8) { finished.add(1, ordering: .releasing) }
        }
    }

    /// Claims and runs one item; false when none is left. A function of its own so the worker's reference
    /// to the loop body is gone before the item is reported finished (the caller checks that the body
    /// did not escape).
    @inline(never)
    private func runClaimed(loop number: Int) -> Bool {
        guard let i = claim(loop: number) else { return false }
        body!(i)
        return true
    }

    /// Spins until a loop after `seen` is posted, sleeping once the spin budget is spent.
    private func waitForLoop(after seen: Int, worker: Worker) -> Int {
        var began: UInt64 = 0, spins = 0
        while true {
            let p = posted.load(ordering: .acquiring)
            if p != seen { return p }
            spinebench_cpu_relax()
            spins += 1
            if spins & 255 != 0 { continue }
            sched_yield()   // on a busy machine, let a thread waiting for this core (ours or not) run
            let now = DispatchTime.now().uptimeNanoseconds
            if began == 0 { began = now; continue }
            if now - began < Self.spinNanoseconds { continue }
            // Sleep: announce it, re-check (a loop may have been posted meanwhile), then wait for a signal.
            worker.sleeping.store(true, ordering: .sequentiallyConsistent)
            if posted.load(ordering: .sequentiallyConsistent) != seen {
                // The poster may have seen the flag and signalled: a later wait then returns at once, which
                // is harmless (the loop re-checks).
                worker.sleeping.store(false, ordering: .relaxed)
                continue
            }
            worker.wake.wait()
            began = 0
        }
    }
}
