import XCTest
@testable import Detection

final class TargetAssignerTests: XCTestCase {
    // a0 = g0 exactly; a1 overlaps g0 by 50/150 = 0.333; a2 vs g1: 81/(100+100-81) = 0.681;
    // a3 vs the tiny g2 (3x3 inside it): 9/100 = 0.09, below 0.5, but a3 is g2's best anchor.
    let anchors = [Box(x1: 0, y1: 0, x2: 10, y2: 10), Box(x1: 5, y1: 0, x2: 15, y2: 10),
                   Box(x1: 20, y1: 20, x2: 30, y2: 30), Box(x1: 100, y1: 100, x2: 110, y2: 110),
                   Box(x1: 300, y1: 300, x2: 310, y2: 310)]
    let boxes = [Box(x1: 0, y1: 0, x2: 10, y2: 10), Box(x1: 21, y1: 21, x2: 31, y2: 31), Box(x1: 100, y1: 100, x2: 103, y2: 103)]
    let labels = [1, 2, 0]

    func testHandMadeMatching() throws {
        let t = try assignTargets(anchors: anchors, boxes: boxes, labels: labels, numClasses: 3)
        XCTAssertEqual(t.matches, [0, -1, 1, 2, -1])   // a2 -> g1 by IoU 0.68, a3 claimed by g2
        XCTAssertEqual(t.numPositives, 3); XCTAssertEqual(t.normalizer, 3)
        XCTAssertEqual(t.classTargets, [0, 1, 0,  0, 0, 0,  0, 0, 1,  1, 0, 0,  0, 0, 0])
        XCTAssertEqual(t.classWeights, [Float](repeating: 1, count: 15))
        XCTAssertEqual(t.boxWeights, [1, 1, 1, 1,  0, 0, 0, 0,  1, 1, 1, 1,  1, 1, 1, 1,  0, 0, 0, 0])
        XCTAssertEqual(Array(t.boxTargets[0..<4]), [0, 0, 0, 0])
        // a2 (center 25, size 10) -> g1 (center 26, size 10): dx = dy = 0.1, no size change.
        XCTAssertEqual(t.boxTargets[8], 0.1, accuracy: 1e-6); XCTAssertEqual(t.boxTargets[9], 0.1, accuracy: 1e-6)
        XCTAssertEqual(t.boxTargets[10], 0, accuracy: 1e-6)
        // a3 (center 105, size 10) -> g2 (center 101.5, size 3): dx = -0.35, dw = log(0.3).
        XCTAssertEqual(t.boxTargets[12], -0.35, accuracy: 1e-6); XCTAssertEqual(t.boxTargets[14], log(0.3), accuracy: 1e-6)
    }

    func testIgnoreBandAndNoLowQualityMatches() throws {
        let m = MatchConfig(matchedThreshold: 0.5, unmatchedThreshold: 0.3, lowQualityMatches: false)
        let t = try assignTargets(anchors: anchors, boxes: boxes, labels: labels, numClasses: 3, match: m)
        XCTAssertEqual(t.matches, [0, DetectionTargets.ignored, 1, -1, -1])   // a1 at 0.33 is in [0.3, 0.5)
        XCTAssertEqual(Array(t.classWeights[3..<6]), [0, 0, 0])
        XCTAssertEqual(t.numPositives, 2)
    }

    func testStrongerClaimWinsAndPositivesAreKept() throws {
        // Both boxes have a0 as their best anchor, below 0.5: the higher IoU (gB, 0.36) takes it.
        let a = [Box(x1: 0, y1: 0, x2: 10, y2: 10), Box(x1: 50, y1: 50, x2: 60, y2: 60)]
        let gA = Box(x1: 0, y1: 0, x2: 3, y2: 10), gB = Box(x1: 4, y1: 0, x2: 10, y2: 6)
        let t = try assignTargets(anchors: a, boxes: [gA, gB], labels: [0, 1], numClasses: 2)
        XCTAssertEqual(t.matches, [1, -1])
        // No boxes: everything negative, normaliser still 1.
        let empty = try assignTargets(anchors: a, boxes: [], labels: [], numClasses: 2)
        XCTAssertEqual(empty.matches, [-1, -1]); XCTAssertEqual(empty.normalizer, 1)
        XCTAssertThrowsError(try assignTargets(anchors: a, boxes: [gA], labels: [2], numClasses: 2))
    }
}

final class TargetBatchTests: XCTestCase {
    func testBatchConcatenatesAndSumsPositives() throws {
        let anchors = AnchorSet(config: AnchorConfig(minLevel: 3, maxLevel: 3), imageHeight: 32, imageWidth: 32)
        let a = try assignTargets(anchors: anchors, boxes: [Box(x1: 0, y1: 0, x2: 24, y2: 24)], labels: [0], numClasses: 2)
        let b = try assignTargets(anchors: anchors, boxes: [], labels: [], numClasses: 2)
        let batch = DetectionTargets.batch([a, b])
        XCTAssertEqual(batch.classTargets.count, 2 * anchors.count * 2)
        XCTAssertEqual(batch.boxWeights.count, 2 * anchors.count * 4)
        XCTAssertEqual(batch.numPositives, a.numPositives)
        XCTAssertEqual(Array(batch.classTargets[0..<(anchors.count * 2)]), a.classTargets)
        XCTAssertEqual(batch.normalizer, Float(a.numPositives))
        XCTAssertGreaterThanOrEqual(a.numPositives, 1)
    }
}
