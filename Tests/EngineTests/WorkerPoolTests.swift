import XCTest
import Synchronization
@testable import Engine

/// The spinning worker pool runs every item exactly once, whatever the thread count does between loops,
/// and a loop started inside another runs inline.
final class WorkerPoolTests: XCTestCase {
    func testEveryItemRunsOnceAcrossManyLoops() {
        let pool = WorkerPool()
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: 64)
        defer { counts.deallocate() }
        let cp = UncheckedBox(counts)
        for loop in 0..<50_000 {
            let n = 1 + loop % 64, workers = [2, 3, 1, 4, 2][loop % 5]   // thread counts rise and fall
            counts.initialize(repeating: 0, count: 64)
            pool.run(n, workers: workers) { i in cp.value[i] += 1 }
            for i in 0..<64 where counts[i] != (i < n ? 1 : 0) {
                XCTFail("loop \(loop) (n \(n), workers \(workers)): item \(i) ran \(counts[i]) times")
                return
            }
        }
    }

    func testNestedLoopRunsInline() {
        let pool = WorkerPool()
        let total = Atomic<Int>(0)
        pool.run(4, workers: 2) { i in
            pool.run(10, workers: 2) { j in total.add(i * 10 + j, ordering: .relaxed) }
        }
        XCTAssertEqual(total.load(ordering: .relaxed), (0..<40).reduce(0, +))
    }
}
