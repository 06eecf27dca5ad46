import Common
import Foundation

/// One trained and evaluated run: the unit tables and diffs are made from.
/// Everything outside `measured` is a function of (commit, config, seed, threads) and is
/// bit-identical when they are; `determinism` says what would break that.
public struct ResultRecord: Codable, Sendable, Equatable {
    /// 2: the run's whole config (`config`: profile with the full recipe, dataset, model hash) is in the record.
    public static let formatVersion = 2

    public var formatVersion = ResultRecord.formatVersion
    public var ablation: String
    public var model: String
    public var profile: String
    public var seed: Int
    /// Everything the run was trained from (its hash is `provenance.configHash`), so a table or a diff
    /// reads the settings from the records, not from today's experiment file.
    public var config: RunConfig
    /// ok, or failed with `failure` saying why (NaN loss, exploding loss...).
    public var status: RunStatus
    public var failure: String?
    public var architecture: Architecture
    /// Detection: the 12 COCO box metrics in percent (`Metric.detection`). Classification: `top1` and `top5`
    /// accuracy in percent and `loss`, the val split's mean softmax cross-entropy without label smoothing. Empty
    /// for a failed run.
    public var metrics: Metrics
    /// Area ranges of the evaluator were COCO's times this factor, (anchor_size/3)^2 (docs/geometry.md §6); 0 when
    /// no boxes were scored (classification, failed runs).
    public var areaScale: Double
    public var size: Size
    public var training: Training
    public var measured: Measured
    public var provenance: Provenance
    public var determinism: String

    public struct Architecture: Codable, Sendable, Equatable {
        public var displayName: String
        /// official, reconstructed or searched (how the block list was obtained).
        public var provenance: String
    }

    public struct Size: Codable, Sendable, Equatable {
        /// At the trained setting (profile width, input, head).
        public var params: Int
        public var macs: Int
        public var backboneParams: Int
        public var backboneMacs: Int
        /// At the paper's setting (the spec's paper input, 640 px but for SpineNet-96 / -143 / -190; 91 classes,
        /// paper head).
        public var paperParams: Int
        public var paperMacs: Int
    }

    public struct Training: Codable, Sendable, Equatable {
        public var epochs: Int
        public var steps: Int
        public var batch: Int
        public var input: Int
        public var trainImages: Int
        public var valImages: Int
        /// Mean training loss per logging window (`lossWindow` steps), in order.
        public var lossCurve: [Double]
        public var lossWindow: Int
        public var finalLoss: Double?
        /// Epochs this process resumed from a checkpoint (0 when it ran start to end).
        public var resumedFromEpoch: Int
    }

    /// Wall-clock measurements: they vary run to run and are excluded from determinism.
    public struct Measured: Codable, Sendable, Equatable {
        public var trainSeconds: Double
        public var evalSeconds: Double
        public var trainImagesPerSecond: Double
    }

    public struct Provenance: Codable, Sendable, Equatable {
        public var commit: String
        /// `ProvenanceProbe.sourceTree`: runs with the same one (and config) were trained by the same code,
        /// whatever else their commits changed. Absent in records written before it existed (then the
        /// commit stands for it).
        public var sourceTree: String?
        public var dirty: Bool
        public var configHash: String
        public var datasetChecksum: String
        public var datasetSource: String
        public var toolchain: String
        public var openblas: String
        public var threads: Int
    }

    /// The record's path under `results/`: one file per (ablation, profile, model, seed).
    /// What tables group runs by and what a re-run compares: the source tree, or the commit when unknown.
    public var codeVersion: String { provenance.sourceTree.flatMap { $0 == "unknown" ? nil : $0 } ?? provenance.commit }

    public var relativePath: String { Self.relativePath(ablation: ablation, profile: profile, model: config.unit, seed: seed) }

    /// `model` is the run's unit (`RunConfig.unit`): the model, or DATASET/MODEL for a classification run.
    public static func relativePath(ablation: String, profile: String, model: String, seed: Int) -> String {
        "records/\(ablation)/\(profile)/\(model)/seed-\(seed).json"
    }

    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(self)
        data.append(0x0A)
        return data
    }

    /// Writes atomically (temporary file + rename): a crash or a full disk never leaves a half record.
    public func write(under resultsDir: String) throws {
        let path = resultsDir + "/" + relativePath
        try FileSystem.writeAtomically(try encoded(), to: path)
    }

    public static func read(_ path: String) throws -> ResultRecord {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw HarnessError.io(path: path, reason: "cannot read record")
        }
        return try decode(data, path: path)
    }

    public static func decode(_ data: Data, path: String) throws -> ResultRecord {
        do {
            let record = try JSONDecoder().decode(ResultRecord.self, from: data)
            guard record.formatVersion == formatVersion else {
                throw HarnessError.badRecord(file: path, field: "formatVersion", expected: "\(formatVersion)")
            }
            return record
        } catch let error as DecodingError {
            throw HarnessError.badRecord(file: path, field: error.fieldPath, expected: error.plainDescription)
        }
    }
}

/// How a run ended; written as "ok" or "failed".
public enum RunStatus: String, Codable, Sendable, Equatable {
    case ok, failed
}
