import ArgumentParser
import Engine
import Foundation
import Harness

/// Options shared by the commands that train: where things go, how many threads, whether to redo.
struct RunOptions: ParsableArguments {
    @Option(help: "Threads for OpenBLAS and the engine (default: all cores).") var threads: Int?
    @Flag(help: "Re-run runs already recorded for this commit and config.") var force = false
    @Option(help: "Results folder.") var results = "results"
    @Option(help: "Folder for checkpoints and per-run COCO files.") var runs = "runs"
    @Option(help: "Folder for generated datasets.") var data = "data"
    @Flag(help: "Run every layer as its plain primitive op, no fused kernels (slower; the same results to float rounding).")
    var noFusion = false

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be >= 1, got \(threads)") }
    }

    /// The counts of the commands that plan runs, checked with these options.
    func validate(seeds: Int?, jobs: Int) throws {
        if let seeds, seeds < 1 { throw ValidationError("--seeds must be >= 1, got \(seeds)") }
        if jobs < 1 { throw ValidationError("--jobs must be >= 1, got \(jobs)") }
        try validate()
    }

    /// A `--shard i/n` that does not parse is a usage error (exit 64), caught before anything loads.
    static func validate(shard: String?) throws {
        guard let shard else { return }
        do { _ = try Shard(parsing: shard) } catch { throw ValidationError("\(error)") }
    }

    /// These options as arguments for a child process (`--jobs`); threads and shard are the caller's.
    var childArguments: [String] {
        ["--results", results, "--runs", runs, "--data", data] + (force ? ["--force"] : []) + (noFusion ? ["--no-fusion"] : [])
    }

    /// The runner of these options; also sets the engine's fusion switch, which is not part of any config.
    func runner(file: String, profile: String) -> AblationRunner {
        FusionPlan.enabled = !noFusion
        var runner = AblationRunner(definitionPath: file, profileName: profile,
                                    threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
        runner.force = force
        runner.resultsDir = results
        runner.runsDir = runs
        runner.dataDir = data
        return runner
    }
}
