import XCTest
@testable import Engine

/// The weighted losses' backward must read the targets and weights given at forward time even when
/// the caller passed temporaries that are gone by then (the RunTrainer pattern). Once the backward
/// closure held only raw pointers: the freed buffers were reused by later allocations and the class
/// and box gradients became garbage (1e13..1e37), so the detectors never learned to classify.
final class LossLifetimeTests: XCTestCase {
    /// Records the loss with targets/weights that live only inside this function.
    static func record(_ t: Tape, _ z: Var, focal: Bool, count: Int) -> Var {
        let targets = Tensor(shape: [count], data: (0..<count).map { Float($0 % 3 == 0 ? 1 : 0) })
        let weights = Tensor(shape: [count], data: (0..<count).map { Float($0 % 5 == 4 ? 0 : 1) })
        return focal
            ? t.sigmoidFocalLoss(z, targets: targets, weights: weights, alpha: 0.25, gamma: 1.5, normalizer: 7)
            : t.huberLoss(z, targets: targets, weights: weights, delta: 0.1, normalizer: 7)
    }

    func testBackwardOutlivesTemporaryTargetsAndWeights() {
        let count = 4096
        let logits = (0..<count).map { Float(($0 * 37) % 101) / 25 - 2 }
        for focal in [true, false] {
            let t = Tape(training: true)
            let p = Parameter(name: "z", value: Tensor(shape: [count], data: logits), decays: false)
            let loss = Self.record(t, t.param(p), focal: focal, count: count)
            // Churn the allocator with same-sized buffers full of junk, as the next ops of a step would.
            var junk: [Tensor] = []
            for _ in 0..<8 { junk.append(Tensor(shape: [count], repeating: 1e30)) }
            t.backward(loss)
            junk.removeAll()
            for i in 0..<count {
                let target: Float = i % 3 == 0 ? 1 : 0, weight: Float = i % 5 == 4 ? 0 : 1
                let z = logits[i]
                let expected: Float
                if focal {
                    expected = weight * focalTerm(z, positive: target == 1, alpha: 0.25, gamma: 1.5).1 / 7
                } else {
                    expected = weight * min(max(z - target, -0.1), 0.1) / 7
                }
                XCTAssertEqual(p.grad.ptr[i], expected, accuracy: 1e-6, "\(focal ? "focal" : "huber") entry \(i)")
                if abs(p.grad.ptr[i] - expected) > 1e-6 { break }
            }
        }
    }
}
