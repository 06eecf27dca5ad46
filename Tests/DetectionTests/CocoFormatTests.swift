import Foundation
import XCTest
@testable import Detection

final class CocoFormatTests: XCTestCase {
    func tempPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("detection-tests-\(getpid())-\(name)").path
    }

    func testRoundTripThroughFiles() throws {
        let gt = CocoGroundTruth(
            images: [CocoImage(id: 1, width: 64, height: 48, fileName: "a \"quoted\".jpg"), CocoImage(id: 2, width: 10, height: 10)],
            annotations: [CocoAnnotation(id: 1, imageId: 1, categoryId: 3, bbox: [0.1, 2, 10.25, 7], area: 70, isCrowd: false),
                          CocoAnnotation(id: 2, imageId: 2, categoryId: 3, bbox: [1, 1, 1e-3, 5.5], area: 0.0055, isCrowd: true)],
            categories: [CocoCategory(id: 3, name: "cat")])
        let dets = [CocoDetection(imageId: 1, categoryId: 3, bbox: [0.1, 2.000001, 10, 7], score: 0.123456789),
                    CocoDetection(imageId: 2, categoryId: 3, box: Box(x1: 1, y1: 2, x2: 3.5, y2: 4), score: 0.25)]
        let gp = tempPath("gt.json"), dp = tempPath("dt.json")
        defer { try? FileManager.default.removeItem(atPath: gp); try? FileManager.default.removeItem(atPath: dp) }
        try gt.write(to: gp); try dets.writeCoco(to: dp)
        XCTAssertEqual(try CocoGroundTruth.load(path: gp), gt)
        XCTAssertEqual(try CocoDetection.load(path: dp), dets)
        XCTAssertEqual(dets[1].bbox, [1, 2, 2.5, 2])
    }

    func testGroundTruthFromBoxes() {
        let gt = CocoGroundTruth(imageSizes: [(64, 64), (32, 32)], boxes: [[Box(x1: 1, y1: 2, x2: 11, y2: 22)], []],
                                 labels: [[4], []], categories: [CocoCategory(id: 4, name: "x")])
        XCTAssertEqual(gt.images.map(\.id), [1, 2])
        XCTAssertEqual(gt.annotations, [CocoAnnotation(id: 1, imageId: 1, categoryId: 4, bbox: [1, 2, 10, 20], area: 200)])
    }

    /// Files pycocotools would score silently wrong are refused, naming the field.
    func testInconsistentFilesAreRefused() throws {
        func message(_ json: String) -> String {
            do { _ = try CocoGroundTruth.parse(Data(json.utf8), file: "gt.json"); return "no error" } catch { return "\(error)" }
        }
        let images = #""images": [{"id": 1}], "categories": [{"id": 3, "name": "c"}]"#
        XCTAssertEqual(message("{\(images), \"annotations\": [{\"id\": 1, \"image_id\": 1, \"category_id\": 4, \"bbox\": [0, 0, 2, 2]}]}"),
                       "gt.json: annotations[0].category_id: 4 is not in categories")
        XCTAssertEqual(message("{\(images), \"annotations\": [{\"id\": 1, \"image_id\": 2, \"category_id\": 3, \"bbox\": [0, 0, 2, 2]}]}"),
                       "gt.json: annotations[0].image_id: 2 is not in images")
        XCTAssertEqual(message("{\(images), \"annotations\": [{\"id\": 1, \"image_id\": 1, \"category_id\": 3, \"bbox\": [0, 0, -2, 2]}]}"),
                       "gt.json: annotations[0].bbox: width and height must be >= 0, got -2.0 x 2.0")
        XCTAssertEqual(message(#"{"images": [{"id": 1}, {"id": 1}], "categories": []}"#), "gt.json: images[1].id: 1 appears twice")
        let gt = try CocoGroundTruth.parse(Data("{\(images)}".utf8), file: "gt.json")
        XCTAssertNoThrow(try gt.check([CocoDetection(imageId: 1, categoryId: 3, bbox: [0, 0, 1, 1], score: 1)], file: "dt.json"))
        XCTAssertThrowsError(try gt.check([CocoDetection(imageId: 9, categoryId: 3, bbox: [0, 0, 1, 1], score: 1)], file: "dt.json")) {
            XCTAssertEqual("\($0)", "dt.json: [0].image_id: 9 is not an image of the ground truth")
        }
        XCTAssertThrowsError(try gt.check([CocoDetection(imageId: 1, categoryId: 5, bbox: [0, 0, 1, 1], score: 1)], file: "dt.json")) {
            XCTAssertEqual("\($0)", "dt.json: [0].category_id: 5 is not a category of the ground truth")
        }
    }

    func testErrorsNameFileAndField() {
        func message(_ json: String, detections: Bool = false) -> String {
            do {
                if detections { _ = try CocoDetection.parse(Data(json.utf8), file: "dt.json") }
                else { _ = try CocoGroundTruth.parse(Data(json.utf8), file: "gt.json") }
                return "no error"
            } catch { return "\(error)" }
        }
        XCTAssertEqual(message(#"{"images": [], "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3]}], "categories": []}"#),
                       "gt.json: annotations[0].bbox: expected [x, y, width, height] (4 numbers)")
        XCTAssertEqual(message(#"{"images": [{"width": 3}], "categories": []}"#), "gt.json: images[0].id: expected a number (field missing)")
        XCTAssertEqual(message(#"{"images": []}"#), "gt.json: categories: expected an array (field missing)")
        XCTAssertEqual(message(#"[{"image_id": 1, "category_id": 2, "bbox": [0, 0, 1, 1], "score": "high"}]"#, detections: true),
                       "dt.json: [0].score: expected a finite number")
        XCTAssertEqual(message(#"[{"image_id": 1.5, "category_id": 2, "bbox": [0, 0, 1, 1], "score": 1}]"#, detections: true),
                       "dt.json: [0].image_id: expected an integer")
        XCTAssertTrue(message("{not json", detections: true).hasPrefix("dt.json: not valid JSON"))
        XCTAssertThrowsError(try CocoGroundTruth.load(path: "/nonexistent/gt.json")) {
            XCTAssertEqual("\($0)", "/nonexistent/gt.json: cannot read the file")
        }
    }
}
