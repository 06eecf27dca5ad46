import Datasets
import Detection
import Engine
import Foundation
import Models
import XCTest
@testable import Harness

/// End to end on real files: a seeded synthetic dataset in HDF5, a real RetinaNet on R0-SP53,
/// real SGD. Small enough for CI, real enough to fail.
final class TrainingRunTests: ScratchTestCase {
    override class var scratchPrefix: String { "spinebench-run" }

    func profile(epochs: Int = 2, learningRate: Double = 0.02) -> AblationDefinition.Profile {
        .init(dataset: .init(size: 64, train: 32, val: 8, maxObjects: 2, minSide: 10, maxSide: 48), input: 64, scale: 0.25, alpha: 0.25,
              endpoints: 16, headFilters: 16, headConvs: 1, epochs: epochs, batch: 8, learningRate: learningRate,
              warmupFraction: 0.2, weightDecay: 4e-5, seeds: 1, anchorSize: 1)
    }

    func dataset(_ p: AblationDefinition.Profile) throws -> String {
        try DatasetCache.ensure(.init(kind: "shapes", fallback: nil, seed: 3), size: p.dataset, dataDir: dir) { _ in }
    }

    func config(_ p: AblationDefinition.Profile, model: String = "r0-sp53") throws -> RunConfig {
        RunConfig(ablation: "test", model: model, profileName: "unit", profile: p, datasetKind: "shapes", datasetSeed: 3, seed: 0,
                  spec: try SpecLibrary.standard().spec(named: model))
    }

    /// An ablation file of `models` with one profile, "smoke" (one epoch on 16 tiny images), and its
    /// runner writing everything under the test's directory.
    func smokeAblation(_ name: String, models: [String], learningRate: String) throws -> AblationRunner {
        let rows = models.map { "{ model: \($0) }" }.joined(separator: ", ")
        let yaml = """
            name: \(name)
            title: t
            dataset: { kind: shapes, seed: 3 }
            tables:
              - { id: t, title: t, baseline: \(models[0]), rows: [\(rows)], claims: [] }
            profiles:
              smoke:
                dataset: { size: 64, train: 16, val: 8, max_objects: 2, min_side: 10, max_side: 48 }
                input: 64
                scale: 0.25
                alpha: 0.25
                endpoints: 16
                head_filters: 16
                head_convs: 1
                epochs: 1
                batch: 8
                learning_rate: \(learningRate)
                warmup_fraction: 0
                weight_decay: 0
                seeds: 1
                anchor_size: 1
                bn_momentum: 0.99
                warmup_start: 0.1
                schedule: step
                decay_points: [0.75, 0.9]
                momentum: 0.9
                clip_norm: 10
                focal_alpha: 0.25
                focal_gamma: 1.5
                huber_delta: 0.1
                box_weight: 50
                flip_probability: 0.5
                scale_jitter: [0.8, 1.2]
                eval_batch_norm: moving
            """
        try yaml.write(toFile: dir + "/\(name).yaml", atomically: true, encoding: .utf8)
        var runner = AblationRunner(definitionPath: dir + "/\(name).yaml", profileName: "smoke", threads: 2)
        runner.resultsDir = dir + "/results"
        runner.runsDir = dir + "/runs"
        runner.dataDir = dir + "/data"
        return runner
    }

    /// The whole detector (backbone, head, focal + Huber losses, SGD) fits one batch: the loss must fall.
    func testDetectorLossFallsOnOneBatch() throws {
        let p = profile()
        let loader = try DetectionLoader(path: try dataset(p), split: "train",
                                         options: LoaderOptions(batchSize: 8, outputSize: 64, training: false))
        let batch = try loader.makeBatch(epoch: 0, index: 0)
        let built = try DetectorFactory.build(model: "r0-sp53", profile: p, numClasses: 8, seed: 0)
        let retinaNet = RetinaNet(anchors: AnchorConfig(anchorSize: 1), imageSize: 64, numClasses: 8, loss: .paper)
        let sgd = SGD(parameters: built.network.parameters, momentum: 0.9, weightDecay: 0, clipNorm: 10)
        var losses: [Double] = []
        for _ in 0..<40 {
            losses.append(try DetectionTask.step(batch, detector: built.network, retinaNet: retinaNet, optimizer: sgd,
                                                 learningRate: 0.01).loss)
        }
        XCTAssertTrue(losses.allSatisfy(\.isFinite), "\(losses)")
        XCTAssertLessThan(losses.suffix(5).reduce(0, +) / 5, 0.75 * losses[0], "loss did not fall: \(losses)")
    }

    /// A run stopped after its first epoch and started again ends with the same record as one that ran
    /// straight through (apart from wall-clock measurements and the resume marker).
    func testInterruptedRunResumesToTheSameRecord() throws {
        let p = profile()
        let straight = try assertResumesToTheSameRecord(try config(p), data: try dataset(p))
        XCTAssertEqual(straight.metrics.names, Metric.detection)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/a/test/unit/r0-sp53/seed-0/val-detections.json"))
    }

    /// `--force` re-trains: a finished run's checkpoint is not resumed (it used to be, re-evaluating the
    /// final weights and recording 0 images/s).
    func testForcedRunTrainsFromTheFirstStep() throws {
        var runner = try smokeAblation("force", models: ["r0-sp53"], learningRate: "0.02")
        XCTAssertEqual(try runner.run(progress: Progress()).trained, 1)
        runner.force = true
        XCTAssertEqual(try runner.run(progress: Progress()).trained, 1)
        let record = try ResultRecord.read(dir + "/results/records/force/smoke/r0-sp53/seed-0.json")
        XCTAssertEqual(record.training.resumedFromEpoch, 0)
        XCTAssertGreaterThan(record.measured.trainImagesPerSecond, 0)
    }

    /// A spec file rewritten under the same model name (as the search does) is trained again: its old
    /// record is not taken as "already recorded" and its old checkpoint is not resumed; and
    /// `evaluate` refuses a run directory whose spec changed since.
    func testChangedSpecIsTrainedAgainNotSkippedOrResumed() throws {
        let specs = dir + "/specs"
        try FileSystem.createDirectory(specs)
        let original = try String(contentsOfFile: "ablations/specs/r0-sp53.yaml", encoding: .utf8)
        let rewired = original.replacingOccurrences(of: "{level: 4, inputs: [8, 10]}", with: "{level: 4, inputs: [7, 10]}")
        XCTAssertNotEqual(rewired, original)
        try original.write(toFile: specs + "/r0-sp53.yaml", atomically: true, encoding: .utf8)
        setenv("SPINEBENCH_SPECS", specs, 1)
        defer { unsetenv("SPINEBENCH_SPECS") }
        let runner = try smokeAblation("respec", models: ["r0-sp53"], learningRate: "0.02")
        let recordPath = dir + "/results/records/respec/smoke/r0-sp53/seed-0.json"

        XCTAssertEqual(try runner.run(progress: Progress()).trained, 1)
        let before = try ResultRecord.read(recordPath)
        XCTAssertEqual(try runner.run(progress: Progress()).skipped, 1, "an unchanged spec is skipped")

        try rewired.write(toFile: specs + "/r0-sp53.yaml", atomically: true, encoding: .utf8)
        let again = try runner.run(progress: Progress())
        XCTAssertEqual(again.skipped, 0)
        XCTAssertEqual(again.trained, 1)
        let after = try ResultRecord.read(recordPath)
        XCTAssertEqual(after.training.resumedFromEpoch, 0, "resumed a checkpoint of the old spec")
        XCTAssertNotEqual(after.provenance.configHash, before.provenance.configHash)

        try original.write(toFile: specs + "/r0-sp53.yaml", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try RunEvaluation.evaluate(runDir: dir + "/runs/respec/smoke/r0-sp53/seed-0", threads: 2)) {
            XCTAssertTrue("\($0)".contains("trained again"), "\($0)")
        }
    }

    /// A learning rate that blows the loss up stops that run with a failure record; the ablation goes on.
    func testDivergingRunIsRecordedAsFailed() throws {
        let runner = try smokeAblation("diverge", models: ["r0-sp53", "r0-sp53-sequential"], learningRate: "1.0e+6")
        let summary = try runner.run(progress: Progress())
        XCTAssertEqual(summary.failed, 2)
        let record = try ResultRecord.read(dir + "/results/records/diverge/smoke/r0-sp53/seed-0.json")
        XCTAssertEqual(record.status, .failed)
        XCTAssertTrue(record.failure?.contains("loss became") ?? false, "\(record.failure ?? "")")
        XCTAssertGreaterThan(record.size.paperParams, 1_000_000)
    }
}
