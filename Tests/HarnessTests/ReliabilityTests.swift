import Common
import Datasets
import Engine
import Foundation
import XCTest
@testable import Harness

/// What the harness does with bad state on disk: a dataset that is not what the profile asks for, a
/// results folder that cannot take records, a checkpoint that cannot be written, a run folder read from
/// elsewhere. Each fails early with the file and field named, and nothing already written is lost.
extension TrainingRunTests {
    func expectError(_ fragments: [String], _ body: () throws -> Void, line: UInt = #line) {
        do {
            try body()
            XCTFail("expected an error containing \(fragments)", line: line)
        } catch {
            for f in fragments { XCTAssertTrue("\(error)".contains(f), "'\(error)' does not contain '\(f)'", line: line) }
        }
    }

    /// A file of another build under this build's name, or whose content no longer matches its checksum,
    /// is refused (it used to be trained on, with the stored checksum copied into the record).
    func testDatasetCacheRefusesAFileItDidNotAskFor() throws {
        let p = profile()
        let path = try dataset(p)
        var other = BuildOptions(size: 64, trainCount: 32, valCount: 8, maxObjects: 2, seed: 4)
        other.minSide = 10
        other.maxSide = 48
        _ = try buildDataset(.shapes, options: other, to: path)
        expectError([path, "seed", "built with seed 4, expected 3"]) { _ = try dataset(p) }

        try FileManager.default.removeItem(atPath: path)
        _ = try dataset(p)
        let file = try H5File.open(path, writable: true)
        try file.setAttribute("checksum", "fnv1a64:0123456789abcdef")
        file.close()
        expectError([path, "checksum", "stored fnv1a64:0123456789abcdef but content hashes to"]) { _ = try dataset(p) }
    }

    /// A results folder that cannot take records fails before any training, not after it.
    func testUnwritableResultsFailBeforeTraining() throws {
        var runner = try smokeAblation("unwritable", models: ["r0-sp53"], learningRate: "0.02")
        FileManager.default.createFile(atPath: dir + "/blocked", contents: Data("a file, not a folder".utf8))
        runner.resultsDir = dir + "/blocked"
        expectError([dir + "/blocked", "records cannot be written"]) { _ = try runner.run(progress: Progress()) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/runs"), "nothing may train")
    }

    /// A checkpoint that cannot be written (the file size limit stands in for a full disk) leaves the
    /// previous checkpoint whole and no half-built folder behind; a folder left by a killed writer is
    /// removed when the run starts again.
    func testFailedCheckpointKeepsThePreviousOne() throws {
        let p = profile(epochs: 1)
        let data = try dataset(p)
        let trainer = RunTrainer(config: try config(p), datasetPath: data, runsDir: dir, threads: 2, progress: Progress(), label: "t")
        _ = try trainer.run()
        let runDir = trainer.runDir
        let before = try Data(contentsOf: URL(fileURLWithPath: runDir + "/checkpoint/state.bin"))
        let built = try DetectorFactory.build(model: "r0-sp53", profile: p, numClasses: 8, seed: 0)
        let sgd = SGD(parameters: built.network.parameters, momentum: 0.9, weightDecay: 0)

        var saved = rlimit()
        getrlimit(Int32(RLIMIT_FSIZE.rawValue), &saved)
        let handler = signal(SIGXFSZ, SIG_IGN)
        var small = saved
        small.rlim_cur = 4096
        setrlimit(Int32(RLIMIT_FSIZE.rawValue), &small)
        var thrown: Error?
        do {
            try Checkpoint(state: TrainingState()).write(to: runDir, configHash: "x", detector: built.network, optimizer: sgd)
        } catch { thrown = error }
        setrlimit(Int32(RLIMIT_FSIZE.rawValue), &saved)
        signal(SIGXFSZ, handler)

        XCTAssertTrue("\(thrown.map { "\($0)" } ?? "no error")".contains("state.bin"), "\(String(describing: thrown))")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: runDir + "/checkpoint/state.bin")), before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: runDir).filter { $0.contains("checkpoint") }, ["checkpoint"])

        let killed = runDir + "/checkpoint\(DurableFile.temporaryMarker)\(DurableFile.host)-4194999"
        try FileSystem.createDirectory(killed)   // a killed writer's (no such pid)
        _ = try RunTrainer(config: try config(p), datasetPath: data, runsDir: dir, threads: 2, progress: Progress(), label: "t").run()
        XCTAssertFalse(FileManager.default.fileExists(atPath: killed))
    }

    /// The run folder names its dataset by absolute path and checksum, so `evaluate` works from any folder
    /// and refuses a dataset that changed since training.
    func testRunManifestWorksFromAnywhere() throws {
        let p = profile(epochs: 1)
        let data = try dataset(p)
        let trainer = RunTrainer(config: try config(p), datasetPath: data, runsDir: dir, threads: 2, progress: Progress(), label: "t")
        let record = try trainer.run()
        let manifest = try RunManifest.read(trainer.runDir)
        XCTAssertTrue(manifest.datasetPath.hasPrefix("/"), manifest.datasetPath)
        XCTAssertEqual(manifest.datasetChecksum, record.provenance.datasetChecksum)
        let here = FileManager.default.currentDirectoryPath
        FileManager.default.changeCurrentDirectoryPath("/")
        defer { FileManager.default.changeCurrentDirectoryPath(here) }
        let again = try RunEvaluation.evaluate(runDir: trainer.runDir, threads: 2)
        XCTAssertEqual(again.metrics, record.metrics)

        var other = BuildOptions(size: 64, trainCount: 32, valCount: 8, maxObjects: 2, seed: 5)
        other.minSide = 10
        other.maxSide = 48
        _ = try buildDataset(.shapes, options: other, to: data)
        expectError([trainer.runDir + "/run.json", "datasetChecksum: trained on \(record.provenance.datasetChecksum)"]) {
            _ = try RunEvaluation.evaluate(runDir: trainer.runDir, threads: 2)
        }
    }
}

extension TrainingRunTests {
    /// A mistyped results folder, an empty one and a missing ablations folder are errors, not empty tables
    /// or a diff that reports every record gone.
    func testTablesAndDiffRefuseMissingRecords() throws {
        expectError([dir + "/nothing/records", "no records folder"]) { _ = try RecordStore.load(resultsDir: dir + "/nothing") }
        try FileSystem.createDirectory(dir + "/empty/records")
        XCTAssertEqual(try RecordStore.load(resultsDir: dir + "/empty"), [])
        expectError(["no records to make tables from"]) { _ = try RecordStore.writeTables(ablationsDir: "ablations", resultsDir: dir + "/empty") }
        expectError([dir + "/none", "no ablation files"]) { _ = try RecordStore.writeStatus(ablationsDir: dir + "/none", resultsDir: dir + "/empty") }
    }
}
