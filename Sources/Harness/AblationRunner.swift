import Common
import Foundation
import Models

/// Runs an ablation's share of runs (all, or one shard), skipping runs already recorded for this
/// code version (source tree) and config, writing one record per run, and turning a diverged run into a failure record
/// while the other runs go on.
public struct AblationRunner {
    public var definitionPath: String
    public var profileName: String
    public var seeds: Int?
    public var shard: Shard = .all
    public var force = false
    /// Only these models / seeds (the `train` command runs a single one); nil means all.
    public var onlyModels: [String]?
    public var onlySeeds: [Int]?
    public var threads: Int
    public var resultsDir = "results"
    public var runsDir = "runs"
    public var dataDir = "data"

    public init(definitionPath: String, profileName: String, threads: Int) {
        self.definitionPath = definitionPath
        self.profileName = profileName
        self.threads = threads
    }

    public struct Summary {
        public var trained = 0, skipped = 0, failed = 0
    }

    func config(_ def: AblationDefinition, _ profile: AblationDefinition.Profile, _ run: RunPlan.Run,
                library: SpecLibrary) throws -> RunConfig {
        let dataset = Self.choice(def, run)
        return RunConfig(ablation: def.name, model: run.model, profileName: profileName, profile: profile,
                         datasetKind: dataset.kind, datasetSeed: dataset.seed,
                         datasetMarkContrast: dataset.markContrast, seed: run.seed,
                         spec: try library.spec(named: run.model), task: def.task)
    }

    /// The dataset a run trains on: its unit's (classification), else the file's.
    static func choice(_ def: AblationDefinition, _ run: RunPlan.Run) -> AblationDefinition.DatasetChoice {
        run.dataset.flatMap { kind in def.units.first { $0.dataset.kind == kind }?.dataset } ?? def.dataset
    }

    /// True when an ok record of this run exists for code version `code` and this config.
    func isRecorded(_ config: RunConfig, code: String) -> Bool {
        let path = resultsDir + "/" + ResultRecord.relativePath(ablation: config.ablation, profile: config.profileName,
                                                                model: config.unit, seed: config.seed)
        guard let old = try? ResultRecord.read(path) else { return false }
        return old.status == .ok && old.codeVersion == code && old.provenance.configHash == config.hash
    }

    /// The file, its profile and every model of it, resolved: an unknown model fails before anything trains.
    private func load() throws -> (AblationDefinition, AblationDefinition.Profile, SpecLibrary) {
        let def = try AblationDefinition.load(definitionPath)
        let profile = try def.profile(profileName, file: definitionPath)
        let library = try SpecLibrary.standard()
        for model in def.models {
            do { _ = try library.spec(named: model) } catch {
                throw HarnessError.badConfig(file: definitionPath, field: "tables.rows.model", expected: "a known model (\(error))")
            }
        }
        for m in onlyModels ?? [] where !def.models.contains(m) {
            throw HarnessError.badArgument("model '\(m)' is not in \(definitionPath); its models: \(def.models.joined(separator: ", "))")
        }
        return (def, profile, library)
    }

    /// The runs of this runner's share (profile seeds, shard, models, seeds asked for).
    private func runs(_ def: AblationDefinition, _ profile: AblationDefinition.Profile) -> [RunPlan.Run] {
        let seedCount = max(seeds ?? profile.seeds, (onlySeeds?.max() ?? -1) + 1)
        let units = def.units.map { ($0.model, def.task == .classification ? $0.dataset.kind : nil) }
        return RunPlan(units: units, seeds: seedCount, shard: shard).runs
            .filter { (onlyModels?.contains($0.model) ?? true) && (onlySeeds?.contains($0.seed) ?? true) }
    }

    /// The runs of this runner's share that `run` would train: not yet recorded for this code and config.
    /// Builds nothing.
    public func pending() throws -> [RunPlan.Run] {
        let (def, profile, library) = try load()
        let code = ProvenanceProbe.codeVersion()
        return try runs(def, profile).filter { !isRecorded(try config(def, profile, $0, library: library), code: code) }
    }

    /// Checks the file and every model of it, that records can be written, and builds (or verifies) the
    /// dataset, training nothing: what `run` does first, for a caller that starts several runners at once
    /// (`ablate --jobs`). Returns the dataset path.
    @discardableResult
    public func prepare(progress: Progress) throws -> String { try prepared(progress: progress).dataset }

    /// Builds (or verifies) every dataset the file's runs train on; `datasets` maps a classification unit's dataset
    /// kind to its file, `dataset` is the file's own dataset.
    private func prepared(progress: Progress) throws
        -> (def: AblationDefinition, profile: AblationDefinition.Profile, library: SpecLibrary, dataset: String,
            datasets: [String: String]) {
        let (def, profile, library) = try load()
        try FileSystem.checkWritable(resultsDir + "/records", what: "records")
        var datasets: [String: String] = [:]
        for choice in [def.dataset] + def.units.map(\.dataset) where datasets[choice.kind] == nil {
            datasets[choice.kind] = try DatasetCache.ensure(choice, size: profile.dataset, dataDir: dataDir, log: progress.log)
        }
        return (def, profile, library, datasets[def.dataset.kind]!, datasets)
    }

    /// Trains this runner's share of runs; every model resolves, the results folder takes files and the
    /// dataset exists before the first.
    public func run(progress: Progress) throws -> Summary {
        let (def, profile, library, dataset, datasets) = try prepared(progress: progress)
        let runs = runs(def, profile)
        let code = ProvenanceProbe.codeVersion()
        var summary = Summary()
        progress.log("\(def.name) (\(profileName)): \(runs.count) run(s) in shard \(shard), dataset(s) \(Set(datasets.values).sorted().joined(separator: ", "))")

        for (i, run) in runs.enumerated() {
            let config = try self.config(def, profile, run, library: library)
            let label = "\(i + 1)/\(runs.count) \(config.unit) seed \(run.seed)"
            if !force, isRecorded(config, code: code) {
                progress.log("\(label): already recorded for this code and config, skipped (--force to redo)")
                summary.skipped += 1
                continue
            }
            let trainer = RunTrainer(config: config, datasetPath: run.dataset.flatMap { datasets[$0] } ?? dataset,
                                     runsDir: runsDir, threads: threads,
                                     progress: progress, label: label)
            trainer.fromScratch = force
            let record = try trainer.run()
            try record.write(under: resultsDir)
            if record.status == .failed {
                progress.log("\(label): FAILED: \(record.failure ?? "")")
                summary.failed += 1
            } else {
                let scores = config.isClassification
                    ? "top-1 \(fixed(record.metrics[.top1] ?? .nan, 2)) top-5 \(fixed(record.metrics[.top5] ?? .nan, 2))"
                    : "AP \(fixed(record.metrics[.ap] ?? .nan, 2)) AP50 \(fixed(record.metrics[.ap50] ?? .nan, 2))"
                progress.log("\(label): \(scores) "
                             + "in \(clock(record.measured.trainSeconds + record.measured.evalSeconds)) -> \(resultsDir)/\(record.relativePath)")
                summary.trained += 1
            }
        }
        return summary
    }
}
