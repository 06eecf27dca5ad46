import ArgumentParser
import Foundation
import Harness

/// Trains the calibration points (one profile each: a training length or a learning rate) and writes the report
/// that chooses the ablations' decisive length.
struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Train every profile of a calibration file (shortest first) and write results/calibration.{md,svg}.")

    @Argument(help: "A calibration file (one with `report: calibration`).") var file = "ablations/calibration.yaml"
    @Option(help: "Profiles to train, comma-separated, e.g. e1,e2 (default: all, shortest first).") var profiles: String?
    @Option(help: "Seeds per model (default: each profile's).") var seeds: Int?
    @Option(help: "Run only shard i/n (0-based) of each profile's runs.") var shard: String?
    @Flag(help: "Train nothing; only write the report from the records already there.") var reportOnly = false
    @Option(help: "Train this many runs at once on this machine, each with threads/jobs threads.") var jobs = 1
    @OptionGroup var options: RunOptions

    func validate() throws {
        try options.validate(seeds: seeds, jobs: jobs)
        try RunOptions.validate(shard: shard)
    }

    func run() throws {
        let def = try AblationDefinition.load(file)
        guard def.report == .calibration else {
            throw HarnessError.badArgument("\(file) is not a calibration file (it has no `report: calibration`); use `spinebench ablate`")
        }
        // Shortest first: the early points are ready (and reported) while the long ones still train.
        let names = profiles.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
            ?? def.profiles.sorted { ($0.value.epochs, $0.key) < ($1.value.epochs, $1.key) }.map(\.key)
        for name in names { _ = try def.profile(name, file: file) }
        if !reportOnly && jobs > 1 {
            let first = options.runner(file: file, profile: names[0])
            try first.prepare(progress: Progress())   // one dataset build before the children start
            let code = try LocalJobs.run(jobs: jobs, shard: try shard.map(Shard.init(parsing:)) ?? .all,
                                         threads: first.threads) { child, threads in
                ["calibrate", file, "--profiles", names.joined(separator: ","), "--shard", child.description,
                 "--threads", "\(threads)"] + (seeds.map { ["--seeds", "\($0)"] } ?? []) + options.childArguments
            }
            for path in try writeReport(def) { print("wrote \(path)") }
            if code != 0 { throw ExitCode(code) }
            return
        }
        if !reportOnly {
            let shard = try shard.map(Shard.init(parsing:)) ?? .all
            let progress = Progress()
            for name in names {
                var runner = options.runner(file: file, profile: name)
                runner.seeds = seeds
                runner.shard = shard
                let summary = try runner.run(progress: progress)
                print("\(name): \(summary.trained) trained, \(summary.skipped) skipped, \(summary.failed) failed")
                // A report that cannot be written (an unreadable record) must not stop the training.
                do { try writeReport(def) } catch { progress.log("calibration report not written: \(error)") }
            }
        }
        for path in try writeReport(def) { print("wrote \(path)") }
    }

    /// From every record of the study under --results, not only this invocation's (other shards, earlier runs).
    @discardableResult
    func writeReport(_ def: AblationDefinition) throws -> [String] {
        try CalibrationStudy(records: RecordStore.load(resultsDir: options.results), ablation: def.name)
            .write(resultsDir: options.results)
    }
}
