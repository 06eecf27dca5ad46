import Foundation

/// Everything that decides one training run's result. Its hash goes into the record, so a run
/// already recorded for this commit and config can be skipped.
public struct RunConfig: Codable, Sendable, Hashable {
    public var ablation: String
    public var model: String
    public var profileName: String
    public var profile: AblationDefinition.Profile
    public var datasetKind: String
    public var datasetSeed: UInt64
    public var seed: Int

    public init(ablation: String, model: String, profileName: String, profile: AblationDefinition.Profile,
                datasetKind: String, datasetSeed: UInt64, seed: Int) {
        self.ablation = ablation
        self.model = model
        self.profileName = profileName
        self.profile = profile
        self.datasetKind = datasetKind
        self.datasetSeed = datasetSeed
        self.seed = seed
    }

    /// Stable across machines and runs: sorted-key JSON of the config, FNV-1a.
    public var hash: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return stableHash((try? encoder.encode(self)) ?? Data())
    }

    /// "permutation/quick/r0-sp53/seed-0": names the run in logs, checkpoints and errors.
    public var name: String { "\(ablation)/\(profileName)/\(model)/seed-\(seed)" }
}
