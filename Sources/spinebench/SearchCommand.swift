import ArgumentParser
import Foundation
import Harness
import Models
import Search

struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Search a space file's block order and/or connections; write the best candidate as a spec.",
        discussion: """
            Every candidate and its reward is appended to results/search/SPACE/shard-I-of-N.jsonl, so an \
            interrupted search resumes where it stopped. Shards run independent evolutions (seed + shard); \
            after the last one, `--merge` (or any shard finishing) merges the logs and writes the best \
            candidate to results/search/SPACE/WRITES.yaml and results/search/summary.md. The shipped spec \
            the tables train, ablations/specs/WRITES.yaml, is replaced only with --write-specs.
            """)

    @Argument(help: "A space file, e.g. ablations/search/r35-sp18.yaml.") var space: String
    @Option(help: "Candidates over all shards (default: the space file's budget).") var budget: Int?
    @Option(help: "Run only shard i/n (0-based), e.g. $SLURM_ARRAY_TASK_ID/4.") var shard: String?
    @Flag(help: "Evaluate nothing: merge the logs, write the best spec and the summaries.") var merge = false
    @Flag(name: .customLong("write-specs"),
          help: "Also replace the shipped spec in ablations/specs (or --specs DIR) with the best candidate.")
    var writeSpecs = false
    @Option(help: "Folder --write-specs publishes to (default: ablations/specs).") var specs: String?
    @Option(name: .customLong("reference"),
            help: "A spec to score in the same proxy task first, for comparison (repeatable), e.g. the hand-made r35-sp18.")
    var references: [String] = []
    @Option(name: .customLong("noise-seeds"),
            help: "First score the references and --noise-random random candidates with this many seeds: the reward's noise.")
    var noiseSeeds: Int?
    @Option(name: .customLong("noise-random"), help: "Random candidates in the noise measurement.") var noiseRandom = 3
    @Option(name: .customLong("random-specs"),
            help: "Train nothing: write the space's first K random live members as specs into SPECS/random (the baseline of ablations/search-vs-random.yaml).")
    var randomSpecs: Int?
    @Option(help: "Threads for OpenBLAS and the engine (default: all cores).") var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be >= 1, got \(threads)") }
        if let budget, budget < 1 { throw ValidationError("--budget must be >= 1, got \(budget)") }
        try RunOptions.validate(shard: shard)
        if let noiseSeeds, noiseSeeds < 2 { throw ValidationError("--noise-seeds must be >= 2, got \(noiseSeeds)") }
        if noiseRandom < 0 { throw ValidationError("--noise-random must be >= 0, got \(noiseRandom)") }
        if specs != nil, !writeSpecs, randomSpecs == nil {
            throw ValidationError("--specs needs --write-specs or --random-specs (the folder they publish to)")
        }
        if let randomSpecs, randomSpecs < 1 { throw ValidationError("--random-specs must be >= 1, got \(randomSpecs)") }
    }
    @Option(help: "Results folder (logs go to RESULTS/search/SPACE).") var results = "results"
    @Option(help: "Folder for the candidates' throw-away runs.") var runs = "runs"
    @Option(help: "Folder for generated datasets.") var data = "data"
    @Option(help: "Folder of ablation files whose searched-against-random claims summary.md quotes.") var ablations = "ablations"

    func run() throws {
        if let count = randomSpecs {
            guard let dir = specs ?? SpecLibrary.locate() else {
                throw ValidationError("--random-specs: no ablations/specs folder found (pass --specs DIR)")
            }
            let definition = try SpaceDefinition.load(space)
            for path in try RandomBaseline.writeSpecs(of: definition, spacePath: space, count: count, to: dir + "/random") {
                print("wrote \(path)")
            }
            return
        }
        var runner = SearchRunner(spacePath: space, threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
        runner.budget = budget
        runner.shard = try shard.map(Shard.init(parsing:)) ?? .all
        runner.mergeOnly = merge
        if writeSpecs {
            guard let dir = specs ?? SpecLibrary.locate() else {
                throw ValidationError("--write-specs: no ablations/specs folder found (pass --specs DIR)")
            }
            runner.specsDir = dir
        }
        runner.references = references
        runner.noiseSeeds = noiseSeeds
        runner.noiseRandom = noiseRandom
        runner.resultsDir = results
        runner.runsDir = runs
        runner.dataDir = data
        runner.ablationsDir = ablations
        let outcome = try runner.run(progress: Progress())
        let s = outcome.summary
        print("\(s.space): \(s.candidates) candidates, \(s.metric) min \(String(format: "%.2f", s.minReward)) "
              + "median \(String(format: "%.2f", s.medianReward)) max \(String(format: "%.2f", s.maxReward)), "
              + "\(s.randomText); best written to \(outcome.specPath)")
    }
}
