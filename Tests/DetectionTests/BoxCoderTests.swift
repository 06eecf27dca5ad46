import XCTest
@testable import Detection

final class BoxCoderTests: XCTestCase {
    func testEncodeThenDecodeReturnsTheBox() {
        var g = SeededGenerator(seed: 1)  // box at most 37.5x its anchor: inside the decode clamp (62.5x)
        for coder in [BoxCoder(), BoxCoder(scaleFactors: (10, 10, 5, 5))] {
            for _ in 0..<200 {
                let anchor = Box(centerX: .random(in: 0...640, using: &g), centerY: .random(in: 0...640, using: &g),
                                 width: .random(in: 16...400, using: &g), height: .random(in: 16...400, using: &g))
                let box = Box(centerX: .random(in: 0...640, using: &g), centerY: .random(in: 0...640, using: &g),
                              width: .random(in: 1...600, using: &g), height: .random(in: 1...600, using: &g))
                let back = coder.decode(coder.encode(box, anchor: anchor), anchor: anchor)
                XCTAssertEqual(back.x1, box.x1, accuracy: 1e-3); XCTAssertEqual(back.y1, box.y1, accuracy: 1e-3)
                XCTAssertEqual(back.x2, box.x2, accuracy: 1e-3); XCTAssertEqual(back.y2, box.y2, accuracy: 1e-3)
            }
        }
    }

    func testKnownTargetsAndClamp() {
        let anchor = Box(x1: 0, y1: 0, x2: 10, y2: 20)          // center (5, 10), 10 x 20
        let d = BoxCoder().encode(Box(x1: 5, y1: 0, x2: 25, y2: 20), anchor: anchor)  // center (15, 10), 20 x 20
        XCTAssertEqual(d.0, 1, accuracy: 1e-6); XCTAssertEqual(d.1, 0, accuracy: 1e-6)
        XCTAssertEqual(d.2, log(2), accuracy: 1e-6); XCTAssertEqual(d.3, 0, accuracy: 1e-6)
        let s = BoxCoder(scaleFactors: (10, 10, 5, 5)).encode(Box(x1: 5, y1: 0, x2: 25, y2: 20), anchor: anchor)
        XCTAssertEqual(s.0, 10, accuracy: 1e-5); XCTAssertEqual(s.2, 5 * log(2), accuracy: 1e-5)
        // A huge log ratio is clamped to log(1000/16): 62.5 times the anchor, never infinity.
        let big = BoxCoder().decode((0, 0, 1000, 1000), anchor: anchor)
        XCTAssertEqual(big.width, 625, accuracy: 0.01); XCTAssertEqual(big.height, 1250, accuracy: 0.01)
    }

    func testIoU() {
        let a = Box(x1: 0, y1: 0, x2: 10, y2: 10)
        XCTAssertEqual(a.iou(a), 1)
        XCTAssertEqual(a.iou(Box(x1: 5, y1: 0, x2: 15, y2: 10)), 50.0 / 150.0, accuracy: 1e-6)
        XCTAssertEqual(a.iou(Box(x1: 10, y1: 0, x2: 20, y2: 10)), 0)
        XCTAssertEqual(a.iou(Box(x1: 3, y1: 3, x2: 3, y2: 8)), 0)
        XCTAssertEqual(Box(x1: -5, y1: 2, x2: 70, y2: 9).clipped(width: 64, height: 8), Box(x1: 0, y1: 2, x2: 64, y2: 8))
    }
}
