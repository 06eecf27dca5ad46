import XCTest
@testable import Detection

final class PostProcessTests: XCTestCase {
    func testNMSKeepsTheRightBoxes() {
        let boxes = [Box(x1: 0, y1: 0, x2: 10, y2: 10),    // 0: duplicate of 3, lower score: gone
                     Box(x1: 1, y1: 0, x2: 11, y2: 10),    // 1: IoU 90/110 = 0.82 with 3: gone
                     Box(x1: 20, y1: 20, x2: 30, y2: 30),  // 2: far away: kept
                     Box(x1: 0, y1: 0, x2: 10, y2: 10),    // 3: best: kept
                     Box(x1: 5, y1: 0, x2: 15, y2: 10),    // 4: IoU 50/150 = 0.33 with 3, 60/140 with 1 (gone): kept
                     Box(x1: 0, y1: 0, x2: 20, y2: 10)]    // 5: IoU exactly 0.5 with 3: kept (suppress only above)
        let scores: [Float] = [0.9, 0.8, 0.7, 0.95, 0.6, 0.5]
        XCTAssertEqual(nonMaxSuppression(boxes: boxes, scores: scores, iouThreshold: 0.5), [3, 2, 4, 5])
        XCTAssertEqual(nonMaxSuppression(boxes: boxes, scores: scores, iouThreshold: 0.5, maxOutput: 2), [3, 2])
        XCTAssertEqual(nonMaxSuppression(boxes: boxes, scores: scores, iouThreshold: 0.3), [3, 2])
    }

    /// Two classes on a 64x64 image (levels 3-4: 64 + 16 locations x 9 anchors).
    func testPostProcessThresholdsNMSAndTopK() {
        let anchors = AnchorSet(config: AnchorConfig(minLevel: 3, maxLevel: 4), imageHeight: 64, imageWidth: 64)
        let K = 2
        var logits = [Float](repeating: -10, count: anchors.count * K)
        let deltas = [Float](repeating: 0, count: anchors.count * 4)
        func set(_ anchor: Int, _ k: Int, _ score: Float) { logits[anchor * K + k] = log(score / (1 - score)) }
        let a = 9 * (3 * 8 + 3)          // level 3, cell (3,3), first anchor: center (28,28), 24x24
        set(a, 0, 0.9)
        set(a + 3, 0, 0.8)               // same place, scale 2^(1/3): IoU 0.63 with a, suppressed
        set(a + 3, 1, 0.7)               // same box, other class: kept (NMS is per class)
        set(a + 9 * 4, 0, 0.6)           // cell (3,7): center (60,28), clipped at the right edge
        set(a + 9, 1, 0.04)              // under the 0.05 threshold
        let level4 = anchors.levels[1].offset
        set(level4, 0, 0.3)              // level 4 cell (0,0): center (8,8), 48x48 -> clipped to [0,0,32,32]
        let d = postProcess(classLogits: logits, boxDeltas: deltas, anchors: anchors, numClasses: K)
        XCTAssertEqual(d.map(\.classIndex), [0, 1, 0, 0])
        XCTAssertEqual(d.map(\.score), [0.9, 0.7, 0.6, 0.3].map { Float($0) }, accuracy: 1e-6)
        XCTAssertEqual(d[0].box, Box(x1: 16, y1: 16, x2: 40, y2: 40))
        XCTAssertEqual(d[2].box.x2, 64); XCTAssertEqual(d[2].box.x1, 48)
        XCTAssertEqual(d[3].box, Box(x1: 0, y1: 0, x2: 32, y2: 32))
        // Top 1 per level: level 3 keeps only its 0.9 box; level 4 its 0.3 box.
        let top1 = postProcess(classLogits: logits, boxDeltas: deltas, anchors: anchors, numClasses: K,
                               config: PostProcessConfig(topKPerLevel: 1))
        XCTAssertEqual(top1.map(\.score), [0.9, 0.3].map { Float($0) }, accuracy: 1e-6)
        let max2 = postProcess(classLogits: logits, boxDeltas: deltas, anchors: anchors, numClasses: K,
                               config: PostProcessConfig(maxDetections: 2))
        XCTAssertEqual(max2.count, 2)
    }

    /// Targets turned into "perfect" head outputs decode back to the ground truth: AP 1.0 end to end.
    func testTargetsToDetectionsToCocoAP() throws {
        let anchors = AnchorSet(imageHeight: 128, imageWidth: 128)
        let boxes = [Box(x1: 10, y1: 12, x2: 50, y2: 40), Box(x1: 60, y1: 60, x2: 120, y2: 126), Box(x1: 3, y1: 90, x2: 14, y2: 99)]
        let labels = [0, 2, 1]
        let t = try assignTargets(anchors: anchors.boxes, boxes: boxes, labels: labels, numClasses: 3)
        XCTAssertGreaterThanOrEqual(t.numPositives, 3)
        let logits = t.classTargets.map { $0 == 1 ? Float(8) : -8 }
        let dets = postProcess(classLogits: logits, boxDeltas: t.boxTargets, anchors: anchors, numClasses: 3)
        XCTAssertEqual(dets.count, 3)
        for d in dets {
            let i = labels.firstIndex(of: d.classIndex)!
            XCTAssertGreaterThan(d.box.iou(boxes[i]), 0.999)
        }
        let gt = CocoGroundTruth(imageSizes: [(128, 128)], boxes: [boxes], labels: [labels],
                                 categories: (0..<3).map { CocoCategory(id: $0, name: "c\($0)") })
        let results = dets.map { CocoDetection(imageId: 1, categoryId: $0.classIndex, box: $0.box, score: $0.score) }
        XCTAssertEqual(try CocoEvaluator().evaluate(groundTruth: gt, detections: results).ap, 1, accuracy: 1e-9)
    }
}

private func XCTAssertEqual(_ a: [Float], _ b: [Float], accuracy: Float, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, file: file, line: line)
    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: accuracy, file: file, line: line) }
}
