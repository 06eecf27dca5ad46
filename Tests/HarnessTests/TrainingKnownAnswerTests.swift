import Foundation
import XCTest
@testable import Harness

/// Speed work must not change what training computes. These known answers (loss and global gradient norm of
/// the first steps of SpineNet-49 from the fixed start of `bench train`) were produced by the engine before
/// the performance work (commit 854bd81) with
///     spinebench bench train --threads 2 --scale 0.25 --endpoints 32 --input 256 --batch 2 \
///         [--head retinanet --head-filters 16 --classes 5] --learning-rate 0.00002 --losses N
/// Tolerances allow summation-order rounding only. Later steps get looser bounds on the gradient norm: BN over
/// the 2x2 L7 maps of two images makes it sensitive to tiny weight changes (a 1e-5 change of the learning rate
/// moves step 1's norm by ~4e-3 of itself), while step 0 is a pure forward/backward of the initial weights.
final class TrainingKnownAnswerTests: XCTestCase {
    override func setUp() {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().path
        FileManager.default.changeCurrentDirectoryPath(root)   // spec files
    }

    func bench(head: Bool) -> TrainingBenchmark {
        var b = TrainingBenchmark(model: "spinenet-49", scale: 0.25, endpoints: 32, input: 256, batch: 2)
        if head { b.headFilters = 16; b.classes = 5 }
        b.learningRate = 2e-5
        return b
    }

    func check(_ got: [(loss: Float, gradNorm: Float)], _ want: [(Float, Float)], normTolerance: [Float]) {
        for (i, (g, w)) in zip(got, want).enumerated() {
            XCTAssertEqual(g.loss, w.0, accuracy: 1e-4 * abs(w.0), "loss of step \(i)")
            XCTAssertEqual(g.gradNorm, w.1, accuracy: normTolerance[i] * abs(w.1), "gradient norm of step \(i)")
        }
    }

    func testBackboneStepsMatchKnownAnswers() throws {
        check(try bench(head: false).losses(steps: 2), [(1.9917072, 508.36322), (1.9796921, 375.5495)],
              normTolerance: [1e-4, 5e-2])
    }

    func testDetectorStepsMatchKnownAnswers() throws {
        check(try bench(head: true).losses(steps: 3),
              [(1.7438291, 4.7716527), (1.7433765, 4.9270735), (1.7424841, 5.2899833)],
              normTolerance: [1e-4, 1e-2, 1e-2])
    }
}
