import ArgumentParser
import Foundation
import Harness

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train and evaluate one model of an ablation file at one profile and seed, and record it.")

    @Argument(help: "Model name, e.g. r0-sp53.") var model: String
    @Option(help: "The ablation file whose dataset and profile settings to use.") var ablation = "ablations/permutation.yaml"
    @Option(help: "Profile in the file: smoke, quick or paper.") var profile = "quick"
    @Option(help: "Seed.") var seed = 0
    @Option(help: "Threads for OpenBLAS and the engine (default: all cores).") var threads: Int?
    @Flag(help: "Re-run even if already recorded for this commit and config.") var force = false
    @Option(help: "Results folder.") var results = "results"
    @Option(help: "Folder for checkpoints and per-run COCO files.") var runs = "runs"
    @Option(help: "Folder for generated datasets.") var data = "data"

    func run() throws {
        var runner = AblationRunner(definitionPath: ablation, profileName: profile,
                                    threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
        runner.onlyModels = [model.lowercased()]
        runner.onlySeeds = [seed]
        runner.force = force
        runner.resultsDir = results
        runner.runsDir = runs
        runner.dataDir = data
        let summary = try runner.run(progress: Progress())
        print("\(summary.trained) trained, \(summary.skipped) skipped, \(summary.failed) failed")
    }
}
