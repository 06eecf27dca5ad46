import Datasets
import Foundation
import Harness
import Models

/// The paper's reward: a candidate is trained briefly at the NAS-proxy setting (width 0.25, alpha 0.25,
/// small head, small images) on part of the train split and scored by AP on the held-out rest. The val
/// split the tables report is never read: the data file is built from the train split only.
///
/// Training and scoring are the harness's (RunTrainer, the COCO evaluator); this only prepares the
/// held-out file and runs one candidate as a throw-away run (its folder is deleted afterwards).
public final class ProxyReward {
    public let space: SpaceDefinition
    public let datasetPath: String
    let runsDir: String
    let threads: Int
    let progress: Harness.Progress

    /// Builds (once) the source dataset and its held-out file under `dataDir`.
    public init(space: SpaceDefinition, dataDir: String, runsDir: String, threads: Int, progress: Harness.Progress) throws {
        self.space = space
        self.runsDir = runsDir + "/search/" + space.name
        self.threads = threads
        self.progress = progress
        datasetPath = try Self.heldOutDataset(space.proxy, dataDir: dataDir, log: progress.log)
    }

    /// The source is the builder's train split (`train + val` images of the proxy profile; the builder also
    /// draws one val image, which nothing reads); the held-out file splits it into train and a held-out "val".
    static func heldOutDataset(_ proxy: SpaceDefinition.ProxySettings, dataDir: String, log: (String) -> Void) throws -> String {
        let d = proxy.profile.dataset
        let size = AblationDefinition.Profile.DatasetSize(size: d.size, train: d.train + d.val, val: 1, maxObjects: d.maxObjects,
                                                          minSide: d.minSide, maxSide: d.maxSide)
        let source = try DatasetCache.ensure(proxy.dataset, size: size, dataDir: dataDir, log: log)
        let path = source.replacingOccurrences(of: ".h5", with: "-heldout\(d.val).h5")
        if !FileManager.default.fileExists(atPath: path) {
            let checksum = try writeHeldOutSplit(from: source, heldOut: d.val, to: path)
            log("built \(path): \(d.train) train / \(d.val) held-out images of \(source)'s train split, checksum \(checksum)")
        }
        return path
    }

    /// Trains and scores one candidate at a fidelity (training length, seed); a diverged training scores 0
    /// with the reason.
    public func evaluate(_ candidate: Candidate, fidelity: Fidelity, label: String) throws -> Reward {
        let spec = try candidate.spec(in: space, name: "c-" + candidate.id)
        var profile = space.proxy.profile
        profile.epochs = fidelity.epochs
        let config = RunConfig(ablation: "search-" + space.name, model: "c-" + candidate.id, profileName: fidelity.epochs == space.proxy.epochs ? "proxy" : "proxy-e\(fidelity.epochs)",
                               profile: profile, datasetKind: space.proxy.dataset.kind,
                               datasetSeed: space.proxy.dataset.seed,
                               datasetMarkContrast: space.proxy.dataset.markContrast, seed: fidelity.seed, spec: spec)
        let trainer = RunTrainer(config: config, datasetPath: datasetPath, runsDir: runsDir, threads: threads,
                                 progress: progress, label: label)
        trainer.spec = spec
        defer {
            // The run folder, then its candidate folder if no other seed's run is in it.
            let run = runsDir + "/" + config.name, candidate = (run as NSString).deletingLastPathComponent
            try? FileManager.default.removeItem(atPath: run)
            if (try? FileManager.default.contentsOfDirectory(atPath: candidate))?.isEmpty == true {
                try? FileManager.default.removeItem(atPath: candidate)
            }
        }
        let record = try trainer.run()
        guard record.status == .ok else { return Reward(value: 0, failure: record.failure) }
        guard let value = record.metrics[space.proxy.metric] else {
            throw SearchError.badSpace(file: space.name, field: "proxy.metric",
                                       expected: "one of \(record.metrics.names.map(\.rawValue).joined(separator: ", "))")
        }
        return Reward(value: value, metrics: record.metrics)
    }
}
