import XCTest
@testable import Engine

final class CropTests: XCTestCase {
    func testCropKeepsTopLeftWindow() {
        let tape = Tape(training: false)
        let x = tape.input(Tensor(shape: [1, 3, 3, 1], data: (0..<9).map(Float.init)))
        let y = tape.cropTopLeft(x, height: 2, width: 2)
        XCTAssertEqual(y.shape, [1, 2, 2, 1])
        XCTAssertEqual(tape.value(y).data, [0, 1, 3, 4])
    }

    func testCropGradient() {
        var rng = RNG(seed: 11)
        GradCheck.check("crop", inputs: [GradCheck.randomTensor([2, 5, 6, 3], &rng)]) { t, v in
            t.cropTopLeft(t.upsampleNearest(v[0], factor: 2), height: 9, width: 11)
        }
    }
}
