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
    @Option(help: "Train this many runs at once on this machine, each with threads/jobs threads (e.g. 2 on 2 cores).")
    var jobs = 1
    @OptionGroup var options: RunOptions

    func validate() throws {
        try options.validate(seeds: seeds, jobs: jobs)
        try RunOptions.validate(shard: shard)
    }

    func run() throws {
        var runner = options.runner(file: file, profile: profile)
        runner.seeds = seeds
        runner.shard = try shard.map(Shard.init(parsing:)) ?? .all
        if jobs > 1 {
            try runner.prepare(progress: Progress())   // one dataset build, every model resolved, before the children start
            let code = try LocalJobs.run(jobs: jobs, shard: runner.shard, threads: runner.threads) { child, threads in
                ["ablate", file, "--profile", profile, "--shard", child.description, "--threads", "\(threads)"]
                    + (seeds.map { ["--seeds", "\($0)"] } ?? []) + options.childArguments
            }
            if code != 0 { throw ExitCode(code) }
            return
        }
        let summary = try runner.run(progress: Progress())
        print("\(summary.trained) trained, \(summary.skipped) skipped, \(summary.failed) failed")
        // Exit 2 when a run failed (diverged), so a scheduler or CI sees it; its failure record is written.
        if summary.failed > 0 { throw ExitCode(2) }
    }
}
