import Common
import Foundation
import XCTest

final class MetricsTests: XCTestCase {
    /// Records written before `Metrics` existed held a plain name -> value object: the typed form reads them and
    /// writes the same bytes back, so old records still decode and new ones stay bit-identical.
    func testEncodesAsTheNamedObjectRecordsAlwaysHeld() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let plain: [String: Double] = ["AP": 41.5, "AP50": 60.25, "APs": -1, "top1": 88]
        let typed = try JSONDecoder().decode(Metrics.self, from: try encoder.encode(plain))
        XCTAssertEqual(typed, [.ap: 41.5, .ap50: 60.25, .apSmall: -1, .top1: 88])
        XCTAssertEqual(try encoder.encode(typed), try encoder.encode(plain))
        XCTAssertEqual(typed.names, [.ap, .ap50, .apSmall, .top1], "declaration order")
    }

    /// A metric name no run reports (a typo, a hand-edited record) is an error that names it, not a dropped key.
    func testUnknownNameIsAnError() {
        XCTAssertThrowsError(try JSONDecoder().decode(Metrics.self, from: Data(#"{"AP": 1, "mAP": 2}"#.utf8))) { error in
            XCTAssertTrue("\(error)".contains("unknown metric 'mAP'"), "\(error)")
        }
    }

    func testNamesAreThePaperTablesColumns() {
        XCTAssertEqual(Metric.detection.map(\.rawValue),
                       ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"])
        XCTAssertEqual("\(Metric.apLarge)", "APl")
    }
}
