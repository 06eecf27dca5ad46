import Common
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class DurableFileTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "durable-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func listing() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: dir).sorted() }

    func testWriteReplacesAndLeavesNoTemporary() throws {
        let path = dir + "/a.bin"
        try DurableFile.write([1, 2, 3], to: path)
        try DurableFile.write(Data([4, 5]), to: path)
        XCTAssertEqual(FileManager.default.contents(atPath: path), Data([4, 5]))
        XCTAssertEqual(try listing(), ["a.bin"])
    }

    /// A write that fails half-way (the file size limit stands in for a full disk: both make write(2) fail)
    /// leaves the old file byte for byte and no temporary file.
    func testFailedWriteKeepsTheOldFile() throws {
        let path = dir + "/data.h5"
        let old = Data((0..<5000).map { UInt8($0 % 251) })
        try DurableFile.write(old, to: path)

        var saved = rlimit()
        getrlimit(Int32(RLIMIT_FSIZE.rawValue), &saved)
        let oldHandler = signal(SIGXFSZ, SIG_IGN)
        var small = saved
        small.rlim_cur = 64 * 1024
        XCTAssertEqual(setrlimit(Int32(RLIMIT_FSIZE.rawValue), &small), 0)
        var thrown: Error?
        do { try DurableFile.write([UInt8](repeating: 7, count: 1 << 20), to: path) } catch { thrown = error }
        setrlimit(Int32(RLIMIT_FSIZE.rawValue), &saved)
        signal(SIGXFSZ, oldHandler)

        let e = try XCTUnwrap(thrown as? DurableFileError, "a write past the limit must fail")
        XCTAssertTrue(e.description.contains("data.h5.tmp-"), e.description)
        XCTAssertTrue(e.reason.contains("write failed"), e.reason)
        XCTAssertEqual(FileManager.default.contents(atPath: path), old)
        XCTAssertEqual(try listing(), ["data.h5"])
    }

    func testStaleTemporariesOfDeadWritersAreRemoved() throws {
        var dead: Int32 = 4_000_000
        while kill(dead, 0) == 0 || errno != ESRCH { dead += 1 }
        let fm = FileManager.default
        let host = DurableFile.host
        fm.createFile(atPath: dir + "/x.h5.tmp-\(host)-\(dead)", contents: Data([1]))
        try fm.createDirectory(atPath: dir + "/checkpoint.tmp-\(host)-\(dead)", withIntermediateDirectories: false)
        fm.createFile(atPath: dir + "/mine.tmp-\(host)-\(getpid())", contents: Data([1]))
        fm.createFile(atPath: dir + "/other-host.tmp-node7-\(dead)", contents: Data([1]))   // another machine's: its pid means nothing here
        fm.createFile(atPath: dir + "/keep.h5", contents: Data([1]))
        let removed = DurableFile.removeStaleTemporaries(in: dir)
        XCTAssertEqual(removed.map { ($0 as NSString).lastPathComponent }, ["checkpoint.tmp-\(host)-\(dead)", "x.h5.tmp-\(host)-\(dead)"])
        XCTAssertEqual(try listing(), ["keep.h5", "mine.tmp-\(host)-\(getpid())", "other-host.tmp-node7-\(dead)"])
    }

    func testReplaceDirectory() throws {
        let fm = FileManager.default
        let final = dir + "/checkpoint", built = DurableFile.temporaryPath(for: final)
        try fm.createDirectory(atPath: final, withIntermediateDirectories: false)
        fm.createFile(atPath: final + "/old", contents: nil)
        try fm.createDirectory(atPath: built, withIntermediateDirectories: false)
        fm.createFile(atPath: built + "/new", contents: nil)
        try DurableFile.replaceDirectory(final, with: built)
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: final), ["new"])
        XCTAssertEqual(try listing(), ["checkpoint"])
    }
}
