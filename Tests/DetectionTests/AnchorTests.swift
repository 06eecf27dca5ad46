import XCTest
@testable import Detection
import Models

final class AnchorTests: XCTestCase {
    let cbrt2 = Float(pow(2.0, 1.0 / 3))

    func testLayoutAndShapes() {
        let set = AnchorSet(imageHeight: 64, imageWidth: 64)
        XCTAssertEqual(set.levels.map(\.height), [8, 4, 2, 1, 1])
        XCTAssertEqual(set.levels.map(\.offset), [0, 576, 720, 756, 765])
        XCTAssertEqual(set.count, (64 + 16 + 4 + 1 + 1) * 9)
        // The paper head Models builds (it cannot see Detection) has as many anchors per location as the paper's
        // anchor config here.
        XCTAssertEqual(AnchorConfig().anchorsPerLocation, ModelBuilder.anchorsPerLocation)
        // Level 3, cell (0,0): center (4,4). Scale 2^0, ratio 1: 3 * 8 = 24 wide.
        XCTAssertEqual(set.boxes[0], Box(x1: -8, y1: -8, x2: 16, y2: 16))
        // Ratio 2 is wider: 24*sqrt(2) by 24/sqrt(2).
        XCTAssertEqual(set.boxes[1].width, 24 * Float(2).squareRoot(), accuracy: 1e-4)
        XCTAssertEqual(set.boxes[1].height, 24 / Float(2).squareRoot(), accuracy: 1e-4)
        XCTAssertEqual(set.boxes[2].width / set.boxes[2].height, 0.5, accuracy: 1e-5)
        // Index 3 starts scale 2^(1/3); index 6 scale 2^(2/3).
        XCTAssertEqual(set.boxes[3].width, 24 * cbrt2, accuracy: 1e-4)
        XCTAssertEqual(set.boxes[6].width, 24 * cbrt2 * cbrt2, accuracy: 1e-4)
        // (level 4, y 1, x 2, anchor 4): center ((2+0.5)*16, (1+0.5)*16) = (40, 24).
        let index: Int = 576 + (1 * 4 + 2) * 9 + 4
        let a = set.boxes[index]
        XCTAssertEqual(a.centerX, 40, accuracy: 1e-4); XCTAssertEqual(a.centerY, 24, accuracy: 1e-4)
        XCTAssertEqual(a.width, 48 * cbrt2 * Float(2).squareRoot(), accuracy: 1e-3)
        // Level 7 covers a 64-pixel image with one cell, centered at 64, base 3 * 128.
        XCTAssertEqual(set.boxes[765].centerX, 64); XCTAssertEqual(set.boxes[765].width, 384)
    }

    func testOddSizesAndLevelsAndAnchorSize() {
        let set = AnchorSet(config: AnchorConfig(minLevel: 2, maxLevel: 4, anchorSize: 4), imageHeight: 100, imageWidth: 37)
        XCTAssertEqual(set.levels.map(\.height), [25, 13, 7])
        XCTAssertEqual(set.levels.map(\.width), [10, 5, 3])
        XCTAssertEqual(set.count, (250 + 65 + 21) * 9)
        XCTAssertEqual(set.boxes[0].width, 16)
        XCTAssertEqual(set.config.anchorsPerLocation, 9)
    }
}
