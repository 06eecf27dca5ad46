import Foundation

/// The dataset kinds `spinebench data build` knows.
public enum DatasetKind: String, CaseIterable, Sendable {
    /// Multi-object detection images from Debian's Fashion-MNIST items (train objects from its train
    /// split, val objects from its t10k split).
    case fmnistDet = "fmnist-det"
    /// The same kind of detection images from seeded synthetic shapes; needs no installed files.
    case shapes
    /// Fashion-MNIST classification: one image per item, one full-image box carrying the class label.
    case fmnistCls = "fmnist-cls"
    /// Seeded synthetic fine-grained classification: 36 classes of specimens that differ in small marks at
    /// several scales (`FineShapes`); needs no installed files.
    case fineShapes = "fine-shapes"

    /// One label per image (a whole-image box), not objects to detect.
    public var isClassification: Bool { self == .fmnistCls || self == .fineShapes }
}

/// Builder parameters (all recorded in the file). Defaults train in minutes on a 2-core machine.
public struct BuildOptions: Sendable {
    public var size: Int
    public var trainCount: Int
    public var valCount: Int
    public var maxObjects: Int
    public var seed: UInt64
    public var channels: Int
    public var fashionMNISTDirectory: String
    /// Detection kinds: object sides (square root of the drawn area, pixels) are log-uniform in
    /// [minSide, maxSide], so each octave, hence each pyramid level, gets the same share of objects.
    public var minSide: Int
    public var maxSide: Int
    /// fine-shapes only: how strongly the class marks stand out, in (0, 1] (`FineShapes`); 1 for every other kind.
    public var markContrast = 1.0

    public init(size: Int = 128, trainCount: Int = 4000, valCount: Int = 500, maxObjects: Int = 6,
                seed: UInt64 = 1, channels: Int = 3, fashionMNISTDirectory: String = defaultFashionMNISTDirectory,
                minSide: Int? = nil, maxSide: Int? = nil) {
        // Defaults: 1/6 to 3/4 of the side (16-72 px at 96 px), which anchors of size 2 strides match.
        self.minSide = minSide ?? max(2, size / 6)
        self.maxSide = maxSide ?? max(2, size * 3 / 4)
        self.size = size
        self.trainCount = trainCount
        self.valCount = valCount
        self.maxObjects = maxObjects
        self.seed = seed
        self.channels = channels
        self.fashionMNISTDirectory = fashionMNISTDirectory
    }

    /// Per-kind defaults: detection 128 px RGB, 4000/500 images, up to 6 objects; Fashion-MNIST classification 28 px
    /// gray (the items' own size), 10000/2000 images; fine-shapes 64 px RGB, 7200/1800 images (200/50 per class).
    public static func defaults(for kind: DatasetKind) -> BuildOptions {
        switch kind {
        case .fmnistCls: return BuildOptions(size: 28, trainCount: 10000, valCount: 2000, maxObjects: 1, channels: 1)
        case .fineShapes: return BuildOptions(size: 64, trainCount: 7200, valCount: 1800, maxObjects: 1, channels: 3)
        case .fmnistDet, .shapes: return BuildOptions()
        }
    }
}

public struct BuildSummary: Sendable {
    public let path: String
    public let kind: DatasetKind
    public let checksum: String
    public let images: [String: Int]
    public let boxes: [String: Int]
}

/// Builds a dataset file at `path` (in memory, then written durably: see DatasetWriter). Deterministic: one seed gives the
/// same content bytes and checksum, whatever the number of threads.
public func buildDataset(_ kind: DatasetKind, options o: BuildOptions, to path: String) throws -> BuildSummary {
    func bad(_ field: String, _ msg: String) -> DataError { DataError(file: path, field: field, msg) }
    guard o.size >= 8, o.size <= 4096 else { throw bad("--size", "expected 8...4096, got \(o.size)") }
    guard o.trainCount >= 1, o.valCount >= 1 else { throw bad("--train/--val", "need at least one image per split") }
    guard o.maxObjects >= 1 else { throw bad("--max-objects", "expected >= 1, got \(o.maxObjects)") }
    guard !kind.isClassification || o.maxObjects == 1 else {
        throw bad("--max-objects", "expected 1 for \(kind.rawValue) (one label per image), got \(o.maxObjects)")
    }
    guard o.channels == 1 || o.channels == 3 else { throw bad("--channels", "expected 1 or 3, got \(o.channels)") }
    guard kind == .fineShapes ? (o.markContrast > 0 && o.markContrast <= 1) : o.markContrast == 1 else {
        throw bad("--mark-contrast", kind == .fineShapes ? "expected a value in (0, 1], got \(o.markContrast)"
                                                         : "applies to fine-shapes only, not \(kind.rawValue)")
    }
    guard o.minSide >= 2, o.minSide <= o.maxSide, 10 * o.maxSide <= 9 * o.size else {
        throw bad("--min-side/--max-side", "expected 2 <= min <= max <= 0.9 x size, got \(o.minSide)...\(o.maxSide) at \(o.size) px")
    }

    let plans = try splitPlans(kind, o)
    let writer = try DatasetWriter(path: path)
    var images: [String: Int] = [:], boxCounts: [String: Int] = [:]
    do {
        for (id, plan) in plans.enumerated() {
            let split = DatasetFile.splitNames[id]
            let m = try writeSplit(writer, split: split, splitID: UInt64(id), count: plan.count, options: o, plan.draw)
            images[split] = plan.count
            boxCounts[split] = m
        }
        let checksum = try writer.finish(name: kind.rawValue, kind: kind.rawValue, classNames: plans[0].classNames,
                                         source: plans[0].source, seed: o.seed, params: o.recordedParams(for: kind))
        return BuildSummary(path: path, kind: kind, checksum: checksum, images: images, boxes: boxCounts)
    } catch {
        writer.abort()
        throw error
    }
}

extension BuildOptions {
    /// The parameters a file records (`param_<key>` attributes, integers); `DatasetFile.checkBuilt` compares them.
    public func recordedParams(for kind: DatasetKind) -> [(String, Int64)] {
        [("size", Int64(size)), ("train", Int64(trainCount)), ("val", Int64(valCount)),
         ("max_objects", Int64(maxObjects)), ("channels", Int64(channels))]
            + (kind.isClassification ? [] : [("min_side", Int64(minSide)), ("max_side", Int64(maxSide))])
            + (kind == .fineShapes ? [("mark_contrast_permille", Int64((markContrast * 1000).rounded()))] : [])
    }
}

extension DatasetFile {
    /// Fails unless this file is what `kind` and `options` build: same builder, seed and recorded
    /// parameters (a file built otherwise, or copied under another file's name, is never used silently).
    public func checkBuilt(as kind: DatasetKind, options o: BuildOptions) throws {
        let remedy = "delete it to have it rebuilt, or point to the right file"
        guard builder == kind.rawValue else {
            throw DataError(file: path, field: "builder", "the file was built by '\(builder)', expected '\(kind.rawValue)'; \(remedy)")
        }
        guard seed == o.seed else {
            throw DataError(file: path, field: "seed", "the file was built with seed \(seed), expected \(o.seed); \(remedy)")
        }
        for (key, want) in o.recordedParams(for: kind) {
            guard let have = params[key] else {
                throw DataError(file: path, field: "param_" + key, "missing; expected \(want); \(remedy)")
            }
            guard have == want else {
                throw DataError(file: path, field: "param_" + key, "the file was built with \(have), expected \(want); \(remedy)")
            }
        }
    }
}

/// What a split is drawn from: a per-image drawing function (given that image's own RNG) and provenance.
struct SplitPlan: Sendable {
    let count: Int
    let classNames: [String]
    let source: String
    let draw: @Sendable (Int, inout SplitMix64) -> DetectionComposer.Drawn
}

/// The per-split drawing plans for a kind; tests use these to redraw exactly what the builder wrote.
func splitPlans(_ kind: DatasetKind, _ o: BuildOptions) throws -> [SplitPlan] {
    let counts = [o.trainCount, o.valCount]
    switch kind {
    case .shapes:
        let composer = DetectionComposer(source: ShapeObjects(), size: o.size, channels: o.channels, maxObjects: o.maxObjects,
                                         sides: o.minSide...o.maxSide)
        return counts.map { n in
            SplitPlan(count: n, classNames: ShapeObjects.names, source: "synthetic shapes (built in, no input files)",
                      draw: { _, rng in composer.draw(&rng) })
        }
    case .fineShapes:
        return counts.map { n in
            SplitPlan(count: n, classNames: FineShapes.classNames,
                      source: "synthetic fine-grained specimens (built in, no input files; Sources/Datasets/FineGrained.swift)",
                      draw: { i, rng in FineShapes.draw(i, size: o.size, channels: o.channels, markContrast: o.markContrast, rng: &rng) })
        }
    case .fmnistDet, .fmnistCls:
        let dir = o.fashionMNISTDirectory
        let source = "Debian dataset-fashion-mnist, \(dir)/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz "
            + "(train split from train-*, val split from t10k-*)"
        return try zip(counts, ["train", "test"]).map { n, split in
            let data = try FashionMNIST(directory: dir, split: split)
            if kind == .fmnistDet {
                let composer = DetectionComposer(source: FashionMNISTObjects(data: data), size: o.size,
                                                 channels: o.channels, maxObjects: o.maxObjects,
                                                 sides: o.minSide...o.maxSide)
                return SplitPlan(count: n, classNames: FashionMNIST.classNames, source: source,
                                 draw: { _, rng in composer.draw(&rng) })
            }
            guard n <= data.count else {
                throw DataError(file: dir, field: split == "train" ? "--train" : "--val",
                                "asked for \(n) images, the \(split) split has \(data.count)")
            }
            return SplitPlan(count: n, classNames: FashionMNIST.classNames, source: source,
                             draw: { i, _ in classificationImage(data, i, size: o.size, channels: o.channels) })
        }
    }
}

/// Item i of Fashion-MNIST as a size x size image (bilinear if size != 28) with one full-image box.
func classificationImage(_ data: FashionMNIST, _ i: Int, size: Int, channels: Int) -> DetectionComposer.Drawn {
    let n = data.rows * data.cols
    var pixels = data.pixels[(i * n)..<((i + 1) * n)].map { Float($0) }
    if size != data.rows || size != data.cols {
        pixels = resizeBilinear(pixels, width: data.cols, height: data.rows, channels: 1, toWidth: size, toHeight: size)
    }
    var out = [UInt8](repeating: 0, count: size * size * channels)
    for (j, v) in pixels.enumerated() {
        for k in 0..<channels { out[j * channels + k] = UInt8(min(255, max(0, v)).rounded()) }
    }
    return DetectionComposer.Drawn(pixels: out, boxes: [Box(x1: 0, y1: 0, x2: Float(size), y2: Float(size))], labels: [Int32(data.labels[i])])
}

/// Draws a split in blocks (images of a block in parallel, each with its own RNG stream
/// (seed, split, index)), writing each block by hyperslab; returns the number of boxes.
private func writeSplit(_ writer: DatasetWriter, split: String, splitID: UInt64, count: Int, options o: BuildOptions,
                        _ draw: @escaping @Sendable (Int, inout SplitMix64) -> DetectionComposer.Drawn) throws -> Int {
    try writer.beginSplit(split, count: count, height: o.size, width: o.size, channels: o.channels)
    var boxes: [Box] = [], labels: [Int32] = [], offsets: [Int64] = [0]
    let block = 128
    var start = 0
    while start < count {
        let n = min(block, count - start), first = start
        let results = drawParallel(n) { j in
            var rng = SplitMix64(seed: o.seed, splitID, UInt64(first + j))
            return draw(first + j, &rng)
        }
        try writer.writeImages(start: start, count: n, results.flatMap { $0.pixels })
        for r in results {
            boxes += r.boxes
            labels += r.labels
            offsets.append(Int64(boxes.count))
        }
        start += n
    }
    try writer.endSplit(boxes: boxes, labels: labels, offsets: offsets)
    return boxes.count
}

/// Runs `body` for 0..<n on all cores; results come back in index order.
func drawParallel<T: Sendable>(_ n: Int, _ body: @escaping @Sendable (Int) -> T) -> [T] {
    let slots = Slots<T>(n)
    let lock = NSLock()
    DispatchQueue.concurrentPerform(iterations: n) { i in
        let r = body(i)
        lock.lock(); slots.items[i] = r; lock.unlock()
    }
    return slots.items.map { $0! }
}

private final class Slots<T>: @unchecked Sendable {
    var items: [T?]
    init(_ n: Int) { items = Array(repeating: nil, count: n) }
}
