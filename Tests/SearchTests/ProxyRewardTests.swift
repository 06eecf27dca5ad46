import Datasets
import Foundation
import Harness
import Models
import XCTest
@testable import Search

/// The real reward end to end on a tiny synthetic dataset: the held-out file is the source's train split
/// cut in two, and `spinebench search` trains, scores, logs and writes a spec.
final class ProxyRewardTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try TestSupport.scratch("proxy") }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// The fish space at a tiny proxy (shapes data, 40 images, 1 epoch) written as a space file.
    func tinySpace() throws -> String {
        var text = try TestSupport.spaceText("fish", algorithm: "{kind: evolution, population: 6, sample: 3}")
        for (old, new) in [("kind: fmnist-det, fallback: shapes, seed: 0", "kind: shapes, seed: 5"),
                           ("size: 96, train: 2000, val: 500, max_objects: 4, min_side: 16, max_side: 72",
                            "size: 64, train: 30, val: 10, max_objects: 4, min_side: 11, max_side: 48"),
                           ("input: 96", "input: 64"), ("endpoints: 64", "endpoints: 16"),
                           ("head_filters: 64", "head_filters: 16"), ("head_convs: 2", "head_convs: 1"),
                           ("epochs: 6", "epochs: 1"), ("batch: 16", "batch: 10"), ("budget: 18", "budget: 2")] {
            XCTAssertTrue(text.contains(old), old)
            text = text.replacingOccurrences(of: old, with: new)
        }
        let path = dir + "/tiny.yaml"
        try FileSystem.writeAtomically(text, to: path)
        return path
    }

    /// Held-out "val" = the last images of the source's train split, byte for byte; "train" = the rest.
    func testHeldOutFileIsTheTrainSplitCutInTwo() throws {
        let space = try SpaceDefinition.load(try tinySpace())
        let path = try ProxyReward.heldOutDataset(space.proxy, dataDir: dir, log: { _ in })
        let source = try DatasetFile.open(path.replacingOccurrences(of: "-heldout10.h5", with: ".h5")).split("train")
        let file = try DatasetFile.open(path, verify: true)
        let train = try file.split("train"), val = try file.split("val")
        XCTAssertEqual([train.count, val.count], [30, 10])
        XCTAssertEqual(try val.readImages(start: 0, count: 10), try source.readImages(start: 30, count: 10))
        XCTAssertEqual(try train.readImages(start: 0, count: 30), try source.readImages(start: 0, count: 30))
        XCTAssertEqual(Array(val.boxes(of: 3)), Array(source.boxes(of: 33)))
        XCTAssertEqual(Array(val.labels(of: 9)), Array(source.labels(of: 39)))
        XCTAssertEqual(val.offsets.first, 0)
        XCTAssertTrue(file.source.contains("held out"), file.source)
    }

    /// `spinebench search` on the tiny space: the hand-made fish scored as a reference, two candidates
    /// trained and scored (AP in [0, 100]), logged, and the best written as a searched spec the library builds.
    func testSearchTrainsScoresLogsAndWritesTheSpec() throws {
        var runner = SearchRunner(spacePath: try tinySpace(), threads: 2)
        runner.resultsDir = dir + "/results"
        runner.runsDir = dir + "/runs"
        runner.dataDir = dir + "/data"
        runner.specsDir = dir + "/specs"
        runner.references = ["fish"]    // the hand-made (ConnectionRule) fish, scored first for comparison
        FileManager.default.changeCurrentDirectoryPath(TestSupport.root)
        let outcome = try runner.run(progress: Progress(plainInterval: 1e9))
        let log = try SearchLog(path: dir + "/results/search/fish/shard-0-of-1.jsonl").read()
        XCTAssertEqual(log.count, 2)
        for e in log {
            XCTAssertNil(e.failure)
            XCTAssertEqual(e.metrics.names, Metric.detection)
            XCTAssertEqual(e.reward, e.metrics[.ap])
            XCTAssertTrue((0...100).contains(e.reward))
        }
        XCTAssertEqual(outcome.summary.candidates, 2)
        let reference = try XCTUnwrap(try SearchRunner.readReferences(dir + "/results/search/fish")["fish"])
        XCTAssertEqual(reference.violations, [], "ConnectionRule stays inside the space")
        XCTAssertEqual(outcome.summary.references["fish"], reference.reward)
        let spec = try SpecLibrary(directory: dir + "/specs").spec(named: "fish")
        XCTAssertEqual(spec.provenance, .searched)
        XCTAssertNoThrow(try ModelBuilder.build(spec))
        let runs = FileSystem.files(under: dir + "/runs", suffix: ".json")
        XCTAssertEqual(runs, [], "candidate runs are thrown away")
    }

    /// With `--noise-seeds`, the references are scored by the noise measurement's seed-0 runs (the same
    /// run: same candidate, length and seed), not trained a second time.
    func testNoiseMeasurementScoresTheReferences() throws {
        var runner = SearchRunner(spacePath: try tinySpace(), threads: 2)
        runner.resultsDir = dir + "/results"
        runner.runsDir = dir + "/runs"
        runner.dataDir = dir + "/data"
        runner.references = ["fish"]
        runner.noiseSeeds = 2
        runner.noiseRandom = 1
        runner.budget = 1
        FileManager.default.changeCurrentDirectoryPath(TestSupport.root)
        let outcome = try runner.run(progress: Progress(plainInterval: 1e9))
        let noise = try SearchLog(path: RewardNoise.path(folder: dir + "/results/search/fish")).read()
        XCTAssertEqual(noise.map { $0.seed ?? -1 }, [0, 1, 0, 1], "fish, then one random member, seeds 0-1")
        let reference = try XCTUnwrap(try SearchRunner.readReferences(dir + "/results/search/fish")["fish"])
        XCTAssertEqual(reference.candidate, noise[0].candidate.text)
        XCTAssertEqual(reference.reward, noise[0].reward)
        XCTAssertEqual(reference.seconds, noise[0].seconds, "the noise run's own time: nothing was trained again")
        // The random member's full-length mean (not the reference's) is the summary's comparison at full length.
        XCTAssertEqual(outcome.summary.fullLengthRandomCount, 1)
        XCTAssertEqual(try XCTUnwrap(outcome.summary.fullLengthRandomMean), (noise[2].reward + noise[3].reward) / 2, accuracy: 1e-12)
        XCTAssertEqual(outcome.summary.randomEpochs, 1)
    }
}
