import XCTest
@testable import Datasets

final class HDF5LayerTests: XCTestCase {
    func testDatasetsAttributesAndHyperslabsRoundTrip() throws {
        let path = temporaryDirectory() + "/t.h5"
        do {
            let f = try H5File.create(path)
            try f.createGroup("g")
            let d = try f.createDataset("g/cube", of: Float.self, shape: [3, 2, 4], chunk: [1, 2, 4])
            try d.write(start: [0, 0, 0], count: [3, 2, 4], data: (0..<24).map { Float($0) })
            try f.writeDataset("g/ints", shape: [5], data: [Int64](arrayLiteral: -1, 2, 3, 4, 1 << 40))
            try f.writeDataset("bytes", shape: [2, 3], data: [UInt8](arrayLiteral: 1, 2, 3, 250, 251, 252))
            try f.setAttribute("title", "hello")
            try f.setAttribute("names", ["a", "bcd", ""])
            try f.setAttribute("n", Int64(-42))
            try f.setAttribute("x", 2.5)
            try f.setAttribute("on_group", Int64(9), on: "g")
            try f.setAttribute("title", "replaced")
        }
        let f = try H5File.open(path)
        let d = try f.openDataset("g/cube")
        XCTAssertEqual(d.shape, [3, 2, 4])
        XCTAssertEqual(d.kind, .float32)
        let slab: [Float] = try d.read(start: [1, 1, 1], count: [2, 1, 2])
        XCTAssertEqual(slab, [13, 14, 21, 22])
        XCTAssertEqual(try f.read("g/ints", as: Int64.self), [-1, 2, 3, 4, 1 << 40])
        XCTAssertEqual(try f.read("bytes", as: UInt8.self), [1, 2, 3, 250, 251, 252])
        XCTAssertEqual(try f.stringAttribute("title"), "replaced")
        XCTAssertEqual(try f.stringArrayAttribute("names"), ["a", "bcd", ""])
        XCTAssertEqual(try f.intAttribute("n"), -42)
        XCTAssertEqual(try f.doubleAttribute("x"), 2.5)
        XCTAssertEqual(try f.intAttribute("on_group", on: "g"), 9)
        XCTAssertTrue(f.exists("g/cube"))
        XCTAssertFalse(f.exists("g/nope/deeper"))
    }

    func testErrorsNameFileAndObject() throws {
        let path = temporaryDirectory() + "/e.h5"
        do {
            let f = try H5File.create(path)
            try f.writeDataset("v", shape: [2], data: [Float](arrayLiteral: 1, 2))
        }
        let f = try H5File.open(path)
        assertDataError(path, ["missing/thing", "missing"]) { _ = try f.openDataset("missing/thing") }
        assertDataError(path, ["v", "wrong dtype", "int32", "float32"]) { _ = try f.read("v", as: Int32.self) }
        assertDataError(path, ["v", "hyperslab"]) { let _: [Float] = try f.openDataset("v").read(start: [1], count: [2]) }
        assertDataError(path, ["nope", "missing attribute"]) { _ = try f.intAttribute("nope") }
        assertDataError(path + ".absent", ["no such file"]) { _ = try H5File.open(path + ".absent") }
    }
}
