import Foundation
import XCTest
@testable import Harness

/// A test case that runs in the checkout (spec files and git provenance) and writes under a fresh scratch folder,
/// removed afterwards.
class ScratchTestCase: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path
    /// The scratch folder's name starts with this.
    class var scratchPrefix: String { "spinebench-test" }
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "\(Self.scratchPrefix)-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileSystem.createDirectory(dir)
        _ = FileManager.default.changeCurrentDirectoryPath(Self.root)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// Trains `config` straight through under `dir/a`, and under `dir/b` stopped after its first epoch and started
    /// again; asserts both end with the same record (apart from wall-clock measurements and the resume marker) and
    /// returns the straight run's.
    func assertResumesToTheSameRecord(_ config: RunConfig, data: String, file: StaticString = #filePath,
                                      line: UInt = #line) throws -> ResultRecord {
        let straight = try RunTrainer(config: config, datasetPath: data, runsDir: dir + "/a", threads: 2,
                                      progress: Progress(), label: "a").run()
        let first = RunTrainer(config: config, datasetPath: data, runsDir: dir + "/b", threads: 2, progress: Progress(), label: "b")
        first.interruptAfterEpochs = 1
        XCTAssertThrowsError(try first.run(), file: file, line: line) {
            XCTAssertTrue("\($0)".contains("interrupted"), "\($0)", file: file, line: line)
        }
        var resumed = try RunTrainer(config: config, datasetPath: data, runsDir: dir + "/b", threads: 2,
                                     progress: Progress(), label: "b").run()
        XCTAssertEqual(resumed.training.resumedFromEpoch, 1, file: file, line: line)
        resumed.training.resumedFromEpoch = 0
        resumed.measured = straight.measured
        XCTAssertEqual(resumed, straight, file: file, line: line)
        return straight
    }
}
