import ArgumentParser
import Foundation
import Harness

/// Options shared by the commands that train: where things go, how many threads, whether to redo.
struct RunOptions: ParsableArguments {
    @Option(help: "Threads for OpenBLAS and the engine (default: all cores).") var threads: Int?
    @Flag(help: "Re-run runs already recorded for this commit and config.") var force = false
    @Option(help: "Results folder.") var results = "results"
    @Option(help: "Folder for checkpoints and per-run COCO files.") var runs = "runs"
    @Option(help: "Folder for generated datasets.") var data = "data"

    func runner(file: String, profile: String) -> AblationRunner {
        var runner = AblationRunner(definitionPath: file, profileName: profile,
                                    threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
        runner.force = force
        runner.resultsDir = results
        runner.runsDir = runs
        runner.dataDir = data
        return runner
    }
}
