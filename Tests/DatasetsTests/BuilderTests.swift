import Foundation
import XCTest
@testable import Datasets

final class BuilderTests: XCTestCase {
    func testLayoutOnDisk() throws {
        let dir = temporaryDirectory()
        let (path, o) = try smallShapes(dir)
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: dir).contains { $0.contains(".tmp-") },
                       "temporary build file left behind")
        let f = try H5File.open(path)
        XCTAssertEqual(try f.stringAttribute("name"), "shapes")
        XCTAssertEqual(try f.stringArrayAttribute("class_names"), ShapeObjects.names)
        XCTAssertEqual(try f.intAttribute("format_version"), 1)
        XCTAssertEqual(try f.intAttribute("seed"), 7)
        XCTAssertEqual(try f.intAttribute("param_size"), 64)
        XCTAssertTrue(try f.stringAttribute("checksum").hasPrefix("fnv1a64:"))
        XCTAssertTrue(try f.stringAttribute("source").contains("synthetic"))
        for (split, n) in [("train", o.trainCount), ("val", o.valCount)] {
            let images = try f.openDataset("\(split)/images")
            XCTAssertEqual(images.shape, [n, 64, 64, 3])
            XCTAssertEqual(images.kind, .uint8)
            let boxes = try f.openDataset("\(split)/boxes")
            XCTAssertEqual(boxes.kind, .float32)
            XCTAssertEqual(boxes.shape[1], 4)
            XCTAssertEqual(try f.openDataset("\(split)/labels").kind, .int32)
            let offsets = try f.read("\(split)/box_offsets", as: Int64.self)
            XCTAssertEqual(offsets.count, n + 1)
            XCTAssertEqual(offsets.last, Int64(boxes.shape[0]))
            XCTAssertEqual(try f.intAttribute("count", on: split), Int64(n))
        }
    }

    /// h5dump (hdf5-tools) must read the file; skipped where the tool is not installed.
    func testReadableByH5dump() throws {
        let h5dump = ["/usr/bin/h5dump", "/usr/local/bin/h5dump"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let h5dump else { throw XCTSkip("h5dump not installed") }
        let (path, _) = try smallShapes(temporaryDirectory())
        let p = Process()
        p.executableURL = URL(fileURLWithPath: h5dump)
        p.arguments = ["-H", "-A", path]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        for needle in ["GROUP \"train\"", "GROUP \"val\"", "DATASET \"images\"", "H5T_STD_U8LE",
                       "DATASET \"box_offsets\"", "H5T_STD_I64LE", "H5T_IEEE_F32LE", "\"class_names\""] {
            XCTAssertTrue(out.contains(needle), "h5dump output lacks \(needle)")
        }
    }

    func testSameSeedSameChecksumDifferentSeedDifferent() throws {
        let dir = temporaryDirectory()
        let (a, _) = try smallShapes(dir, seed: 3, name: "a.h5")
        let (b, _) = try smallShapes(dir, seed: 3, name: "b.h5")
        let (c, _) = try smallShapes(dir, seed: 4, name: "c.h5")
        let (fa, fb, fc) = (try DatasetFile.open(a), try DatasetFile.open(b), try DatasetFile.open(c))
        XCTAssertEqual(fa.checksum, fb.checksum)
        XCTAssertNotEqual(fa.checksum, fc.checksum)
        XCTAssertEqual(try fa.splits["train"]!.readImages(start: 0, count: 24), try fb.splits["train"]!.readImages(start: 0, count: 24))
        let check = try fa.verifyChecksum()
        XCTAssertTrue(check.ok)
        XCTAssertEqual(check.computed, fa.checksum)
    }

    /// Object sides are log-uniform over [min_side, max_side]: about half the boxes fall below the range's
    /// geometric middle, and none is far outside it (boxes are tight around the mask, so a little smaller).
    func testSidesAreLogUniformOverTheRange() throws {
        let o = BuildOptions(size: 128, trainCount: 240, valCount: 1, maxObjects: 6, seed: 11, minSide: 16, maxSide: 96)
        let plan = try splitPlans(.shapes, o)[0]
        var sides: [Float] = []
        for i in 0..<plan.count {
            var rng = SplitMix64(seed: o.seed, 0, UInt64(i))
            sides += plan.draw(i, &rng).boxes.map { $0.area.squareRoot() }
        }
        XCTAssertGreaterThan(sides.count, 600)
        let middle = Float((16.0 * 96.0).squareRoot())
        let below = Double(sides.filter { $0 < middle }.count) / Double(sides.count)
        XCTAssertEqual(below, 0.5, accuracy: 0.1)
        XCTAssertLessThanOrEqual(sides.max()!, 96 * 1.05)
        XCTAssertGreaterThanOrEqual(Double(sides.filter { $0 >= 16 * 0.7 }.count) / Double(sides.count), 0.97)
    }

    /// Boxes are tight around the pasted mask: a source whose mask leaves a 1-2 px empty margin in its
    /// patch gives boxes whose inside is all object colour (a channel at 255) and whose one-pixel ring
    /// outside has none (the background never reaches 255).
    func testBoxesAreTightAroundTheMask() throws {
        struct Framed: ObjectSource {
            var classNames: [String] { ["framed"] }
            func pick(_ rng: inout SplitMix64) -> ObjectPick { ObjectPick(label: 0, item: 0, aspect: 1) }
            func render(_ p: ObjectPick, width w: Int, height h: Int, rng: inout SplitMix64) -> [Float] {
                (0..<(w * h)).map { i in
                    let (x, y) = (i % w, i / w)
                    return x >= 1 && y >= 2 && x < w - 1 && y < h - 1 ? 1 : 0
                }
            }
        }
        let size = 64
        let composer = DetectionComposer(source: Framed(), size: size, channels: 3, maxObjects: 1, sides: 8...40)
        var checked = 0
        for i in 0..<40 {
            var rng = SplitMix64(seed: 9, 0, UInt64(i))
            let d = composer.draw(&rng)
            guard let b = d.boxes.first else { continue }
            func bright(_ x: Int, _ y: Int) -> Bool { (0..<3).contains { d.pixels[(y * size + x) * 3 + $0] == 255 } }
            let (x1, y1, x2, y2) = (Int(b.x1), Int(b.y1), Int(b.x2), Int(b.y2))
            XCTAssertTrue(b.x1 >= 0 && b.y1 >= 0 && b.x2 <= Float(size) && b.y2 <= Float(size) && x1 < x2 && y1 < y2)
            for y in y1..<y2 { for x in x1..<x2 { XCTAssertTrue(bright(x, y), "pixel (\(x),\(y)) inside \(b) is not object") } }
            for x in x1..<x2 {
                if y1 > 0 { XCTAssertFalse(bright(x, y1 - 1)) }
                if y2 < size { XCTAssertFalse(bright(x, y2)) }
            }
            for y in y1..<y2 {
                if x1 > 0 { XCTAssertFalse(bright(x1 - 1, y)) }
                if x2 < size { XCTAssertFalse(bright(x2, y)) }
            }
            checked += 1
        }
        XCTAssertGreaterThan(checked, 20)
    }

    func testFashionMNISTDetectionAndClassification() throws {
        guard fashionMNISTInstalled else { throw XCTSkip("dataset-fashion-mnist not installed") }
        let dir = temporaryDirectory()
        let o = BuildOptions(size: 96, trainCount: 12, valCount: 6, maxObjects: 3, seed: 2)
        let s = try buildDataset(.fmnistDet, options: o, to: "\(dir)/det.h5")
        let f = try DatasetFile.open(s.path)
        XCTAssertEqual(f.classNames, ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"])
        XCTAssertTrue(f.source.contains("fashion-mnist"))
        XCTAssertEqual(f.splits["val"]!.count, 6)
        XCTAssertGreaterThanOrEqual(f.splits["train"]!.allBoxes.count, 12)

        // Classification: item i of the IDX files, one full-image box labelled with the item's class.
        var co = BuildOptions.defaults(for: .fmnistCls)
        co.trainCount = 20
        co.valCount = 5
        let cs = try buildDataset(.fmnistCls, options: co, to: "\(dir)/cls.h5")
        let cf = try DatasetFile.open(cs.path)
        let train = cf.splits["train"]!
        XCTAssertEqual([train.height, train.width, train.channels], [28, 28, 1])
        let mnist = try FashionMNIST(directory: defaultFashionMNISTDirectory, split: "train")
        XCTAssertEqual(try train.readImages(start: 0, count: 20), Array(mnist.pixels[0..<(20 * 784)]))
        XCTAssertEqual(train.allLabels, mnist.labels[0..<20].map { Int32($0) })
        XCTAssertEqual(train.allBoxes, Array(repeating: Box(x1: 0, y1: 0, x2: 28, y2: 28), count: 20))
        XCTAssertEqual(train.offsets, (0...20).map { Int64($0) })
    }

    func testMissingFashionMNISTSaysWhatToDo() {
        let dir = temporaryDirectory()
        var o = BuildOptions(size: 64, trainCount: 2, valCount: 2)
        o.fashionMNISTDirectory = dir + "/nowhere"
        assertDataError(dir + "/nowhere", ["apt-get install dataset-fashion-mnist", "shapes"]) {
            _ = try buildDataset(.fmnistDet, options: o, to: "\(dir)/x.h5")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(dir)/x.h5"))
        XCTAssertTrue(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains("tmp") }.isEmpty)
    }

    func testInspectReportAndPreviewPNG() throws {
        let dir = temporaryDirectory()
        let (path, _) = try smallShapes(dir)
        let r = try inspectDataset(path, areaScale: 1, preview: "\(dir)/p.png", previewCount: 6)
        XCTAssertTrue(r.checksumOK)
        XCTAssertTrue(r.text.contains("checksum: stored fnv1a64:"))
        XCTAssertTrue(r.text.contains("split train: 24 images 64x64x3"))
        let f = try DatasetFile.open(path)
        XCTAssertEqual(r.sizeHistogram["train"]!.reduce(0, +), f.splits["train"]!.allBoxes.count)
        XCTAssertEqual(r.classHistogram["val"]!.reduce(0, +), f.splits["val"]!.allBoxes.count)
        let png = [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(dir)/p.png")))
        XCTAssertEqual(Array(png[0..<8]), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        XCTAssertEqual(String(decoding: png[12..<16], as: UTF8.self), "IHDR")
        XCTAssertEqual(String(decoding: png[(png.count - 8)..<(png.count - 4)], as: UTF8.self), "IEND")
    }
}
