import Datasets
import Engine
import Foundation
import Models
import XCTest
@testable import Harness

/// The classification ablation end to end on real files (a seeded fine-shapes dataset in HDF5, a real classifier,
/// real SGD), its strict experiment files, its records, tables and claims; and that adding it left the detection
/// records' config hashes as they were.
final class ClassificationTests: ScratchTestCase {
    override class var scratchPrefix: String { "spinebench-cls" }

    func profile(epochs: Int = 2, learningRate: Double = 0.05) -> AblationDefinition.Profile {
        .init(dataset: .init(size: 32, train: 72, val: 36), input: 32, scale: 0.25, alpha: 0.25, endpoints: 16, headFilters: 0,
              headConvs: 0, epochs: epochs, batch: 12, learningRate: learningRate, warmupFraction: 0.1, weightDecay: 4e-5,
              seeds: 1, anchorSize: 0, schedule: .cosine, labelSmoothing: 0.1)
    }

    func config(_ p: AblationDefinition.Profile, model: String = "spinenet-49") throws -> RunConfig {
        RunConfig(ablation: "cls", model: model, profileName: "unit", profile: p, datasetKind: "fine-shapes", datasetSeed: 3,
                  seed: 0, spec: try SpecLibrary.standard().spec(named: model), task: .classification)
    }

    func dataset(_ p: AblationDefinition.Profile) throws -> String {
        try DatasetCache.ensure(.init(kind: "fine-shapes", fallback: nil, seed: 3), size: p.dataset, dataDir: dir) { _ in }
    }

    /// SGD steps of the classifier on one fixed batch must drive its smoothed cross-entropy well down (a network
    /// that cannot fit 12 images has a broken head, loss or gradient), for SpineNet and for the plain ResNet.
    func testTrainingStepsReduceTheLoss() throws {
        let p = profile()
        let file = try DatasetFile.open(try dataset(p))
        let loader = try DetectionLoader(file: file, split: "train", options: LoaderOptions(batchSize: 12, outputSize: 32, training: false))
        loader.start(epoch: 0)
        let batch = try XCTUnwrap(try loader.next())
        XCTAssertEqual(try ClassificationTask.labels(batch), Array(0..<12))
        for model in ["spinenet-49", "r50-fpn"] {
            let built = try DetectorFactory.build(model: model, profile: p, numClasses: 36, seed: 1)
            let task = ClassificationTask(network: built.network, numClasses: 36, labelSmoothing: 0.1, batchStatistics: true)
            let sgd = SGD(parameters: built.network.parameters, momentum: 0.9, weightDecay: 0, clipNorm: 10)
            let losses = try (0..<40).map { _ in try task.step(batch, optimizer: sgd, learningRate: 0.05) }
            XCTAssertTrue(losses.allSatisfy(\.isFinite), "\(model): \(losses)")
            XCTAssertGreaterThan(losses[0], 3.0, "\(model): starts near log 36")
            XCTAssertLessThan(losses.suffix(5).reduce(0, +) / 5, 0.6 * losses[0], "\(model): loss did not fall: \(losses)")
        }
    }

    /// Top-1 / top-5 and the loss on known logits.
    func testScoresKnownAnswer() {
        var s = ClassificationScores(classes: 6)
        // Row 0: truth 2 is the largest (top-1 and top-5). Row 1: truth 0 ranks 3rd (top-5 only). Row 2: truth 5 is
        // the smallest of six, five above it (neither).
        s.add(logits: [0, 1, 5, 2, 3, 4,  3, 5, 1, 4, 0, -1,  1, 2, 3, 4, 5, 0], labels: [2, 0, 5])
        let m = s.metrics
        XCTAssertEqual(m[.top1]!, 100.0 / 3, accuracy: 1e-9)
        XCTAssertEqual(m[.top5]!, 200.0 / 3, accuracy: 1e-9)
        let ce = { (row: [Double], t: Int) in -(row[t] - log(row.map(exp).reduce(0, +))) }
        let expected = (ce([0, 1, 5, 2, 3, 4], 2) + ce([3, 5, 1, 4, 0, -1], 0) + ce([1, 2, 3, 4, 5, 0], 5)) / 3
        XCTAssertEqual(m[.loss]!, expected, accuracy: 1e-6)
    }

    /// A classification run stopped after its first epoch and resumed ends with the same record as one that ran
    /// straight through; the record carries top1 / top5 / loss, the unit path DATASET/MODEL, and sizes at the
    /// paper's ImageNet setting.
    func testInterruptedRunResumesToTheSameRecord() throws {
        let p = profile()
        let straight = try assertResumesToTheSameRecord(try config(p), data: try dataset(p))
        XCTAssertEqual(straight.metrics.names, Metric.classification)
        XCTAssertEqual(straight.relativePath, "records/cls/unit/fine-shapes/spinenet-49/seed-0.json")
        XCTAssertEqual(Double(straight.size.paperParams), 22.1e6, accuracy: 0.05e6)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/a/cls/unit/fine-shapes/spinenet-49/seed-0/checkpoint/meta.json"))
        // `evaluate` re-scores it from the checkpoint to the same metrics.
        let again = try RunEvaluation.evaluate(runDir: dir + "/a/cls/unit/fine-shapes/spinenet-49/seed-0", threads: 2)
        XCTAssertEqual(again.metrics, straight.metrics)
    }

    /// The shipped file: strict, with two datasets, four units, and a shard plan that covers each run once.
    func testShippedAblationFile() throws {
        let def = try AblationDefinition.load(Self.root + "/ablations/classification.yaml")
        XCTAssertEqual(def.task, .classification)
        XCTAssertEqual(def.units.map { "\($0.dataset.kind)/\($0.model)" },
                       ["fmnist-cls/r50-fpn", "fmnist-cls/spinenet-49", "fine-shapes/r50-fpn", "fine-shapes/spinenet-49"])
        for (name, p) in def.profiles {
            XCTAssertEqual(p.labelSmoothing, 0.1, name)
            XCTAssertEqual(p.schedule, .cosine, name)
        }
        var runner = AblationRunner(definitionPath: Self.root + "/ablations/classification.yaml", profileName: "quick", threads: 1)
        runner.resultsDir = dir + "/results"
        let all = try runner.pending()
        XCTAssertEqual(all.count, 4 * def.profiles["quick"]!.seeds)
        var sharded: [RunPlan.Run] = []
        for i in 0..<3 {
            runner.shard = Shard(index: i, count: 3)
            sharded += try runner.pending()
        }
        XCTAssertEqual(sharded.map(\.index).sorted(), all.map(\.index))
        XCTAssertEqual(Set(all.map { "\($0.dataset!)/\($0.model)/\($0.seed)" }).count, all.count)
    }

    /// Bad classification files fail on load, naming the file and the field.
    func testStrictErrors() throws {
        let good = try String(contentsOfFile: Self.root + "/ablations/classification.yaml", encoding: .utf8)
        let detection = try String(contentsOfFile: Self.root + "/ablations/connections.yaml", encoding: .utf8)
        let cases: [(String, String, String)] = [
            (good.replacingOccurrences(of: "    label_smoothing: 0.1\n", with: "    label_smoothing: 0.1\n    head_filters: 64\n"),
             "head_filters", "classification profile"),
            (good.replacingOccurrences(of: "dataset: { size: 64, train: 9000, val: 1800 }",
                                       with: "dataset: { size: 64, train: 7200, val: 1800, max_objects: 1, min_side: 8, max_side: 40 }"),
             "dataset", "only size, train and val"),
            (good.replacingOccurrences(of: "    label_smoothing: 0.1\n", with: "    label_smoothing: 1.5\n"),
             "label_smoothing", "in [0, 1)"),
            (good.replacingOccurrences(of: "    label_smoothing: 0.1\n", with: ""), "dataset", "sets label_smoothing"),
            (good.replacingOccurrences(of: "kind: fine-shapes", with: "kind: shapes"), "tables.fine.dataset.kind", "classification dataset kind"),
            (good.replacingOccurrences(of: "kind: fmnist-cls, seed: 0", with: "kind: fmnist-cls, seed: 0, mark_contrast: 0.5"),
             "tables.coarse.dataset.mark_contrast", "fine-shapes only"),
            (good.replacingOccurrences(of: "mark_contrast: [0-9.]+", with: "mark_contrast: 1.5", options: .regularExpression),
             "tables.fine.dataset.mark_contrast", "(0, 1]"),
            (good.replacingOccurrences(of: "margin: 1.0", with: "margin: -1"), "margin", "margin >= 0"),
            (good.replacingOccurrences(of: "{ better: spinenet-49, worse: r50-fpn }",
                                       with: "{ kind: curve_above, family: scale_permuted, against: resnet_fpn }"),
             "tables.fine.claims", "curve_above"),
            (detection.replacingOccurrences(of: "    eval_batch_norm: batch", with: "    eval_batch_norm: batch\n    label_smoothing: 0.1"),
             "head_filters", "a classification profile (one with label_smoothing)"),
            (detection.replacingOccurrences(of: "title: \"Table 9", with: "dataset: { kind: shapes, seed: 1 }\n    title: \"Table 9"),
             "dataset", "detection ablation"),
        ]
        for (i, (text, field, expected)) in cases.enumerated() {
            XCTAssertNotEqual(text, good, "case \(i) changed nothing")
            let path = dir + "/case\(i).yaml"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try AblationDefinition.load(path), "case \(i)") { error in
                let s = "\(error)"
                XCTAssertTrue(s.contains(path), "case \(i): \(s)")
                XCTAssertTrue(s.contains(field), "case \(i) lacks field \(field): \(s)")
                XCTAssertTrue(s.contains(expected), "case \(i) lacks '\(expected)': \(s)")
            }
        }
    }

    /// Tables from records: top-1 paired by seed, the non-inferiority claim tests A - B + margin, and the fine
    /// table's "better" claim; `diff` keys classification rows by dataset and model.
    func testTablesClaimsAndDiff() throws {
        let def = try AblationDefinition.load(Self.root + "/ablations/classification.yaml")
        let p = def.profiles["quick"]!
        let library = try SpecLibrary.standard()
        func record(_ kind: String, _ model: String, _ seed: Int, top1: Double) -> ResultRecord {
            let c = RunConfig(ablation: def.name, model: model, profileName: "quick", profile: p, datasetKind: kind, datasetSeed: 0,
                              seed: seed, spec: try! library.spec(named: model), task: .classification)
            return ResultRecord(ablation: def.name, model: model, profile: "quick", seed: seed, config: c, status: .ok, failure: nil,
                                architecture: .init(displayName: model, provenance: "official"),
                                metrics: [.top1: top1, .top5: top1 + 10, .loss: 1], areaScale: 0,
                                size: .init(params: 1, macs: 2, backboneParams: 1, backboneMacs: 2, paperParams: 3, paperMacs: 4),
                                training: .init(epochs: 1, steps: 1, batch: 1, input: 64, trainImages: 1, valImages: 1, lossCurve: [],
                                                lossWindow: 1, finalLoss: nil, resumedFromEpoch: 0),
                                measured: .init(trainSeconds: 0, evalSeconds: 0, trainImagesPerSecond: 0),
                                provenance: .init(commit: "c", sourceTree: "s", dirty: false, configHash: c.hash, datasetChecksum: "x",
                                                  datasetSource: "y", toolchain: "t", openblas: "o", threads: 1),
                                determinism: "")
        }
        // Coarse: SpineNet 0.3 below ResNet, spread 0.1 (CI well above -1: non-inferior). Fine: SpineNet 5 ahead.
        var records: [ResultRecord] = []
        for (k, (r, s)) in [(80.0, 79.6), (81.0, 80.8), (79.0, 78.7)].enumerated() {
            records += [record("fmnist-cls", "r50-fpn", k, top1: r), record("fmnist-cls", "spinenet-49", k, top1: s)]
            records += [record("fine-shapes", "r50-fpn", k, top1: r - 20), record("fine-shapes", "spinenet-49", k, top1: r - 15 + 0.1 * Double(k))]
        }
        let writer = ClassificationTableWriter(definition: def, profile: "quick", records: records)
        let coarse = writer.claims(def.tables[0]), fine = writer.claims(def.tables[1])
        XCTAssertEqual(coarse[0].comparison.meanDifference, -0.3, accuracy: 1e-9)
        XCTAssertEqual(coarse[0].tested.meanDifference, 0.7, accuracy: 1e-9)
        XCTAssertEqual(coarse[0].verdict, .supported)
        XCTAssertEqual(fine[0].comparison.meanDifference, 5.1, accuracy: 1e-9)
        XCTAssertEqual(fine[0].verdict, .supported)
        let md = writer.markdown()
        XCTAssertTrue(md.contains("| SpineNet-49 | 3 | 79.7 ± 1.1 |"), md)
        XCTAssertTrue(md.contains("not worse than ResNet-50 by more than 1.0 top-1 points: supported (-0.3 points"), md)
        XCTAssertTrue(md.contains("77.1*"), md)
        XCTAssertTrue(writer.csv().contains("fine,fine-shapes,spinenet-49,SpineNet-49,3,65.100"), writer.csv())
        // A non-inferiority claim with SpineNet far behind is contradicted.
        let behind = records.map { r -> ResultRecord in
            var r = r
            if r.model == "spinenet-49", r.config.datasetKind == "fmnist-cls" { r.metrics[.top1]! -= 5 }
            return r
        }
        XCTAssertEqual(ClassificationTableWriter(definition: def, profile: "quick", records: behind).claims(def.tables[0])[0].verdict,
                       .contradicted)
        let report = RecordDiff(before: records, after: behind).report(nameA: "a", nameB: "b")
        XCTAssertTrue(report.contains("~ classification/quick/fmnist-cls/spinenet-49"), report)
        XCTAssertTrue(report.contains("top1: 79.70 ± 1.05 -> 74.70 ± 1.05 (-5.0"), report)
        XCTAssertFalse(report.contains("fine-shapes/spinenet-49\n"), report)
    }

    /// Every committed record's stored config hash is still the hash of its config as this code encodes it: the
    /// classification keys (task, label_smoothing, a table's dataset) leave detection configs byte for byte as
    /// they were, so no committed run goes stale.
    func testCommittedRecordsKeepTheirConfigHashes() throws {
        let records = try RecordStore.load(resultsDir: Self.root + "/results")
        XCTAssertGreaterThan(records.count, 0)
        for r in records {
            XCTAssertEqual(r.config.hash, r.provenance.configHash, r.relativePath)
        }
    }
}
