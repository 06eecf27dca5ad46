import XCTest
@testable import Engine

/// A small CNN built from the engine's ops learns a toy task, deterministically.
final class TrainingTests: XCTestCase {
    /// Toy task: a 12x12 noisy image holds a horizontal bar, a vertical bar or a 3x3 square at a random
    /// place; the label says which. Translation invariant, so conv + global pooling can solve it.
    static func batch(_ rng: inout RNG, size: Int) -> (Tensor, [Int]) {
        let s = 12
        let x = Tensor(zeros: [size, s, s, 1])
        var labels = [Int]()
        for b in 0..<size {
            let label = rng.int(below: 3)
            labels.append(label)
            let img = x.ptr + b * s * s
            for i in 0..<(s * s) { img[i] = 0.2 * rng.normal() }
            let cy = 2 + rng.int(below: s - 4), cx = 2 + rng.int(below: s - 4)
            let cells: [(Int, Int)]
            switch label {
            case 0: cells = (-2...2).map { (0, $0) }
            case 1: cells = (-2...2).map { ($0, 0) }
            default: cells = (-1...1).flatMap { dy in (-1...1).map { (dy, $0) } }
            }
            for (dy, dx) in cells { img[(cy + dy) * s + cx + dx] += 1 }
        }
        return (x, labels)
    }

    final class Net {
        let c1: Conv2D, b1: BatchNorm, c2: Conv2D, b2: BatchNorm, fc: Dense
        init(seed: UInt64) {
            var r = RNG(seed: seed)
            c1 = Conv2D(name: "c1", inChannels: 1, outChannels: 8, kernel: 3, initializer: .varianceScaling(scale: 2), rng: &r)
            b1 = BatchNorm(name: "b1", channels: 8)
            c2 = Conv2D(name: "c2", inChannels: 8, outChannels: 16, kernel: 3, initializer: .varianceScaling(scale: 2), rng: &r)
            b2 = BatchNorm(name: "b2", channels: 16)
            fc = Dense(name: "fc", inFeatures: 16, outFeatures: 3, initializer: .varianceScaling(), rng: &r)
        }
        var parameters: [Parameter] { c1.parameters + b1.parameters + c2.parameters + b2.parameters + fc.parameters }
        func loss(_ x: Tensor, _ labels: [Int], on t: Tape) -> Var {
            var h = t.relu(b1(c1(t.input(x), on: t), on: t))
            h = t.relu(b2(c2(h, on: t), on: t))
            h = t.globalAvgPool(t.maxPool3x3s2(h))
            return t.softmaxCrossEntropy(fc(h, on: t), labels: labels)
        }
    }

    func train(seed: UInt64, steps: Int) -> (losses: [Float], weights: [[UInt32]]) {
        let net = Net(seed: seed)
        let opt = SGD(parameters: net.parameters, momentum: 0.9, weightDecay: 1e-4, clipNorm: 10)
        let sched = LearningRateSchedule(base: 0.1, warmupSteps: 10, totalSteps: steps)
        let data = RNG(seed: seed, stream: 1)
        var losses = [Float]()
        for step in 0..<steps {
            var r = data.fork(UInt64(step))
            let (x, y) = TrainingTests.batch(&r, size: 16)
            let t = Tape(training: true)
            let l = net.loss(x, y, on: t)
            losses.append(t.value(l).scalar)
            opt.zeroGrad()
            t.backward(l)
            opt.step(learningRate: sched.rate(at: step))
        }
        let w = net.parameters.map { $0.value.data.map(\.bitPattern) }
            + [net.b1.runningMean, net.b2.runningVar].map { $0.data.map(\.bitPattern) }
        return (losses, w)
    }

    func testSmallCNNLearnsAndIsDeterministic() {
        let steps = 150
        let a = train(seed: 11, steps: steps)
        let initial = a.losses.prefix(5).reduce(0, +) / 5
        let final = a.losses.suffix(10).reduce(0, +) / 10
        print("toy CNN loss \(initial) -> \(final) over \(steps) steps")
        XCTAssertLessThan(final, 0.3 * initial, "loss \(initial) -> \(final)")
        let b = train(seed: 11, steps: steps)
        XCTAssertEqual(a.weights, b.weights, "two runs with one seed must give bit-identical weights")
        XCTAssertEqual(a.losses.map(\.bitPattern), b.losses.map(\.bitPattern))
    }
}
