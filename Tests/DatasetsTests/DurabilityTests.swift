import Foundation
import XCTest
@testable import Datasets

/// A build that cannot be written (full disk) keeps the file already there, byte for byte; a file is used
/// only as what it was built as.
final class DurabilityTests: XCTestCase {
    /// The file size limit stands in for a full disk: both make write(2) fail part-way. libhdf5 used to
    /// crash on that path (SIGSEGV) after renaming the half-written file over the good one.
    func testFailedBuildKeepsThePreviousFile() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (path, _) = try smallShapes(dir)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))

        var saved = rlimit()
        getrlimit(Int32(RLIMIT_FSIZE.rawValue), &saved)
        let handler = signal(SIGXFSZ, SIG_IGN)
        var small = saved
        small.rlim_cur = rlim_t(before.count / 2)
        setrlimit(Int32(RLIMIT_FSIZE.rawValue), &small)
        var thrown: Error?
        do {
            _ = try buildDataset(.shapes, options: BuildOptions(size: 64, trainCount: 24, valCount: 10, maxObjects: 4, seed: 8), to: path)
        } catch { thrown = error }
        setrlimit(Int32(RLIMIT_FSIZE.rawValue), &saved)
        signal(SIGXFSZ, handler)

        let e = try XCTUnwrap(thrown as? DataError, "the build must fail: \(String(describing: thrown))")
        XCTAssertTrue(e.description.contains(path) && e.description.contains("write failed"), e.description)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["shapes.h5"])
        XCTAssertTrue(try DatasetFile.open(path, verify: true).verifyChecksum().ok)
    }

    func testCheckBuiltNamesTheFieldThatDiffers() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (path, o) = try smallShapes(dir)
        let file = try DatasetFile.open(path)
        XCTAssertNoThrow(try file.checkBuilt(as: .shapes, options: o))
        XCTAssertEqual(file.params["size"], 64)
        var seed = o
        seed.seed = 9
        assertDataError(path, ["seed", "built with seed 7, expected 9"]) { try file.checkBuilt(as: .shapes, options: seed) }
        var val = o
        val.valCount = 11
        assertDataError(path, ["param_val", "built with 10, expected 11"]) { try file.checkBuilt(as: .shapes, options: val) }
        assertDataError(path, ["builder", "'shapes', expected 'fmnist-det'"]) { try file.checkBuilt(as: .fmnistDet, options: o) }
    }
}
