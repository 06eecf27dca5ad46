import ArgumentParser
import Harness

struct AblateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ablate",
        abstract: "Train and evaluate every run of an ablation file (or one shard of them) and record the results.")

    @Argument(help: "An ablation file, e.g. ablations/permutation.yaml.") var file: String
    @Option(help: "Profile in the file: smoke, quick or paper.") var profile = "quick"
    @Option(help: "Seeds per model (default: the profile's).") var seeds: Int?
    @Option(help: "Run only shard i/n (0-based), e.g. $SLURM_ARRAY_TASK_ID/8.") var shard: String?
    @OptionGroup var options: RunOptions

    func run() throws {
        var runner = options.runner(file: file, profile: profile)
        runner.seeds = seeds
        runner.shard = try shard.map(Shard.init(parsing:)) ?? .all
        let summary = try runner.run(progress: Progress())
        print("\(summary.trained) trained, \(summary.skipped) skipped, \(summary.failed) failed")
        // Exit 2 when a run failed (diverged), so a scheduler or CI sees it; its failure record is written.
        if summary.failed > 0 { throw ExitCode(2) }
    }
}
