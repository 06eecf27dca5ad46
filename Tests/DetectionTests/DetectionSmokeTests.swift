import XCTest
@testable import Detection

final class DetectionSmokeTests: XCTestCase {
    func testModuleLinks() { XCTAssertTrue(true) }
}
