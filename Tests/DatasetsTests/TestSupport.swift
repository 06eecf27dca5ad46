import Foundation
import XCTest
@testable import Datasets

/// A fresh temporary directory per test case, removed afterwards.
func temporaryDirectory(_ name: String = #function) -> String {
    let dir = NSTemporaryDirectory() + "spinebench-datasets-\(ProcessInfo.processInfo.processIdentifier)-"
        + name.filter { $0.isLetter || $0.isNumber }
    try? FileManager.default.removeItem(atPath: dir)
    try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// A tiny shapes build most tests share (fast: 64 px, 24 + 10 images).
func smallShapes(_ dir: String, seed: UInt64 = 7, name: String = "shapes.h5") throws -> (String, BuildOptions) {
    let o = BuildOptions(size: 64, trainCount: 24, valCount: 10, maxObjects: 4, seed: seed)
    let path = "\(dir)/\(name)"
    _ = try buildDataset(.shapes, options: o, to: path)
    return (path, o)
}

var fashionMNISTInstalled: Bool {
    FileManager.default.fileExists(atPath: defaultFashionMNISTDirectory + "/train-images-idx3-ubyte.gz")
}

/// Asserts that `body` throws a DataError whose text names `file` and contains every piece of `fragments`.
func assertDataError(_ file: String, _ fragments: [String], _ body: () throws -> Void,
                     line: UInt = #line) {
    do {
        try body()
        XCTFail("expected an error naming \(fragments)", line: line)
    } catch let e as DataError {
        let text = e.description
        XCTAssertTrue(text.contains(file), "'\(text)' does not name the file \(file)", line: line)
        for f in fragments { XCTAssertTrue(text.contains(f), "'\(text)' does not contain '\(f)'", line: line) }
    } catch {
        XCTFail("unexpected error type \(error)", line: line)
    }
}
