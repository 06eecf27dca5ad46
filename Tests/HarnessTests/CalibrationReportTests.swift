import Foundation
import XCTest
@testable import Harness
import Models

/// The calibration report chooses the ablations' decisive length: its numbers and its rule, on hand-made records.
final class CalibrationReportTests: XCTestCase {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path
    static let spec = try! SpecLibrary(directory: packageRoot + "/ablations/specs").spec(named: "r0-sp53")

    func record(_ model: String, epochs: Int, lr: Double = 0.08, seed: Int, ap: Double, status: RunStatus = .ok,
                ablation: String = "calibration") -> ResultRecord {
        let profile = AblationDefinition.Profile(
            dataset: .init(size: 96, train: 64, val: 16, maxObjects: 4, minSide: 16, maxSide: 72), input: 96, scale: 0.25,
            alpha: 0.25, endpoints: 64, headFilters: 64, headConvs: 2, epochs: epochs, batch: 16, learningRate: lr,
            warmupFraction: 0.05, weightDecay: 4e-5, seeds: 2, anchorSize: 2)
        let name = lr == 0.08 ? "e\(epochs)" : "lr\(lr)-e\(epochs)"
        let steps = epochs * 4
        return ResultRecord(
            ablation: ablation, model: model, profile: name, seed: seed,
            config: RunConfig(ablation: ablation, model: model, profileName: name, profile: profile,
                              datasetKind: "fmnist-det", datasetSeed: 0, seed: seed, spec: Self.spec),
            status: status, failure: status == .ok ? nil : "loss became nan at step 3",
            architecture: .init(displayName: model.uppercased(), provenance: "reconstructed"),
            metrics: [.ap: ap, .ap50: ap + 20],
            areaScale: 0.44,
            size: .init(params: 1, macs: 1, backboneParams: 1, backboneMacs: 1, paperParams: 1, paperMacs: 1),
            training: .init(epochs: epochs, steps: steps, batch: 16, input: 96, trainImages: 64, valImages: 16,
                            lossCurve: (0..<epochs).map { 2 / Double($0 + 1) }, lossWindow: 4, finalLoss: 1,
                            resumedFromEpoch: 0),
            measured: .init(trainSeconds: 60 * Double(epochs), evalSeconds: 1, trainImagesPerSecond: 100),
            provenance: .init(commit: "abcdef0123456789", dirty: false, configHash: "h", datasetChecksum: "c",
                              datasetSource: "fmnist", toolchain: "Swift", openblas: "x", threads: 1),
            determinism: "test")
    }

    /// Two seeds at mean `ap` (ap - 0.5, ap + 0.5), or one seed at `ap`.
    func point(_ model: String, _ epochs: Int, _ ap: Double, seeds: Int = 2, lr: Double = 0.08) -> [ResultRecord] {
        seeds == 1 ? [record(model, epochs: epochs, lr: lr, seed: 0, ap: ap)]
            : [record(model, epochs: epochs, lr: lr, seed: 0, ap: ap - 0.5), record(model, epochs: epochs, lr: lr, seed: 1, ap: ap + 0.5)]
    }

    /// a climbs until 4 epochs (+0.5 from 4 to 8), b until 4 (+0.8): the rule picks 4.
    func records(withoutB8: Bool = false, single8: Bool = false) -> [ResultRecord] {
        var out = point("a", 1, 20) + point("a", 2, 30) + point("a", 4, 40.5) + point("a", 8, 41, seeds: single8 ? 1 : 2)
            + point("a", 16, 41.3, seeds: 1)
        out += point("b", 1, 10) + point("b", 2, 20) + point("b", 4, 25) + point("b", 16, 26, seeds: 1)
        if !withoutB8 { out += point("b", 8, 25.8, seeds: single8 ? 1 : 2) }
        out += point("a", 4, 38, seeds: 1, lr: 0.04) + point("b", 4, 27, seeds: 1, lr: 0.16)
        // Neither counts: a failed run and another ablation's run.
        out.append(record("a", epochs: 8, seed: 2, ap: 99, status: .failed))
        out.append(record("a", epochs: 8, seed: 3, ap: 99, ablation: "permutation"))
        return out
    }

    func testAPPerPointOverOkSeeds() throws {
        let study = CalibrationStudy(records: records())
        let s = try XCTUnwrap(study.ap(model: "a", epochs: 8, learningRate: 0.08))
        XCTAssertEqual(s.count, 2)
        XCTAssertEqual(s.mean, 41, accuracy: 1e-12)
        XCTAssertEqual(s.std!, 0.5.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(study.ap(model: "a", epochs: 16, learningRate: 0.08)?.count, 1)
        XCTAssertEqual(study.ap(model: "a", epochs: 4, learningRate: 0.04)?.mean, 38)
        XCTAssertNil(study.ap(model: "a", epochs: 4, learningRate: 0.16))
        XCTAssertNil(study.ap(model: "c", epochs: 4, learningRate: 0.08))
        XCTAssertEqual(study.models, ["a", "b"])
        XCTAssertEqual(study.lengths(learningRate: 0.08), [1, 2, 4, 8, 16])
        XCTAssertEqual(study.baseLearningRate, 0.08)
        XCTAssertEqual(study.sweepLengths, [4])
        XCTAssertEqual(study.failures.count, 1)
    }

    func testPlateauFractionAveragesTheModelsRatios() throws {
        let study = CalibrationStudy(records: records())
        let f = try XCTUnwrap(study.plateauFraction(epochs: 1, reference: 4, learningRate: 0.08))
        XCTAssertEqual(f, (20 / 40.5 + 10 / 25.0) / 2, accuracy: 1e-12)
        // Only a has 8 epochs here: the average is over the models that have both points.
        let g = try XCTUnwrap(CalibrationStudy(records: records(withoutB8: true)).plateauFraction(epochs: 4, reference: 8, learningRate: 0.08))
        XCTAssertEqual(g, 40.5 / 41, accuracy: 1e-12)
        XCTAssertNil(study.plateauFraction(epochs: 3, reference: 4, learningRate: 0.08))
    }

    func testRulePicksTheShortestLengthWithinOneAPOfItsDouble() throws {
        let study = CalibrationStudy(records: records())
        XCTAssertEqual(study.chosenLength(learningRate: 0.08), 4)
        XCTAssertEqual(try XCTUnwrap(study.gain(model: "b", from: 4, learningRate: 0.08)), 0.8, accuracy: 1e-12)
        let paired = study.pairedGain(model: "a", from: 4, learningRate: 0.08)
        XCTAssertEqual(paired.n, 2)
        XCTAssertEqual(paired.meanDifference, 0.5, accuracy: 1e-12)
        // Another rate's points do not take part: at 0.04 only one length exists.
        XCTAssertNil(study.chosenLength(learningRate: 0.04))
        let md = study.markdown()
        XCTAssertTrue(md.contains("Chosen length: **4 epochs** (doubling to 8 gains A +0.5, B +0.8 AP)"), md)
        XCTAssertTrue(md.contains("- 1 epoch: 45% (A 49%, B 40%)"), md)
        XCTAssertFalse(md.contains("do not yet settle"), md)
        XCTAssertTrue(md.contains("| A | 4 → 8 | +0.5 | [+0.5, +0.5] | 2 |"), md)
        XCTAssertTrue(md.contains("## Learning rate at 4 epochs"), md)
        XCTAssertTrue(md.contains("| B | — | 25.0 ± 0.7 (2) | 27.0 (1) | 0.16 |"), md)
        XCTAssertTrue(md.contains("seed 2: loss became nan"), md)
        XCTAssertTrue(md.contains("batch 16, 64 train images per epoch"), md)
        let svg = study.svg()
        XCTAssertTrue(svg.contains("<polyline"), svg)
        XCTAssertTrue(svg.contains("<circle"), svg)
        // A second rate at 16 epochs makes a second sweep table.
        let wider = CalibrationStudy(records: records() + point("a", 16, 42, seeds: 1, lr: 0.04))
        XCTAssertEqual(wider.sweepLengths, [4, 16])
        let md16 = wider.markdown()
        XCTAssertTrue(md16.contains("## Learning rate at 16 epochs"), md16)
        XCTAssertTrue(md16.contains("| A | 42.0 (1) | 41.3 (1) | 0.04 |"), md16)
        XCTAssertTrue(svg.hasSuffix("</svg>\n"))
    }

    func testNoChoiceWhenAModelLacksTheDouble() {
        // b has no 8-epoch run: 4 cannot be judged for b, nor 8 (no 8 to double), so nothing qualifies.
        let study = CalibrationStudy(records: records(withoutB8: true))
        XCTAssertNil(study.chosenLength(learningRate: 0.08))
        let md = study.markdown()
        XCTAssertTrue(md.contains("**No length can be chosen yet.**"), md)
        XCTAssertTrue(md.contains("- 4 → 8 epochs: A +0.5 AP; B lacks 8 epochs."), md)
        XCTAssertTrue(md.contains("The longest length so far (16 epochs) has one seed"), md)
        XCTAssertFalse(md.contains("Chosen length"), md)
    }

    func testNoChoiceWhileStillClimbing() {
        let climbing = point("a", 1, 20) + point("a", 2, 30) + point("a", 4, 35)
        XCTAssertNil(CalibrationStudy(records: climbing).chosenLength(learningRate: 0.08))
        XCTAssertEqual(CalibrationStudy(records: climbing + point("a", 8, 35.9)).chosenLength(learningRate: 0.08), 4)
        XCTAssertNil(CalibrationStudy(records: climbing + point("a", 8, 36.1)).chosenLength(learningRate: 0.08))
    }

    func testOneSeedDoubleMakesTheChoiceProvisional() {
        let md = CalibrationStudy(records: records(single8: true)).markdown()
        XCTAssertTrue(md.contains("Chosen length: **4 epochs**"), md)
        XCTAssertTrue(md.contains("The data do not yet settle this choice: one seed only for A at 8 epochs, B at 8 epochs"), md)
    }

    func testCalibrationFileAndTablesWriteTheReport() throws {
        let def = try AblationDefinition.load(Self.packageRoot + "/ablations/calibration.yaml")
        XCTAssertEqual(def.report, .calibration)
        XCTAssertEqual(Set(def.profiles.keys), ["e1", "e2", "e3", "e4", "e8", "e16", "e32", "lr0.04-e4", "lr0.16-e4", "lr0.04-e16"])
        XCTAssertEqual(try AblationDefinition.load(Self.packageRoot + "/ablations/permutation.yaml").report, .tables)

        let dir = NSTemporaryDirectory() + "calibration-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileSystem.createDirectory(dir + "/ablations")
        let text = try String(contentsOfFile: Self.packageRoot + "/ablations/calibration.yaml", encoding: .utf8)
        try text.write(toFile: dir + "/ablations/calibration.yaml", atomically: true, encoding: .utf8)
        try text.replacingOccurrences(of: "report: calibration", with: "report: calibrate")
            .write(toFile: dir + "/bad.yaml", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try AblationDefinition.load(dir + "/bad.yaml"))
        for r in records() where r.ablation == "calibration" { try r.write(under: dir + "/results") }
        let written = try RecordStore.writeTables(ablationsDir: dir + "/ablations", resultsDir: dir + "/results")
        XCTAssertEqual(written, [dir + "/results/calibration.md", dir + "/results/calibration.svg"])
        let md = try String(contentsOfFile: dir + "/results/calibration.md", encoding: .utf8)
        XCTAssertTrue(md.contains("Chosen length: **4 epochs**"), md)
    }
}
