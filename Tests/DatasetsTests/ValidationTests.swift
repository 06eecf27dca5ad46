import Foundation
import XCTest
@testable import Datasets

/// Opening a damaged file fails with an error naming the file and the field.
final class ValidationTests: XCTestCase {
    /// Writes a minimal valid layout (2 train + 1 val images of 8x8x1), then lets `damage` change one thing.
    func makeFile(_ path: String, boxes: [Float] = [1, 1, 4, 4, 2, 2, 8, 8, 0, 0, 3, 3],
                  offsets: [Int64] = [0, 2, 3], skip: String? = nil,
                  extra: ((H5File) throws -> Void)? = nil) throws {
        let f = try H5File.create(path)
        try f.setAttribute("name", "tiny")
        try f.setAttribute("class_names", ["a", "b"])
        try f.setAttribute("source", "test")
        try f.setAttribute("seed", Int64(1))
        try f.setAttribute("format_version", Int64(1))
        try f.setAttribute("checksum", "fnv1a64:0")
        for (split, n) in [("train", 2), ("val", 1)] {
            try f.createGroup(split)
            let m = split == "train" ? boxes.count / 4 : 1
            let fields: [(String, () throws -> Void)] = [
                ("images", { try f.writeDataset("\(split)/images", shape: [n, 8, 8, 1], data: [UInt8](repeating: 9, count: n * 64), chunk: [1, 8, 8, 1]) }),
                ("boxes", { try f.writeDataset("\(split)/boxes", shape: [m, 4], data: split == "train" ? boxes : [0, 0, 8, 8]) }),
                ("labels", { try f.writeDataset("\(split)/labels", shape: [m], data: [Int32](repeating: 1, count: m)) }),
                ("box_offsets", { try f.writeDataset("\(split)/box_offsets", shape: [split == "train" ? offsets.count : 2], data: split == "train" ? offsets : [0, 1]) }),
            ]
            for (name, write) in fields where skip != "\(split)/\(name)" { try write() }
        }
        try extra?(f)
    }

    func testValidTinyFileOpens() throws {
        let path = temporaryDirectory() + "/ok.h5"
        try makeFile(path)
        let f = try DatasetFile.open(path)
        XCTAssertEqual(Array(f.splits["train"]!.boxes(of: 0)), [Box(x1: 1, y1: 1, x2: 4, y2: 4), Box(x1: 2, y1: 2, x2: 8, y2: 8)])
        XCTAssertEqual(Array(f.splits["train"]!.boxes(of: 1)), [Box(x1: 0, y1: 0, x2: 3, y2: 3)])
    }

    func testTruncatedFile() throws {
        let dir = temporaryDirectory()
        let (path, _) = try smallShapes(dir)
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        let h = FileHandle(forWritingAtPath: path)!
        try h.truncate(atOffset: UInt64(size / 2))
        try h.close()
        assertDataError(path, ["truncated"]) { _ = try DatasetFile.open(path) }
    }

    /// A flipped byte in the image data keeps the file openable; verification catches it by checksum.
    func testCorruptImageBytesFailVerification() throws {
        let (path, _) = try smallShapes(temporaryDirectory())
        // (Closed before damaging it: HDF5 shares an open file's handle and caches, which would hide the change.)
        let first = try DatasetFile.open(path, verify: true).splits["train"]!.readImages(start: 0, count: 1)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        // Find the first stored image in the file and change one of its pixels.
        let at = bytes.indices.first { i in i + 64 <= bytes.count && Array(bytes[i..<(i + 64)]) == Array(first[0..<64]) }!
        bytes[at + 10] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        XCTAssertNoThrow(try DatasetFile.open(path))
        assertDataError(path, ["checksum", "corrupt"]) { _ = try DatasetFile.open(path, verify: true) }
    }

    func testGarbageFile() throws {
        let path = temporaryDirectory() + "/junk.h5"
        try Data(repeating: 0x42, count: 4096).write(to: URL(fileURLWithPath: path))
        assertDataError(path, ["not an HDF5 file"]) { _ = try DatasetFile.open(path) }
    }

    func testMissingDataset() throws {
        let path = temporaryDirectory() + "/m.h5"
        try makeFile(path, skip: "val/labels")
        assertDataError(path, ["val/labels", "missing"]) { _ = try DatasetFile.open(path) }
    }

    func testMissingGroup() throws {
        let path = temporaryDirectory() + "/g.h5"
        let f = try H5File.create(path)
        for (k, v) in [("name", "x"), ("source", "y"), ("checksum", "z")] { try f.setAttribute(k, v) }
        try f.setAttribute("class_names", ["a"])
        try f.setAttribute("seed", Int64(0))
        try f.setAttribute("format_version", Int64(1))
        f.close()
        assertDataError(path, ["train", "missing group"]) { _ = try DatasetFile.open(path) }
    }

    func testWrongRank() throws {
        let path = temporaryDirectory() + "/r.h5"
        try makeFile(path, skip: "train/images") { f in
            try f.writeDataset("train/images", shape: [2, 64], data: [UInt8](repeating: 0, count: 128))
        }
        assertDataError(path, ["train/images", "wrong rank", "expected 4"]) { _ = try DatasetFile.open(path) }
    }

    func testWrongDtype() throws {
        let path = temporaryDirectory() + "/d.h5"
        try makeFile(path, skip: "val/boxes") { f in
            try f.writeDataset("val/boxes", shape: [1, 4], data: [Double](arrayLiteral: 0, 0, 8, 8))
        }
        assertDataError(path, ["val/boxes", "wrong dtype", "float32", "float64"]) { _ = try DatasetFile.open(path) }
    }

    func testBadOffsets() throws {
        let dir = temporaryDirectory()
        let cases: [([Int64], String)] = [([0, 3, 2], "not non-decreasing"), ([0, 1, 2], "last offset 2"),
                                          ([0, 1, 4], "last offset 4"), ([1, 2, 3], "must start at 0")]
        for (i, (offsets, words)) in cases.enumerated() {
            let path = "\(dir)/o\(i).h5"
            try makeFile(path, offsets: offsets)
            assertDataError(path, ["train/box_offsets", words]) { _ = try DatasetFile.open(path) }
        }
        let path = "\(dir)/len.h5"
        try makeFile(path, offsets: [0, 3])
        assertDataError(path, ["train/box_offsets", "N+1 = 3"]) { _ = try DatasetFile.open(path) }
    }

    func testBoxOutsideTheImage() throws {
        let dir = temporaryDirectory()
        for (i, box) in [[1, 1, 9, 4], [-1, 0, 2, 2], [3, 3, 3, 5]].enumerated() {
            let path = "\(dir)/b\(i).h5"
            try makeFile(path, boxes: box.map { Float($0) } + [2, 2, 8, 8, 0, 0, 3, 3])
            assertDataError(path, ["train/boxes", "box 0", "8x8"]) { _ = try DatasetFile.open(path) }
        }
    }

    func testLabelOutOfRange() throws {
        let path = temporaryDirectory() + "/l.h5"
        try makeFile(path, skip: "val/labels") { f in try f.writeDataset("val/labels", shape: [1], data: [Int32(2)]) }
        assertDataError(path, ["val/labels", "label 2"]) { _ = try DatasetFile.open(path) }
    }
}
