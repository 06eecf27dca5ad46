/// A spinebench dataset file, opened and validated.
///
/// Layout (format_version 1), one HDF5 file:
///
///     /                       attributes: name, builder, class_names (string[]), source, seed (int64; the
///                             UInt64 seed's bit pattern), format_version, checksum ("fnv1a64:<16 hex>"),
///                             checksum_algorithm, builder_params ("key=value ..."), param_<key> (int64 each)
///     /train, /val            groups, attribute count (int64)
///       images                uint8   [N,H,W,C]  chunked [1,H,W,C] (one image per chunk), no compression
///       boxes                 float32 [M,4]      x1,y1,x2,y2 in pixels of the stored image
///       labels                int32   [M]        class index into class_names
///       box_offsets           int64   [N+1]      image i owns rows box_offsets[i] ..< box_offsets[i+1]
///
/// Classification files (fmnist-cls) use the same layout with exactly one box per image, covering the
/// whole image, whose label is the image's class.
///
/// `open` checks everything a loader relies on: groups and fields present, dtypes and ranks, offsets
/// starting at 0, non-decreasing and ending at M, boxes inside the image with x1 < x2 and y1 < y2, labels
/// in range. It reads only the small box arrays; images are read later by hyperslab.
public final class DatasetFile: @unchecked Sendable {
    public static let formatVersion = 1
    public static let checksumAlgorithm =
        "fnv1a64 over, for split in (train, val): images uint8 NHWC, boxes float32 LE, labels int32 LE, box_offsets int64 LE"
    public static let splitNames = ["train", "val"]

    public let path: String
    public let name: String
    public let builder: String
    public let classNames: [String]
    public let source: String
    public let seed: UInt64
    public let checksum: String
    public let builderParams: String
    /// The `param_<key>` attributes: the builder's parameters (size, train, val, ...).
    public let params: [String: Int64]
    public let splits: [String: DatasetSplit]
    let file: H5File

    /// Opens and validates; `verify` also recomputes the content checksum (reads every image once) and
    /// fails if it differs from the stored one (e.g. bytes changed on disk).
    public static func open(_ path: String, verify: Bool = false) throws -> DatasetFile {
        let f = try DatasetFile(path: path)
        if verify {
            let check = try f.verifyChecksum()
            guard check.ok else {
                throw DataError(file: path, field: "checksum",
                                "stored \(check.stored) but content hashes to \(check.computed): the file changed or is corrupt")
            }
        }
        return f
    }

    private init(path: String) throws {
        self.path = path
        file = try H5File.open(path)
        let version = try file.intAttribute("format_version")
        guard version == Int64(Self.formatVersion) else {
            throw DataError(file: path, field: "format_version", "expected \(Self.formatVersion), found \(version)")
        }
        name = try file.stringAttribute("name")
        builder = (try? file.stringAttribute("builder")) ?? ""
        classNames = try file.stringArrayAttribute("class_names")
        guard !classNames.isEmpty else { throw DataError(file: path, field: "class_names", "empty") }
        source = try file.stringAttribute("source")
        seed = UInt64(bitPattern: try file.intAttribute("seed"))
        checksum = try file.stringAttribute("checksum")
        builderParams = (try? file.stringAttribute("builder_params")) ?? ""
        var params: [String: Int64] = [:]
        for pair in builderParams.split(separator: " ") {
            let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { continue }
            params[kv[0]] = try file.intAttribute("param_" + kv[0])
        }
        self.params = params
        var splits: [String: DatasetSplit] = [:]
        for s in Self.splitNames {
            guard file.exists(s) else { throw DataError(file: path, field: s, "missing group") }
            splits[s] = try DatasetSplit(file: file, name: s, classCount: classNames.count)
        }
        self.splits = splits
    }

    public func split(_ name: String) throws -> DatasetSplit {
        guard let s = splits[name] else {
            throw DataError(file: path, field: name, "no such split (have \(Self.splitNames.joined(separator: ", ")))")
        }
        return s
    }

    /// Recomputes the content checksum (reads every image once, in blocks) and compares it with the stored one.
    public func verifyChecksum() throws -> (stored: String, computed: String, ok: Bool) {
        var hash = FNV1a64()
        for s in Self.splitNames {
            let split = splits[s]!
            let block = 256
            var start = 0
            while start < split.count {
                let n = min(block, split.count - start)
                hash.update(try split.readImages(start: start, count: n))
                start += n
            }
            hash.update(split.allBoxes.flatMap { [$0.x1, $0.y1, $0.x2, $0.y2] })
            hash.update(split.allLabels)
            hash.update(split.offsets)
        }
        return (checksum, hash.hex, hash.hex == checksum)
    }
}

/// One split: images stay on disk (read by hyperslab), boxes/labels/offsets are held in memory.
public final class DatasetSplit: @unchecked Sendable {
    public let name: String
    public let count: Int
    public let height: Int
    public let width: Int
    public let channels: Int
    public let allBoxes: [Box]
    public let allLabels: [Int32]
    public let offsets: [Int64]
    let images: H5Dataset

    init(file: H5File, name: String, classCount: Int) throws {
        self.name = name
        let path = file.path
        func fail(_ field: String, _ msg: String) -> DataError { DataError(file: path, field: "\(name)/\(field)", msg) }

        images = try file.openDataset("\(name)/images")
        try images.expect(kind: .uint8, rank: 4)
        (count, height, width, channels) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3])
        guard height > 0, width > 0, channels == 1 || channels == 3 else {
            throw fail("images", "expected [N,H,W,C] with H, W > 0 and C 1 or 3, found \(images.shape)")
        }

        let boxes = try file.openDataset("\(name)/boxes")
        try boxes.expect(kind: .float32, rank: 2)
        guard boxes.shape[1] == 4 else { throw fail("boxes", "expected shape [M,4], found \(boxes.shape)") }
        let m = boxes.shape[0]
        let labels = try file.openDataset("\(name)/labels")
        try labels.expect(kind: .int32, rank: 1)
        guard labels.shape[0] == m else { throw fail("labels", "expected \(m) labels (one per box), found \(labels.shape[0])") }
        let offs = try file.openDataset("\(name)/box_offsets")
        try offs.expect(kind: .int64, rank: 1)
        guard offs.shape[0] == count + 1 else {
            throw fail("box_offsets", "expected N+1 = \(count + 1) entries, found \(offs.shape[0])")
        }

        let flat: [Float] = try boxes.read(start: [0, 0], count: boxes.shape)
        allLabels = try labels.read(start: [0], count: [m])
        offsets = try offs.read(start: [0], count: [count + 1])

        guard offsets[0] == 0 else { throw fail("box_offsets", "must start at 0, found \(offsets[0])") }
        for i in 0..<count where offsets[i + 1] < offsets[i] {
            throw fail("box_offsets", "not non-decreasing at image \(i): \(offsets[i]) then \(offsets[i + 1])")
        }
        guard offsets[count] == Int64(m) else {
            throw fail("box_offsets", "last offset \(offsets[count]) != number of boxes M = \(m)")
        }
        var list: [Box] = []
        list.reserveCapacity(m)
        let (w, h) = (Float(width), Float(height))
        for j in 0..<m {
            let b = Box(x1: flat[4 * j], y1: flat[4 * j + 1], x2: flat[4 * j + 2], y2: flat[4 * j + 3])
            guard b.x1.isFinite, b.y1.isFinite, b.x2.isFinite, b.y2.isFinite,
                  b.x1 >= 0, b.y1 >= 0, b.x2 <= w, b.y2 <= h, b.x1 < b.x2, b.y1 < b.y2 else {
                throw fail("boxes", "box \(j) \(b) is not inside the \(width)x\(height) image with x1 < x2, y1 < y2")
            }
            guard allLabels[j] >= 0, Int(allLabels[j]) < classCount else {
                throw fail("labels", "label \(allLabels[j]) of box \(j) outside 0..<\(classCount)")
            }
            list.append(b)
        }
        allBoxes = list
    }

    public var imageBytes: Int { height * width * channels }

    public func boxes(of image: Int) -> ArraySlice<Box> { allBoxes[Int(offsets[image])..<Int(offsets[image + 1])] }
    public func labels(of image: Int) -> ArraySlice<Int32> { allLabels[Int(offsets[image])..<Int(offsets[image + 1])] }

    /// Reads images [start, start+n) as uint8 NHWC.
    public func readImages(start: Int, count n: Int) throws -> [UInt8] {
        try images.read(start: [start, 0, 0, 0], count: [n, height, width, channels])
    }

    /// Reads one image into `buffer` (imageBytes bytes) by hyperslab.
    public func readImage(_ i: Int, into buffer: UnsafeMutablePointer<UInt8>) throws {
        try images.read(start: [i, 0, 0, 0], count: [1, height, width, channels], into: buffer)
    }
}
