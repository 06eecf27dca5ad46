import ArgumentParser
import Harness

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train and evaluate one model of an ablation file at one profile and seed, and record it.")

    @Argument(help: "Model name, e.g. r0-sp53.") var model: String
    @Option(help: "The ablation file whose dataset and profile settings to use.") var ablation = "ablations/permutation.yaml"
    @Option(help: "Profile in the file: smoke, quick or paper.") var profile = "quick"
    @Option(help: "Seed.") var seed = 0
    @OptionGroup var options: RunOptions

    func run() throws {
        var runner = options.runner(file: ablation, profile: profile)
        runner.onlyModels = [model.lowercased()]
        runner.onlySeeds = [seed]
        let summary = try runner.run(progress: Progress())
        print("\(summary.trained) trained, \(summary.skipped) skipped, \(summary.failed) failed")
    }
}
