import XCTest
@testable import Engine

/// RNG, initialisers, archives and thread-count independence.
final class UtilityTests: XCTestCase {
    func testRNGDeterministicStreamsAndForks() {
        var a = RNG(seed: 42), b = RNG(seed: 42), c = RNG(seed: 42, stream: 1), d = RNG(seed: 43)
        let sa = (0..<8).map { _ in a.next() }
        XCTAssertEqual(sa, (0..<8).map { _ in b.next() })
        XCTAssertNotEqual(sa, (0..<8).map { _ in c.next() })
        XCTAssertNotEqual(sa, (0..<8).map { _ in d.next() })
        // a fork depends only on the parent's seed/stream, not on how far the parent has advanced
        var f1 = RNG(seed: 42).fork(3), f2 = a.fork(3), f3 = RNG(seed: 42).fork(4)
        let x = f1.next()
        XCTAssertEqual(x, f2.next())
        XCTAssertNotEqual(x, f3.next())
    }

    func testRNGDistributions() {
        var r = RNG(seed: 9)
        let n = 40_000
        var su = 0.0, sn = 0.0, sn2 = 0.0
        for _ in 0..<n {
            let u = r.uniform()
            XCTAssert(u >= 0 && u < 1)
            su += Double(u)
            let z = Double(r.normal())
            sn += z; sn2 += z * z
        }
        XCTAssertEqual(su / Double(n), 0.5, accuracy: 0.01)
        XCTAssertEqual(sn / Double(n), 0, accuracy: 0.02)
        XCTAssertEqual(sn2 / Double(n), 1, accuracy: 0.03)
    }

    func testVarianceScalingMatchesTF() {
        var r = RNG(seed: 1)
        let shape = [3, 3, 32, 64]
        XCTAssertEqual(Initializer.fans(shape).fanIn, 288)
        XCTAssertEqual(Initializer.fans(shape).fanOut, 576)
        func stats(_ t: Tensor) -> (Double, Float) {
            let d = t.data
            return ((d.reduce(0.0) { $0 + Double($1 * $1) } / Double(d.count)).squareRoot(), d.map(abs).max()!)
        }
        let tn = Initializer.varianceScaling(scale: 2, mode: .fanIn, distribution: .truncatedNormal).make(shape: shape, rng: &r)
        let (sd, mx) = stats(tn)
        let target = (2.0 / 288).squareRoot()
        XCTAssertEqual(sd, target, accuracy: 0.03 * target, "truncated normal keeps the requested variance")
        XCTAssertLessThanOrEqual(Double(mx), 2 * target / 0.87962566 + 1e-6)
        let un = Initializer.varianceScaling(scale: 1, mode: .fanAvg, distribution: .uniform).make(shape: shape, rng: &r)
        let (usd, umx) = stats(un)
        let uTarget = (1.0 / 432).squareRoot()
        XCTAssertEqual(usd, uTarget, accuracy: 0.03 * uTarget)
        XCTAssertLessThanOrEqual(Double(umx), (3.0 / 432).squareRoot())
        let fo = Initializer.varianceScaling(mode: .fanOut).make(shape: [10, 500], rng: &r)
        XCTAssertEqual(stats(fo).0, (1.0 / 500).squareRoot(), accuracy: 0.05 * (1.0 / 500).squareRoot())
        XCTAssertEqual(Initializer.constant(0.5).make(shape: [3], rng: &r).data, [0.5, 0.5, 0.5])
        let nrm = Initializer.normal(sigma: 0.01).make(shape: [100, 100], rng: &r)
        XCTAssertEqual(stats(nrm).0, 0.01, accuracy: 0.0005)
    }

    func tmpPath(_ name: String) -> String {
        NSTemporaryDirectory() + "engine-test-\(getpid())-\(name)"
    }

    func testArchiveRoundTripAndErrors() throws {
        let path = tmpPath("a.sbta")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let a = Tensor(shape: [2, 3], data: [1, -2, 3.5, .infinity, 0, -0.0])
        let s = Tensor(scalar: 7)
        let e = Tensor(zeros: [0, 4])
        try TensorArchive.write([("block1/conv/kernel", a), ("step", s), ("empty", e)], to: path)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".tmp"))
        let back = try TensorArchive.read(path)
        XCTAssertEqual(back.map(\.0), ["block1/conv/kernel", "step", "empty"])
        XCTAssertEqual(back[0].1.shape, [2, 3])
        XCTAssertEqual(back[0].1.data.map(\.bitPattern), a.data.map(\.bitPattern))
        XCTAssertEqual(back[1].1.shape, [])
        XCTAssertEqual(back[1].1.scalar, 7)
        XCTAssertEqual(back[2].1.shape, [0, 4])

        // expected names/shapes
        XCTAssertNoThrow(try TensorArchive.read(path, expecting: [("block1/conv/kernel", [2, 3]), ("step", []), ("empty", [0, 4])]))
        XCTAssertThrowsError(try TensorArchive.read(path, expecting: [("block1/conv/kernel", [3, 2]), ("step", []), ("empty", [0, 4])])) {
            let m = "\($0)"
            XCTAssert(m.contains(path) && m.contains("block1/conv/kernel") && m.contains("[3, 2]"), m)
        }

        // truncated inside the first entry's data
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let cut = tmpPath("cut.sbta")
        defer { try? FileManager.default.removeItem(atPath: cut) }
        try bytes.prefix(70).write(to: URL(fileURLWithPath: cut))
        XCTAssertThrowsError(try TensorArchive.read(cut)) {
            let m = "\($0)"
            XCTAssert(m.contains(cut) && m.contains("truncated") && m.contains("block1/conv/kernel"), m)
        }
        var bad = bytes
        bad[0] = 0x58
        try bad.write(to: URL(fileURLWithPath: cut))
        XCTAssertThrowsError(try TensorArchive.read(cut)) { XCTAssert("\($0)".contains("not a tensor archive"), "\($0)") }
        XCTAssertThrowsError(try TensorArchive.read(tmpPath("missing"))) { XCTAssert("\($0)".contains("missing"), "\($0)") }
    }

    /// Engine loops reduce in fixed chunks: BN and bias gradients are bit-identical for 1 and 2 threads.
    func testReductionsIndependentOfThreadCount() {
        let saved = Threads.count
        defer { Threads.set(saved) }
        var r = RNG(seed: 5)
        let x = GradCheck.randomTensor([4, 13, 11, 24], &r)
        func run(_ threads: Int) -> [[UInt32]] {
            Threads.set(threads)
            let bn = BatchNorm(name: "bn", channels: 24)
            let px = Parameter(name: "x", value: x, decays: false)
            let t = Tape(training: true)
            let y = t.batchNorm(t.param(px), bn)
            let s = t.sum(t.swish(y))
            let out = t.value(s).data + t.value(y).data
            t.backward(s)
            return [out, px.grad.data, bn.gamma.grad.data, bn.beta.grad.data, bn.runningVar.data].map { $0.map(\.bitPattern) }
        }
        XCTAssertEqual(run(1), run(2))
    }
}
