import Foundation

/// Pixel normalisation applied by the loader.
public enum Normalization: Sendable, Equatable {
    /// v / 255 - 0.5 in every channel (the default: the synthetic data has no natural mean/std).
    case centered
    /// (v / 255 - mean[c]) / std[c] per channel.
    case meanStd(mean: [Float], std: [Float])

    func gainBias(channels: Int) -> ([Float], [Float]) {
        switch self {
        case .centered:
            return (Array(repeating: 1 / 255, count: channels), Array(repeating: -0.5, count: channels))
        case .meanStd(let mean, let std):
            return ((0..<channels).map { 1 / (255 * std[$0 % std.count]) },
                    (0..<channels).map { -mean[$0 % mean.count] / std[$0 % std.count] })
        }
    }
}

public struct LoaderOptions: Sendable {
    public var batchSize: Int
    /// Side of the square network input; nil keeps the stored image size.
    public var outputSize: Int?
    /// Training: shuffled order per epoch, flips and scale jitter, incomplete last batch dropped.
    /// Evaluation (false): file order, no augmentation, the last batch may be smaller.
    public var training: Bool
    public var seed: UInt64
    public var jitter: ClosedRange<Double>
    public var flipProbability: Double
    public var normalization: Normalization
    /// Batches prepared ahead on the loader's thread (bounded queue depth, 1 or 2 is plenty).
    public var prefetch: Int
    /// Use only the first `limit` images of the split (quick profiles).
    public var limit: Int?
    /// Boxes narrower or shorter than this many output pixels after clipping are dropped.
    public var minBoxSide: Float

    public init(batchSize: Int = 16, outputSize: Int? = nil, training: Bool = true, seed: UInt64 = 0,
                jitter: ClosedRange<Double> = 0.8...1.2, flipProbability: Double = 0.5,
                normalization: Normalization = .centered, prefetch: Int = 2, limit: Int? = nil, minBoxSide: Float = 1) {
        self.batchSize = batchSize
        self.outputSize = outputSize
        self.training = training
        self.seed = seed
        self.jitter = jitter
        self.flipProbability = flipProbability
        self.normalization = normalization
        self.prefetch = prefetch
        self.limit = limit
        self.minBoxSide = minBoxSide
    }
}

/// One batch, ready for the network: plain arrays, no Engine types.
public struct Batch: Sendable {
    /// NHWC float32, normalised, batchSize x height x width x channels.
    public var images: [Float]
    public var batchSize: Int
    public var height: Int
    public var width: Int
    public var channels: Int
    /// Per image: boxes in output pixels (x1, y1, x2, y2) and their class labels.
    public var boxes: [[Box]]
    public var labels: [[Int32]]
    /// Index of each image within its split.
    public var imageIds: [Int]
    /// Output pixels per stored-image pixel; in evaluation mode stored = output / scale.
    public var scales: [Float]
    /// The full mapping (flip, scale, offset) per image, for mapping detections back.
    public var transforms: [ImageTransform]
    public var epoch: Int
    public var index: Int
}

/// Reads batches from a dataset file by hyperslab (never the whole file), shuffles per epoch with a
/// seeded RNG, augments (protocol A), normalises, and prefetches the next batches on its own thread.
/// Everything random comes from streams keyed by (seed, epoch, image id), so batches are identical
/// whatever the thread timing. Use: `start(epoch:)`, then `next()` until it returns nil.
public final class DetectionLoader: @unchecked Sendable {
    public let file: DatasetFile
    public let split: DatasetSplit
    public let options: LoaderOptions
    public let outputSize: Int
    public let imageCount: Int
    private let gain: [Float], bias: [Float]
    private var queue: BatchQueue?

    public convenience init(path: String, split: String, options: LoaderOptions = LoaderOptions()) throws {
        try self.init(file: DatasetFile.open(path), split: split, options: options)
    }

    public init(file: DatasetFile, split name: String, options: LoaderOptions = LoaderOptions()) throws {
        self.file = file
        split = try file.split(name)
        self.options = options
        outputSize = options.outputSize ?? max(split.height, split.width)
        imageCount = min(split.count, options.limit ?? split.count)
        (gain, bias) = options.normalization.gainBias(channels: split.channels)
        func bad(_ field: String, _ msg: String) -> DataError { DataError(file: file.path, field: field, msg) }
        guard options.batchSize >= 1 else { throw bad("batchSize", "expected >= 1, got \(options.batchSize)") }
        guard outputSize >= 1 else { throw bad("outputSize", "expected >= 1, got \(outputSize)") }
        guard options.jitter.lowerBound > 0 else { throw bad("jitter", "scales must be positive") }
        if case .meanStd(let m, let s) = options.normalization, m.isEmpty || s.isEmpty || s.contains(0) {
            throw bad("normalization", "mean/std must be non-empty with non-zero std")
        }
    }

    deinit { queue?.cancel() }

    public var classNames: [String] { file.classNames }

    public var batchesPerEpoch: Int {
        options.training ? imageCount / options.batchSize : (imageCount + options.batchSize - 1) / options.batchSize
    }

    /// Image ids in the order epoch `epoch` visits them.
    public func order(epoch: Int) -> [Int] {
        guard options.training else { return Array(0..<imageCount) }
        var rng = SplitMix64(seed: options.seed, 0x5_0FF1E, UInt64(epoch))
        return rng.permutation(imageCount)
    }

    /// The mapping for one image in one epoch: random flip, jitter and crop when training, plain
    /// fit-and-pad otherwise.
    public func transform(image id: Int, epoch: Int) -> ImageTransform {
        let (w, h) = (split.width, split.height)
        let fit = Double(outputSize) / Double(max(w, h))
        guard options.training else {
            return ImageTransform(scale: Float(fit), originalWidth: w, originalHeight: h)
        }
        var rng = SplitMix64(seed: options.seed, 0xA_C6, UInt64(epoch), UInt64(id))
        let flipped = rng.coin(options.flipProbability)
        let s = fit * rng.uniform(options.jitter.lowerBound, options.jitter.upperBound)
        func offset(_ extent: Double) -> Float {
            let spare = Int((extent - Double(outputSize)).rounded(.down))
            return spare > 0 ? -Float(rng.below(spare + 1)) : 0
        }
        let ox = offset(Double(w) * s), oy = offset(Double(h) * s)
        return ImageTransform(scale: Float(s), offsetX: ox, offsetY: oy, flipped: flipped, originalWidth: w, originalHeight: h)
    }

    /// Builds batch `index` of `epoch` synchronously (what the prefetch thread runs).
    public func makeBatch(epoch: Int, index: Int) throws -> Batch {
        let ids = Array(order(epoch: epoch).dropFirst(index * options.batchSize).prefix(options.batchSize))
        let c = split.channels, size = outputSize
        var images = [Float](repeating: 0, count: ids.count * size * size * c)
        var raw = [UInt8](repeating: 0, count: split.imageBytes)
        var batch = Batch(images: [], batchSize: ids.count, height: size, width: size, channels: c,
                          boxes: [], labels: [], imageIds: ids, scales: [], transforms: [], epoch: epoch, index: index)
        for (j, id) in ids.enumerated() {
            try raw.withUnsafeMutableBufferPointer { try split.readImage(id, into: $0.baseAddress!) }
            let t = transform(image: id, epoch: epoch)
            raw.withUnsafeBufferPointer { src in
                images.withUnsafeMutableBufferPointer { dst in
                    t.warp(src.baseAddress!, channels: c, outputSize: size, gain: gain, bias: bias,
                           into: dst.baseAddress! + j * size * size * c)
                }
            }
            let (b, l) = t.transform(boxes: split.boxes(of: id), labels: split.labels(of: id), outputSize: size,
                                     minSide: options.training ? options.minBoxSide : 0)
            batch.boxes.append(b)
            batch.labels.append(l)
            batch.scales.append(t.scale)
            batch.transforms.append(t)
        }
        batch.images = images
        return batch
    }

    /// Writes a batch as a PNG grid (pixels un-normalised, boxes as the network sees them) to check augmentation.
    public func writePreview(_ batch: Batch, to path: String) throws {
        let n = batch.height * batch.width, c = batch.channels
        let tiles = (0..<batch.batchSize).map { j in
            var rgb = [UInt8](repeating: 0, count: n * 3)
            for p in 0..<n {
                for k in 0..<3 {
                    let ch = c == 3 ? k : 0
                    let v = (batch.images[(j * n + p) * c + ch] - bias[ch]) / gain[ch]
                    rgb[p * 3 + k] = UInt8(min(255, max(0, v)).rounded())
                }
            }
            return Preview.Tile(rgb: rgb, width: batch.width, height: batch.height,
                                boxes: batch.boxes[j], labels: batch.labels[j])
        }
        try Preview.write(tiles, to: path)
    }

    /// Starts (or restarts) prefetching epoch `epoch` from its first batch.
    public func start(epoch: Int) {
        queue?.cancel()
        let q = BatchQueue(capacity: max(1, options.prefetch))
        queue = q
        let count = batchesPerEpoch
        // Weak: a loader dropped mid-epoch is released, its deinit cancels the queue, the thread exits.
        let thread = Thread { [weak self] in
            for b in 0..<count {
                let made: Result<Batch, Error>? = {
                    guard let loader = self else { return nil }
                    return Result { try loader.makeBatch(epoch: epoch, index: b) }
                }()
                guard let r = made, q.put(r) else { return }
                if case .failure = r { break }
            }
            q.finish()
        }
        thread.name = "DetectionLoader prefetch"
        thread.start()
    }

    /// The next batch of the current epoch, or nil when the epoch is over. Starts epoch 0 if needed.
    public func next() throws -> Batch? {
        if queue == nil { start(epoch: 0) }
        return try queue!.take()?.get()
    }
}

/// A bounded FIFO between the prefetch thread (put blocks when full) and the consumer (take blocks when
/// empty). Cancel wakes and releases a producer that is no longer wanted.
final class BatchQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [Result<Batch, Error>] = []
    private let capacity: Int
    private var finished = false
    private var cancelled = false

    init(capacity: Int) { self.capacity = capacity }

    func put(_ item: Result<Batch, Error>) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while items.count >= capacity && !cancelled { condition.wait() }
        if cancelled { return false }
        items.append(item)
        condition.broadcast()
        return true
    }

    func take() -> Result<Batch, Error>? {
        condition.lock()
        defer { condition.unlock() }
        while items.isEmpty && !finished { condition.wait() }
        if items.isEmpty { return nil }
        let item = items.removeFirst()
        condition.broadcast()
        return item
    }

    func finish() {
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    func cancel() {
        condition.lock()
        cancelled = true
        finished = true
        items.removeAll()
        condition.broadcast()
        condition.unlock()
    }
}
