import Datasets
import Detection
import Engine
import Foundation

/// What a run directory was trained from, so `spinebench evaluate RUN_DIR` can rebuild the detector from
/// any folder: the dataset's absolute path and its checksum (checked again when it is read back).
struct RunManifest: Codable {
    var config: RunConfig
    var datasetPath: String
    /// Absent in manifests written before it was added.
    var datasetChecksum: String?

    init(config: RunConfig, datasetPath: String, datasetChecksum: String) {
        self.config = config
        self.datasetPath = URL(fileURLWithPath: datasetPath).standardizedFileURL.path
        self.datasetChecksum = datasetChecksum
    }

    /// The dataset, opened and checked against the checksum training used.
    func openDataset(manifestPath: String) throws -> DatasetFile {
        guard FileManager.default.fileExists(atPath: datasetPath) else {
            throw HarnessError.io(path: manifestPath, reason: "datasetPath \(datasetPath) does not exist"
                                  + (datasetPath.hasPrefix("/") ? "" : " (a relative path: run from the folder training ran in)"))
        }
        let file = try DatasetFile.open(datasetPath)
        if let want = datasetChecksum, file.checksum != want {
            throw HarnessError.io(path: manifestPath, reason: "datasetChecksum: trained on \(want), but \(datasetPath) holds \(file.checksum)")
        }
        return file
    }

    func write(to runDir: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try FileSystem.writeAtomically(try encoder.encode(self), to: runDir + "/run.json")
    }

    static func read(_ runDir: String) throws -> RunManifest {
        let path = runDir + "/run.json"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw HarnessError.io(path: path, reason: "not found: is this a run directory under runs/?")
        }
        do { return try JSONDecoder().decode(RunManifest.self, from: data) } catch let e as DecodingError {
            throw HarnessError.badRecord(file: path, field: e.fieldPath, expected: e.plainDescription)
        }
    }
}

/// Re-scores a trained run from its last checkpoint on the val split (and rewrites its COCO files).
public enum RunEvaluation {
    /// `evalBatchNorm` overrides the profile's `eval_batch_norm` (the docs/geometry.md §11 comparison).
    public static func evaluate(runDir: String, threads: Int, evalBatchNorm: AblationDefinition.Profile.EvalBatchNorm? = nil)
        throws -> (metrics: Metrics, areaScale: Double) {
        let manifest = try RunManifest.read(runDir)
        Threads.set(threads)
        guard let checkpoint = try Checkpoint.latest(in: runDir, configHash: manifest.config.trainingHash) else {
            throw HarnessError.io(path: runDir + "/checkpoint", reason: "no checkpoint of this run's config")
        }
        let context = try RunContext(config: manifest.config, spec: nil,
                                     file: try manifest.openDataset(manifestPath: runDir + "/run.json"))
        try checkpoint.restore(into: context.network, optimizer: SGD(parameters: context.network.parameters, weightDecay: 0))
        return try context.task(evalBatchNorm: evalBatchNorm)
            .evaluate(try context.loader("val", training: false), file: context.file, runDir: runDir)
    }
}
