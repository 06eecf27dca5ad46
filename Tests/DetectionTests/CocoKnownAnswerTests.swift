import Foundation
import XCTest
@testable import Detection

/// Small cases worked out by hand.
final class CocoKnownAnswerTests: XCTestCase {
    let one = [CocoImage(id: 1, width: 640, height: 640)]
    let cat = [CocoCategory(id: 1, name: "thing")]

    func gt(_ boxes: [[Double]], crowd: Set<Int> = []) -> CocoGroundTruth {
        CocoGroundTruth(images: one, annotations: boxes.enumerated().map {
            CocoAnnotation(id: $0.offset + 1, imageId: 1, categoryId: 1, bbox: $0.element, isCrowd: crowd.contains($0.offset))
        }, categories: cat)
    }
    func dt(_ box: [Double], _ s: Double) -> CocoDetection { CocoDetection(imageId: 1, categoryId: 1, bbox: box, score: s) }

    /// Two 100x100 objects (area 10000 > 96^2: large), detections by score: hit, miss, hit.
    /// At every IoU threshold: recall [0.5, 0.5, 1], precision [1, 1/2, 2/3], envelope [1, 2/3, 2/3].
    /// Recall thresholds 0.00...0.50 (51 of them) read precision 1, 0.51...1.00 (50) read 2/3:
    /// AP = (51 * 1 + 50 * 2/3) / 101 = 0.8349835. AR100 = 1; AR1 = 0.5 (only the top detection).
    /// No small or medium objects: APs, APm, ARs, ARm = -1.
    func testHitMissHit() throws {
        let m = try CocoEvaluator().evaluate(
            groundTruth: gt([[0, 0, 100, 100], [200, 0, 100, 100]]),
            detections: [dt([0, 0, 100, 100], 0.9), dt([400, 400, 100, 100], 0.8), dt([200, 0, 100, 100], 0.7)])
        let ap = (51.0 + 50.0 * 2 / 3) / 101
        let expected = [ap, ap, ap, -1, -1, ap, 0.5, 1, 1, -1, -1, 1]
        for (k, (g, e)) in zip(CocoMetrics.keys, zip(m.values, expected)) { XCTAssertEqual(g, e, accuracy: 1e-12, k.rawValue) }
    }

    /// One object [0,0,100,100] found with IoU 7800/10000 = 0.78: a hit at thresholds 0.50...0.75
    /// (6 of 10), a miss above. AP = AR = 0.6, AP50 = AP75 = 1. A crowd region with a higher-scoring
    /// detection inside it (crowd IoU = 2500/2500 = 1) is ignored, so it changes nothing except AR1:
    /// the top detection is the ignored one, so with maxDets 1 nothing is found: AR1 = 0.
    func testIoUThresholdsAndCrowd() throws {
        let m = try CocoEvaluator().evaluate(
            groundTruth: gt([[0, 0, 100, 100], [200, 200, 100, 100]], crowd: [1]),
            detections: [dt([0, 0, 78, 100], 0.9), dt([210, 210, 50, 50], 0.95)])
        let expected = [0.6, 1, 1, -1, -1, 0.6, 0, 0.6, 0.6, -1, -1, 0.6]
        for (k, (g, e)) in zip(CocoMetrics.keys, zip(m.values, expected)) { XCTAssertEqual(g, e, accuracy: 1e-12, k.rawValue) }
    }

    /// (Precision of a lone hit is 1 / (1 + 2^-52) in pycocotools, hence the 1e-12 tolerances.)
    /// A 20x20 object (area 400) is small at COCO scale (< 32^2 = 1024) but medium when the bounds are
    /// scaled by 0.25 (256 < 400 < 2304). Found perfectly, its AP is 1 in whichever range holds it.
    func testAreaScaleMovesObjectsBetweenRanges() throws {
        let g = gt([[10, 10, 20, 20]]), d = [dt([10, 10, 20, 20], 0.5)]
        let coco = try CocoEvaluator().evaluate(groundTruth: g, detections: d)
        XCTAssertEqual(coco[.apSmall]!, 1, accuracy: 1e-12); XCTAssertEqual(coco[.apMedium], -1)
        let scaled = try CocoEvaluator(areaScale: 0.25).evaluate(groundTruth: g, detections: d)
        XCTAssertEqual(scaled[.apSmall], -1); XCTAssertEqual(scaled[.apMedium]!, 1, accuracy: 1e-12)
        XCTAssertEqual(scaled.areaScale, 0.25)
        XCTAssertTrue(scaled.jsonText().contains("\"area_scale\": 0.25"))
    }

    func testPerfectDetectionsScoreOne() throws {
        var anns: [CocoAnnotation] = [], dets: [CocoDetection] = []
        var rng = SeededGenerator(seed: 7)
        let images = (1...5).map { CocoImage(id: $0, width: 640, height: 640) }
        for i in 1...5 { for c in 1...3 { for _ in 0..<Int.random(in: 0...4, using: &rng) {
            let w = Double.random(in: 2...400, using: &rng), h = Double.random(in: 2...400, using: &rng)
            let box = [Double.random(in: 0...200, using: &rng), Double.random(in: 0...200, using: &rng), w, h]
            anns.append(CocoAnnotation(id: anns.count + 1, imageId: i, categoryId: c, bbox: box))
            dets.append(CocoDetection(imageId: i, categoryId: c, bbox: box, score: Double.random(in: 0...1, using: &rng)))
        } } }
        let cats = (1...3).map { CocoCategory(id: $0, name: "c\($0)") }
        let m = try CocoEvaluator().evaluate(groundTruth: CocoGroundTruth(images: images, annotations: anns, categories: cats),
                                             detections: dets)
        for (k, v) in zip(CocoMetrics.keys, m.values) where ![.ar1, .ar10].contains(k) {
            XCTAssertTrue(abs(v - 1) < 1e-12 || v == -1, "\(k) = \(v)")
        }
        XCTAssertEqual(m.ap, 1, accuracy: 1e-12)
    }

    func testNoDetectionsScoresZeroAndUnknownImageIsAnError() throws {
        let m = try CocoEvaluator().evaluate(groundTruth: gt([[0, 0, 50, 50]]), detections: [])
        XCTAssertEqual(m.ap, 0); XCTAssertEqual(m[.ar100], 0); XCTAssertEqual(m[.apLarge], -1)
        XCTAssertThrowsError(try CocoEvaluator().evaluate(groundTruth: gt([[0, 0, 50, 50]]),
                                                          detections: [CocoDetection(imageId: 7, categoryId: 1, bbox: [0, 0, 1, 1], score: 1)])) {
            XCTAssertTrue("\($0)".contains("image_id"), "\($0)")
        }
    }

    func testSummaryLooksLikePycocotools() throws {
        let m = CocoMetrics(values: [0.5, 1, 0.25, -1, 0.125, 0.5, 0.1, 0.2, 0.3, -1, 0.4, 0.5], areaScale: 1)
        let lines = m.summary().split(separator: "\n")
        XCTAssertEqual(lines.count, 12)
        XCTAssertEqual(lines[0], " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.500")
        XCTAssertEqual(lines[3], " Average Precision  (AP) @[ IoU=0.50:0.95 | area= small | maxDets=100 ] = -1.000")
        XCTAssertEqual(lines[6], " Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ] = 0.100")
        XCTAssertEqual(lines[1], " Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ] = 1.000")
    }

    func testThresholdsMatchNumpyLinspace() {
        let e = CocoEvaluator()
        XCTAssertEqual(e.iouThresholds.count, 10); XCTAssertEqual(e.recallThresholds.count, 101)
        XCTAssertEqual(e.iouThresholds[0], 0.5); XCTAssertEqual(e.iouThresholds[5], 0.75); XCTAssertEqual(e.iouThresholds[9], 0.95)
        XCTAssertEqual(e.recallThresholds[7], 7 * 0.01)   // 0.07000000000000001, not 0.07: recall 7/100 falls short
        XCTAssertEqual(e.recallThresholds[100], 1)
    }
}
