import ArgumentParser
import Datasets
import Detection
import Foundation

/// `spinebench data build KIND --out FILE.h5 ...` and `spinebench data inspect FILE.h5 [--preview PNG]`.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Build and inspect HDF5 detection datasets.",
        subcommands: [DataBuildCommand.self, DataInspectCommand.self, DataReadCommand.self])
}

struct DataBuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build a dataset file: fmnist-det (Fashion-MNIST objects), shapes (built-in synthetic shapes), fmnist-cls.",
        discussion: "Defaults: detection kinds 128 px RGB, --train 4000 --val 500 --max-objects 6; fmnist-cls 28 px gray, 10000/2000. "
            + "The same seed always gives the same content checksum.")

    @Argument(help: "fmnist-det | shapes | fmnist-cls | fine-shapes") var kind: String
    @Option(help: "Output file (built in memory, written to FILE.tmp-<host>-<pid> and renamed when complete).") var out: String
    @Flag(help: "Replace --out if it exists (otherwise that is an error).") var force = false
    @Option(help: "Image side in pixels.") var size: Int?
    @Option(help: "Training images.") var train: Int?
    @Option(help: "Validation images.") var val: Int?
    @Option(name: .customLong("max-objects"), help: "Objects per image: 1...K.") var maxObjects: Int?
    @Option(help: "Random seed.") var seed: UInt64?
    @Option(help: "Channels: 3 (tinted RGB) or 1 (gray).") var channels: Int?
    @Option(name: .customLong("min-side"), help: "Smallest object side in pixels (default size/6).") var minSide: Int?
    @Option(name: .customLong("max-side"), help: "Largest object side in pixels (default 3/4 of size).") var maxSide: Int?
    @Option(name: .customLong("mark-contrast"), help: "fine-shapes: how strongly the class marks stand out, in (0, 1] (default 1).")
    var markContrast: Double?
    @Option(name: .customLong("fashion-mnist-dir"), help: "Directory of the Fashion-MNIST IDX .gz files.") var fashionDir: String?

    func run() throws {
        guard let k = DatasetKind(rawValue: kind.lowercased()) else {
            throw ValidationError("unknown dataset kind '\(kind)'; expected one of: "
                                  + DatasetKind.allCases.map(\.rawValue).joined(separator: ", "))
        }
        if !force, FileManager.default.fileExists(atPath: out) {
            throw ValidationError("\(out) exists; pass --force to replace it (the old file stays until the new one is complete)")
        }
        var o = BuildOptions.defaults(for: k)
        if let size { o = BuildOptions(size: size, trainCount: o.trainCount, valCount: o.valCount, maxObjects: o.maxObjects,
                                       seed: o.seed, channels: o.channels) }
        if let train { o.trainCount = train }
        if let val { o.valCount = val }
        if let maxObjects { o.maxObjects = maxObjects }
        if let seed { o.seed = seed }
        if let channels { o.channels = channels }
        if let fashionDir { o.fashionMNISTDirectory = fashionDir }
        if let minSide { o.minSide = minSide }
        if let maxSide { o.maxSide = maxSide }
        if let markContrast { o.markContrast = markContrast }
        let start = Date()
        do {
            let s = try buildDataset(k, options: o, to: out)
            print("wrote \(s.path): \(k.rawValue), train \(s.images["train"]!) images / \(s.boxes["train"]!) boxes, "
                  + "val \(s.images["val"]!) images / \(s.boxes["val"]!) boxes, checksum \(s.checksum), "
                  + String(format: "%.1f s", Date().timeIntervalSince(start)))
        } catch let e as DataError {
            throw dataFailure(e)
        }
    }
}

struct DataInspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Print splits, counts, class and object-size histograms, anchor coverage; verify the checksum.",
        discussion: "With --anchor-size, each split's boxes (fitted to --input, as the loader does) are matched against "
            + "the RetinaNet anchors of L3-L7: the share of boxes some anchor overlaps at IoU >= 0.5, and the "
            + "positive anchors per level. Size classes are COCO's times (anchor_size/3)^2.")

    @Argument(help: "Dataset file (.h5).") var file: String
    @Option(help: "Write a PNG grid of the first training images with their boxes.") var preview: String?
    @Option(help: "Network input side in pixels (default: the stored image side).") var input: Int?
    @Option(name: .customLong("anchor-size"), help: "Anchor size in strides (3 in the paper); enables the coverage report.")
    var anchorSize: Double?

    func validate() throws {
        if let input, input < 8 { throw ValidationError("--input must be >= 8, got \(input)") }
        if let anchorSize, !(anchorSize > 0) { throw ValidationError("--anchor-size must be > 0, got \(anchorSize)") }
    }

    func run() throws {
        do {
            let r = try inspectDataset(file, areaScale: pow((anchorSize ?? 3) / 3, 2), preview: preview)
            print(r.text)
            if let anchorSize { try printCoverage(anchorSize: anchorSize) }
            if !r.checksumOK { throw ExitCode(2) }
        } catch let e as DataError {
            throw dataFailure(e)
        }
    }
}

extension DataInspectCommand {
    /// The anchor-coverage lines of every split.
    func printCoverage(anchorSize: Double) throws {
        let f = try DatasetFile.open(file)
        for name in DatasetFile.splitNames {
            let s = f.splits[name]!
            let side = input ?? max(s.height, s.width)
            let fit = Float(side) / Float(max(s.height, s.width))
            let anchors = AnchorSet(config: AnchorConfig(anchorSize: Float(anchorSize)), imageHeight: side, imageWidth: side)
            var coverage = AnchorCoverage(anchors: anchors)
            for i in 0..<s.count {
                let boxes = s.allBoxes[Int(s.offsets[i])..<Int(s.offsets[i + 1])]
                coverage.add(boxes.map { $0.scaled(by: fit) },
                             anchors: anchors)
            }
            print("anchor coverage of split \(name) at input \(side) px, anchor size \(anchorSize):")
            coverage.report().forEach { print($0) }
        }
    }
}

struct DataReadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "read", abstract: "Run the batch loader over a split and report images/s (loader throughput).")

    @Argument(help: "Dataset file (.h5).") var file: String
    @Option(help: "Split to read.") var split = "train"
    @Option(help: "Batch size.") var batch = 16
    @Option(name: .customLong("output-size"), help: "Network input side (default: the stored size).") var outputSize: Int?
    @Option(help: "Epochs to read.") var epochs = 1
    @Flag(name: .customLong("eval"), help: "Evaluation mode: file order, no augmentation.") var evaluation = false
    @Option(help: "Loader seed.") var seed: UInt64 = 0
    @Option(help: "Write the first batch (as the network sees it, with boxes) to this PNG.") var preview: String?

    func run() throws {
        do {
            let options = LoaderOptions(batchSize: batch, outputSize: outputSize, training: !evaluation, seed: seed)
            let loader = try DetectionLoader(path: file, split: split, options: options)
            if let preview { try loader.writePreview(loader.makeBatch(epoch: 0, index: 0), to: preview) }
            var images = 0, boxes = 0
            let start = Date()
            for e in 0..<epochs {
                loader.start(epoch: e)
                while let b = try loader.next() {
                    images += b.batchSize
                    boxes += b.boxes.reduce(0) { $0 + $1.count }
                }
            }
            let t = Date().timeIntervalSince(start)
            print(String(format: "%@ %@: %d images, %d boxes in %.2f s = %.0f images/s (batch %d, %dx%d, %@)",
                         file, split, images, boxes, t, Double(images) / t, batch, loader.outputSize, loader.outputSize,
                         evaluation ? "eval" : "augmented"))
        } catch let e as DataError {
            throw dataFailure(e)
        }
    }
}

/// Bad data files are not usage errors: print the message (file, field, problem) without the usage text.
func dataFailure(_ e: DataError) -> ExitCode {
    FileHandle.standardError.write(Data("error: \(e.description)\n".utf8))
    return ExitCode.failure
}
