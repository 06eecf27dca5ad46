import Foundation
import XCTest
@testable import Detection

/// The 12 metrics against the official COCO API (pycocotools) on the cases in Fixtures/coco_cases.json
/// (random, duplicates, crowd, empty images, missing categories, score ties, >100 detections, area
/// boundaries, IoU on thresholds, area scaling). Regenerate with Fixtures/make_coco_cases.py.
final class CocoAgreementTests: XCTestCase {
    func testAgreesWithPycocotools() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/coco_cases.json")
        let cases = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(cases.count, 20)
        var worst = 0.0
        for c in cases {
            let name = c["name"] as! String
            let gt = try CocoGroundTruth.parse(JSONSerialization.data(withJSONObject: c["gt"]!), file: name)
            let dets = try CocoDetection.parse(JSONSerialization.data(withJSONObject: c["dets"]!), file: name)
            let expected = (c["stats"] as! [NSNumber]).map(\.doubleValue)
            let got = try CocoEvaluator(areaScale: (c["area_scale"] as! NSNumber).doubleValue)
                .evaluate(groundTruth: gt, detections: dets)
            for (k, (g, e)) in zip(CocoMetrics.keys, zip(got.values, expected)) {
                XCTAssertEqual(g, e, accuracy: 1e-4, "\(name) \(k)")
                worst = max(worst, abs(g - e))
            }
        }
        print("largest difference from pycocotools over \(cases.count) cases: \(worst)")
    }
}
