import Foundation
import XCTest
@testable import Datasets

/// The fine-grained classification set (`fine-shapes`, FineGrained.swift): deterministic for a seed, checksummed,
/// balanced, its classes really differ only in their marks, and readable by h5py.
final class FineShapesTests: XCTestCase {
    func build(_ dir: String, seed: UInt64, name: String, size: Int = 48) throws -> String {
        let o = BuildOptions(size: size, trainCount: 72, valCount: 36, maxObjects: 1, seed: seed, channels: 3)
        let path = "\(dir)/\(name)"
        _ = try buildDataset(.fineShapes, options: o, to: path)
        return path
    }

    func testSameSeedSameBytesDifferentSeedDifferentAndChecksumVerifies() throws {
        let dir = temporaryDirectory()
        let (a, b, c) = (try build(dir, seed: 5, name: "a.h5"), try build(dir, seed: 5, name: "b.h5"), try build(dir, seed: 6, name: "c.h5"))
        let (fa, fb, fc) = (try DatasetFile.open(a, verify: true), try DatasetFile.open(b), try DatasetFile.open(c))
        XCTAssertEqual(fa.checksum, fb.checksum)
        XCTAssertNotEqual(fa.checksum, fc.checksum)
        XCTAssertEqual(try fa.splits["val"]!.readImages(start: 0, count: 36), try fb.splits["val"]!.readImages(start: 0, count: 36))
        let check = try fa.verifyChecksum()
        XCTAssertTrue(check.ok)
        XCTAssertEqual(fa.builder, "fine-shapes")
        XCTAssertEqual(fa.classNames.count, 36)
        XCTAssertEqual(fa.classNames[0], "ellipse/band-top/spot-dots")
        XCTAssertEqual(fa.classNames[35], "bell/band-bottom/spot-vstripes")
        // Balanced: image i has class i mod 36, one whole-image box each.
        let train = fa.splits["train"]!
        XCTAssertEqual((0..<72).map { Int(train.labels(of: $0).first!) }, (0..<72).map { $0 % 36 })
        XCTAssertEqual(train.boxes(of: 5).count, 1)
        // The file's builder parameters are what was asked for, and checkBuilt refuses another seed.
        XCTAssertNoThrow(try fa.checkBuilt(as: .fineShapes, options: BuildOptions(size: 48, trainCount: 72, valCount: 36,
                                                                                  maxObjects: 1, seed: 5, channels: 3)))
        assertDataError(a, ["seed", "6"]) {
            try fa.checkBuilt(as: .fineShapes, options: BuildOptions(size: 48, trainCount: 72, valCount: 36, maxObjects: 1,
                                                                     seed: 6, channels: 3))
        }
    }

    /// Two classes of one super-class, drawn from the same random stream, differ only where their marks are:
    /// the silhouette, colour, position and background are shared. Classes 0 (band top, dots) and 1 (band top,
    /// horizontal stripes) differ only inside the small spot; 0 and 3 (band middle) differ in the band and spot
    /// position; 0 and 9 (a diamond) differ in the silhouette too.
    func testClassesOfASuperClassDifferOnlyInSmallMarks() {
        let size = 64
        func pixels(_ label: Int) -> [UInt8] {
            var rng = SplitMix64(seed: 11, 0, 3)
            return FineShapes.draw(label, size: size, channels: 3, markContrast: 1, rng: &rng).pixels
        }
        func changed(_ a: [UInt8], _ b: [UInt8]) -> Double {
            var n = 0
            for p in 0..<(size * size) where (0..<3).contains(where: { a[p * 3 + $0] != b[p * 3 + $0] }) { n += 1 }
            return Double(n) / Double(size * size)
        }
        let base = pixels(0)
        let spotOnly = changed(base, pixels(1)), bandAndSpot = changed(base, pixels(3)), otherShape = changed(base, pixels(9))
        XCTAssertEqual(changed(base, pixels(0)), 0)
        XCTAssertGreaterThan(spotOnly, 0.003, "the spot textures must differ")
        XCTAssertLessThan(spotOnly, 0.06, "only the small spot may differ between classes 0 and 1")
        XCTAssertGreaterThan(bandAndSpot, 2 * spotOnly)
        XCTAssertGreaterThan(otherShape, 2 * spotOnly)
    }

    /// `markContrast` scales how far the marks stand out and nothing else: two classes of one super-class drawn
    /// from one random stream differ in the same pixels at any contrast, by about the contrast's share of their
    /// full-contrast difference; the experiment file's value is recorded in the file, and checked when reused.
    func testMarkContrastScalesOnlyTheMarks() throws {
        let size = 64
        func pixels(_ label: Int, _ contrast: Double) -> [Double] {
            var rng = SplitMix64(seed: 11, 0, 3)
            return FineShapes.draw(label, size: size, channels: 3, markContrast: contrast, rng: &rng).pixels.map(Double.init)
        }
        func difference(_ contrast: Double) -> (pixels: Int, total: Double) {
            let (a, b) = (pixels(0, contrast), pixels(3, contrast))
            return (zip(a, b).filter { $0 != $1 }.count, zip(a, b).map { abs($0 - $1) }.reduce(0, +))
        }
        let (full, faint) = (difference(1), difference(0.2))
        XCTAssertGreaterThan(faint.pixels, full.pixels / 2, "the same marks, fainter")
        XCTAssertEqual(faint.total / full.total, 0.2, accuracy: 0.06, "the marks' difference scales with the contrast")

        let dir = temporaryDirectory()
        var o = BuildOptions(size: 32, trainCount: 36, valCount: 36, maxObjects: 1, seed: 5, channels: 3)
        o.markContrast = 0.25
        _ = try buildDataset(.fineShapes, options: o, to: dir + "/faint.h5")
        let file = try DatasetFile.open(dir + "/faint.h5", verify: true)
        XCTAssertEqual(file.params["mark_contrast_permille"], 250)
        XCTAssertNoThrow(try file.checkBuilt(as: .fineShapes, options: o))
        o.markContrast = 1
        assertDataError(dir + "/faint.h5", ["param_mark_contrast_permille", "250", "1000"]) {
            try file.checkBuilt(as: .fineShapes, options: o)
        }
        for (kind, contrast, words) in [(DatasetKind.fineShapes, 0.0, ["--mark-contrast", "(0, 1]"]),
                                        (.fineShapes, 1.5, ["--mark-contrast", "(0, 1]"]),
                                        (.shapes, 0.5, ["--mark-contrast", "fine-shapes only"])] {
            o.markContrast = contrast
            assertDataError(dir + "/bad.h5", words) { _ = try buildDataset(kind, options: o, to: dir + "/bad.h5") }
        }
    }

    /// Every silhouette is left-right symmetric, so the loader's horizontal flips keep an image's class.
    func testSilhouettesAreMirrorSymmetric() {
        for s in 0..<4 {
            for i in 0..<41 {
                for j in 0..<41 {
                    let (u, v) = (Double(i) / 20 - 1, Double(j) / 20 - 1)
                    XCTAssertEqual(FineShapes.inside(s, u, v), FineShapes.inside(s, -u, v), "super-class \(s) at (\(u), \(v))")
                }
            }
        }
        // Stripes stay stripes of the same orientation under x -> -x (dots: the same pattern, phase-shifted).
        for k in [1, 2] {
            let a = (0..<20).map { FineShapes.texture(k, Double($0) + 0.3, 1.7, period: 4) }
            let b = (0..<20).map { FineShapes.texture(k, -(Double($0) + 0.3), 1.7, period: 4) }
            XCTAssertEqual(k == 1 ? a : a.map { -$0 }, b)
        }
    }

    /// h5py reads what the builder wrote: the layout of docs/design.md §6, the class names, and the same checksum
    /// recomputed in Python from the raw arrays. Skips when no Python with h5py is found (SPINEBENCH_PYTHON, else
    /// /usr/bin/python3 with Debian's python3-h5py, which `make deps` installs).
    func testReadableByH5py() throws {
        let candidates = [ProcessInfo.processInfo.environment["SPINEBENCH_PYTHON"], "/usr/bin/python3"].compactMap { $0 }
        guard let python = candidates.first(where: { Self.run($0, ["-c", "import h5py"]).status == 0 }) else {
            throw XCTSkip("no python with h5py (install python3-h5py or set SPINEBENCH_PYTHON)")
        }
        let path = try build(temporaryDirectory(), seed: 9, name: "fine.h5", size: 32)
        let file = try DatasetFile.open(path)
        let script = """
            import sys, h5py, numpy as np
            f = h5py.File(sys.argv[1], "r")
            h = 0xcbf29ce484222325
            for split in ("train", "val"):
                g = f[split]
                for name in ("images", "boxes", "labels", "box_offsets"):
                    for b in np.ascontiguousarray(g[name][()]).astype(g[name].dtype.newbyteorder("<")).tobytes():
                        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in f.attrs["class_names"]]
            g = f["train"]
            print(f.attrs["builder"].decode() if isinstance(f.attrs["builder"], bytes) else f.attrs["builder"])
            print(len(names), names[1])
            print(g["images"].shape, g["images"].dtype, int(g.attrs["count"]))
            print(list(g["labels"][:4]), list(g["box_offsets"][:3]))
            print("fnv1a64:%016x" % h)
            print(f.attrs["checksum"].decode() if isinstance(f.attrs["checksum"], bytes) else f.attrs["checksum"])
            """
        let (status, out) = Self.run(python, ["-c", script, path])
        XCTAssertEqual(status, 0, out)
        let lines = out.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 6, out)
        guard lines.count == 6 else { return }
        XCTAssertEqual(lines[0], "fine-shapes")
        XCTAssertEqual(lines[1], "36 ellipse/band-top/spot-hstripes")
        XCTAssertEqual(lines[2], "(72, 32, 32, 3) uint8 72")
        XCTAssertEqual(lines[3], "[0, 1, 2, 3] [0, 1, 2]")
        XCTAssertEqual(lines[4], file.checksum, "the checksum recomputed by Python")
        XCTAssertEqual(lines[5], file.checksum)
    }

    static func run(_ executable: String, _ arguments: [String]) -> (status: Int32, output: String) {
        guard FileManager.default.isExecutableFile(atPath: executable) else { return (-1, "\(executable) not found") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        do { try p.run() } catch { return (-1, "\(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
