import Foundation
import XCTest
@testable import Models

final class SummaryTests: XCTestCase {
    func testJSONHasTheDocumentedKeys() throws {
        let s = spec("spinenet-49")
        let summary = ModelSummary(spec: s, plan: try ModelBuilder.build(s))
        let object = try JSONSerialization.jsonObject(with: Data(summary.json.utf8)) as! [String: Any]
        for key in ["params", "macs", "backbone_params", "backbone_macs", "levels"] { XCTAssertNotNil(object[key], key) }
        XCTAssertEqual(object["params"] as? Int, summary.params)
        let levels = object["levels"] as! [[String: Int]]
        XCTAssertEqual(levels.map { $0["height"]! }, [80, 40, 20, 10, 5])
        XCTAssertEqual(try JSONDecoder().decode(ModelSummary.self, from: Data(summary.json.utf8)), summary)
        XCTAssertTrue(summary.text.contains("28.54M"), summary.text)
    }
}
