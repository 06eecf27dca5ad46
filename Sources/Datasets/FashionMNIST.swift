import CZlib
import Foundation

/// Fashion-MNIST as shipped by Debian's dataset-fashion-mnist: gzipped IDX files read with zlib's gzread.
struct FashionMNIST: Sendable {
    static let defaultDirectory = defaultFashionMNISTDirectory
    static let classNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                             "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    let count: Int
    let rows: Int
    let cols: Int
    let pixels: [UInt8]
    let labels: [UInt8]

    /// split "train" reads train-*.gz, "test" reads t10k-*.gz.
    init(directory: String, split: String) throws {
        let prefix = split == "train" ? "train" : "t10k"
        let imagePath = "\(directory)/\(prefix)-images-idx3-ubyte.gz"
        let labelPath = "\(directory)/\(prefix)-labels-idx1-ubyte.gz"
        for p in [imagePath, labelPath] where !FileManager.default.fileExists(atPath: p) {
            throw DataError(file: p, field: "", "Fashion-MNIST file not found; install it with "
                            + "`apt-get install dataset-fashion-mnist`, or build the `shapes` kind, which needs no files")
        }
        let (imageDims, image) = try Self.readIDX(imagePath, magic: 0x0803)
        let (labelDims, label) = try Self.readIDX(labelPath, magic: 0x0801)
        guard imageDims.count == 3, labelDims.count == 1, imageDims[0] == labelDims[0] else {
            throw DataError(file: imagePath, field: "IDX header", "dims \(imageDims) do not match labels \(labelDims)")
        }
        (count, rows, cols, pixels, labels) = (imageDims[0], imageDims[1], imageDims[2], image, label)
        if let bad = labels.first(where: { $0 >= 10 }) {
            throw DataError(file: labelPath, field: "labels", "label \(bad) outside 0..<10")
        }
    }

    /// IDX: big-endian magic (0x0000 0x08 ndims), ndims big-endian UInt32 sizes, then the unsigned bytes.
    static func readIDX(_ path: String, magic: UInt32) throws -> ([Int], [UInt8]) {
        guard let gz = gzopen(path, "rb") else { throw DataError(file: path, field: "", "cannot open") }
        defer { gzclose(gz) }
        func read(_ n: Int) throws -> [UInt8] {
            var out = [UInt8](repeating: 0, count: n)
            var done = 0
            while done < n {
                let got = out.withUnsafeMutableBytes { gzread(gz, $0.baseAddress! + done, UInt32(min(n - done, 1 << 30))) }
                guard got > 0 else { throw DataError(file: path, field: "IDX data", "truncated or corrupt gzip after \(done) of \(n) bytes") }
                done += Int(got)
            }
            return out
        }
        func u32(_ b: [UInt8]) -> UInt32 { b.reduce(0) { $0 << 8 | UInt32($1) } }
        let m = u32(try read(4))
        guard m == magic else {
            throw DataError(file: path, field: "IDX header", "magic 0x\(String(m, radix: 16)), expected 0x\(String(magic, radix: 16))")
        }
        let dims = try (0..<Int(magic & 0xFF)).map { _ in Int(u32(try read(4))) }
        return (dims, try read(dims.reduce(1, *)))
    }
}

/// Objects cut from Fashion-MNIST items: cropped to their tight extent, resized, used as alpha masks.
struct FashionMNISTObjects: ObjectSource {
    let data: FashionMNIST
    var classNames: [String] { FashionMNIST.classNames }
    /// Pixels at or above this value (of 255) belong to the item when finding its extent.
    static let threshold: UInt8 = 26

    func pick(_ rng: inout SplitMix64) -> ObjectPick {
        let i = rng.below(data.count)
        let e = extent(i)
        return ObjectPick(label: Int32(data.labels[i]), item: i, aspect: Double(e.w) / Double(e.h))
    }

    private func extent(_ i: Int) -> (x: Int, y: Int, w: Int, h: Int) {
        var (x0, y0, x1, y1) = (data.cols, data.rows, -1, -1)
        let base = i * data.rows * data.cols
        for y in 0..<data.rows {
            for x in 0..<data.cols where data.pixels[base + y * data.cols + x] >= Self.threshold {
                x0 = min(x0, x); x1 = max(x1, x); y0 = min(y0, y); y1 = max(y1, y)
            }
        }
        if x1 < 0 { return (0, 0, data.cols, data.rows) }
        return (x0, y0, x1 - x0 + 1, y1 - y0 + 1)
    }

    func render(_ pick: ObjectPick, width: Int, height: Int, rng: inout SplitMix64) -> [Float] {
        let e = extent(pick.item)
        let base = pick.item * data.rows * data.cols
        var crop = [Float](repeating: 0, count: e.w * e.h)
        for y in 0..<e.h {
            for x in 0..<e.w { crop[y * e.w + x] = Float(data.pixels[base + (e.y + y) * data.cols + e.x + x]) / 255 }
        }
        return resizeBilinear(crop, width: e.w, height: e.h, channels: 1, toWidth: width, toHeight: height)
    }
}

/// Where Debian's dataset-fashion-mnist package installs the IDX files.
public let defaultFashionMNISTDirectory = "/usr/share/datasets/fashion-mnist"
