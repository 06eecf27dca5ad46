import Foundation
import Models

/// Everything that decides one training run's result. Its hash goes into the record, so a run
/// already recorded for this commit and config can be skipped, and into every checkpoint, so a run
/// resumes only weights of the same config.
public struct RunConfig: Codable, Sendable, Hashable {
    public var ablation: String
    public var model: String
    /// Hash of the architecture `model` resolved to (`RunConfig.modelHash`): the name alone does not
    /// change when a spec file is rewritten (e.g. by the search), and stale records or checkpoints
    /// must not be taken for the new architecture.
    public var modelHash: String
    public var profileName: String
    public var profile: AblationDefinition.Profile
    public var datasetKind: String
    public var datasetSeed: UInt64
    /// fine-shapes' `mark_contrast` when the experiment file sets it (left out of the JSON otherwise, so the
    /// config hashes of every other run are what they were before it existed).
    public var datasetMarkContrast: Double?
    public var seed: Int
    /// `classification` for a classifier run; nil for a detection run (left out of the JSON, so the config
    /// hashes of detection runs are what they were before classification existed).
    public var task: AblationDefinition.Task?

    public init(ablation: String, model: String, profileName: String, profile: AblationDefinition.Profile,
                datasetKind: String, datasetSeed: UInt64, datasetMarkContrast: Double? = nil, seed: Int, spec: ModelSpec,
                task: AblationDefinition.Task = .detection) {
        self.ablation = ablation
        self.model = model
        self.modelHash = Self.modelHash(spec)
        self.profileName = profileName
        self.profile = profile
        self.datasetKind = datasetKind
        self.datasetSeed = datasetSeed
        self.datasetMarkContrast = datasetMarkContrast
        self.seed = seed
        self.task = task == .detection ? nil : task
    }

    public var isClassification: Bool { task == .classification }

    /// What names the run under an ablation and profile: the model, and for a classification run the dataset
    /// first (each model trains once per dataset): `fine-shapes/spinenet-49`.
    public var unit: String { isClassification ? "\(datasetKind)/\(model)" : model }

    /// Stable across machines and runs: sorted-key JSON of the config, FNV-1a.
    public var hash: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return stableHash((try? encoder.encode(self)) ?? Data())
    }

    /// The hash of what decides the trained weights: the config without the evaluation-only settings
    /// (`Profile.evaluationKeys`). Checkpoints carry this one, so changing how a run is scored re-scores its
    /// checkpoint instead of training it again; records carry `hash`, which covers everything.
    public var trainingHash: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.userInfo[.trainingOnly] = true
        return stableHash((try? encoder.encode(self)) ?? Data())
    }

    /// Sorted-key JSON of the parsed spec (connections filled in), FNV-1a. Comments and layout of the
    /// YAML do not count, nor `note` (prose); blocks, connections, stem, scaling and names do.
    public static func modelHash(_ spec: ModelSpec) -> String {
        var spec = spec
        spec.note = ""
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return stableHash((try? encoder.encode(spec)) ?? Data())
    }

    /// Throws when `built` (the hash of the spec a run actually builds) is not the one this config was
    /// made for: the spec changed under it, or a caller passed a different one.
    func checkModel(_ built: String) throws {
        guard built == modelHash else {
            throw HarnessError.badArgument("\(name): the config was made for architecture \(modelHash) but '\(model)' now "
                                           + "builds \(built); its spec changed since, so this run must be trained again")
        }
    }

    /// "permutation/quick/r0-sp53/seed-0": names the run in logs, checkpoints and errors.
    public var name: String { "\(ablation)/\(profileName)/\(unit)/seed-\(seed)" }
}

extension CodingUserInfoKey {
    /// Set (to true) on an encoder that should leave out evaluation-only settings (RunConfig.trainingHash).
    static let trainingOnly = CodingUserInfoKey(rawValue: "spinebench.trainingOnly")!
}
