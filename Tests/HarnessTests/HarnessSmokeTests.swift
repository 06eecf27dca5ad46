import XCTest
@testable import Harness

final class HarnessSmokeTests: XCTestCase {
    func testModuleLinks() { XCTAssertTrue(true) }
}
