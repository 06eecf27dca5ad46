import ArgumentParser
import Foundation
import Harness

struct AblateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ablate",
        abstract: "Train and evaluate every run of an ablation file (or one shard of them) and record the results.")

    @Argument(help: "An ablation file, e.g. ablations/permutation.yaml.") var file: String
    @Option(help: "Profile in the file: smoke, quick or paper.") var profile = "quick"
    @Option(help: "Seeds per model (default: the profile's).") var seeds: Int?
    @Option(help: "Run only shard i/n (0-based), e.g. $SLURM_ARRAY_TASK_ID/8.") var shard: String?
    @Option(help: "Threads for OpenBLAS and the engine (default: all cores).") var threads: Int?
    @Flag(help: "Re-run runs already recorded for this commit and config.") var force = false
    @Option(help: "Results folder.") var results = "results"
    @Option(help: "Folder for checkpoints and per-run COCO files.") var runs = "runs"
    @Option(help: "Folder for generated datasets.") var data = "data"

    func run() throws {
        var runner = AblationRunner(definitionPath: file, profileName: profile,
                                    threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
        runner.seeds = seeds
        runner.shard = try shard.map(Shard.init(parsing:)) ?? .all
        runner.force = force
        runner.resultsDir = results
        runner.runsDir = runs
        runner.dataDir = data
        let summary = try runner.run(progress: Progress())
        print("\(summary.trained) trained, \(summary.skipped) skipped, \(summary.failed) failed")
    }
}
