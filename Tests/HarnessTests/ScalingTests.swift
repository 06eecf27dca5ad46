import Foundation
import XCTest
@testable import Harness
import Models

/// The scaling ablation (issue #22): its experiment file, the `curve_above` claim (interpolation in log MACs,
/// verdicts, Holm) and its plot, on hand-made records.
final class ScalingTests: XCTestCase {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path
    static let library = try! SpecLibrary(directory: packageRoot + "/ablations/specs")

    func definition() throws -> AblationDefinition {
        try AblationDefinition.load(Self.packageRoot + "/ablations/scaling.yaml")
    }

    func record(_ model: String, seed: Int, ap: Double, macs: Int) -> ResultRecord {
        var config = RunConfig(ablation: "scaling", model: model, profileName: "smoke", profile: TablesTests.profile,
                               datasetKind: "shapes", datasetSeed: 0, seed: seed,
                               spec: try! Self.library.spec(named: model))
        config.modelHash = "m-" + model
        return ResultRecord(
            ablation: "scaling", model: model, profile: "smoke", seed: seed, config: config, status: .ok, failure: nil,
            architecture: .init(displayName: model.uppercased(), provenance: "official"),
            metrics: [.ap: ap, .ap50: ap + 20, .ap75: ap - 5, .apSmall: 1, .apMedium: 2, .apLarge: 3], areaScale: 0.01,
            size: .init(params: macs / 50, macs: macs, backboneParams: macs / 60, backboneMacs: macs / 2,
                        paperParams: 20_000_000, paperMacs: 80_000_000_000),
            training: .init(epochs: 1, steps: 10, batch: 8, input: 64, trainImages: 80, valImages: 16,
                            lossCurve: [2, 1], lossWindow: 5, finalLoss: 1, resumedFromEpoch: 0),
            measured: .init(trainSeconds: 1, evalSeconds: 1, trainImagesPerSecond: 80),
            provenance: .init(commit: "abc", sourceTree: nil, dirty: false, configHash: config.hash, datasetChecksum: "c",
                              datasetSource: "shapes", toolchain: "Swift", openblas: "x", threads: 1),
            determinism: "test")
    }

    func writer(_ records: [ResultRecord]) throws -> TableWriter {
        let def = try definition()
        return TableWriter(definition: def, profile: "smoke", records: records,
                           facts: TableWriter.ModelFacts.of(def, library: Self.library))
    }

    // MARK: The experiment file

    func testScalingFileHasTheSevenRowsTheClaimAndPermutationsProfiles() throws {
        let def = try definition()
        XCTAssertEqual(def.models, ["spinenet-49s", "spinenet-49", "spinenet-96", "spinenet-143", "r50-fpn", "r101-fpn", "r152-fpn"])
        XCTAssertEqual(def.tables.count, 1)
        XCTAssertEqual(def.tables[0].title, "Scaling: AP against multiply-adds")
        XCTAssertEqual(def.tables[0].claims, [.curveAbove(family: .scalePermuted, against: .resnetFPN)])
        let permutation = try AblationDefinition.load(Self.packageRoot + "/ablations/permutation.yaml")
        XCTAssertEqual(def.profiles, permutation.profiles)        // same keys and values: comparable records
        XCTAssertEqual(def.dataset.kind, permutation.dataset.kind)
        XCTAssertEqual(def.dataset.seed, permutation.dataset.seed)
        let facts = TableWriter.ModelFacts.of(def, library: Self.library)
        XCTAssertEqual(facts.count, 7)
        XCTAssertEqual(facts.filter { $0.value.family == .resnetFPN }.keys.sorted(), ["r101-fpn", "r152-fpn", "r50-fpn"])
        XCTAssertEqual(facts["spinenet-96"]?.paperInput, 1024)
        XCTAssertEqual(facts["spinenet-143"]?.paperInput, 1280)
    }

    /// At the proxy each member keeps its paper ratio to SpineNet-49's scaling (docs/paper-facts.md §13), so the
    /// family still grows in multiply-adds in the paper's order: 49S < 49 < 96 < 143, R50 < R101 < R152.
    func testMembersKeepTheirPaperRatiosAtTheProxy() throws {
        let def = try definition()
        for name in ["quick", "smoke"] {
            let p = def.profiles[name]!
            let options = { (model: String) in DetectorFactory.proxyOptions(try! Self.library.spec(named: model), profile: p, numClasses: 10) }
            let s49s = options("spinenet-49s"), s49 = options("spinenet-49"), s143 = options("spinenet-143")
            XCTAssertEqual(s49s.filterSizeScale!, p.scale * 0.65, accuracy: 1e-15)
            XCTAssertEqual(s49s.head, .retinaNet(filters: p.headFilters / 2, convs: p.headConvs, classes: 10, anchors: 9))
            XCTAssertEqual(s49.filterSizeScale, p.scale)
            XCTAssertEqual(s49.resampleAlpha, p.alpha)
            XCTAssertEqual(s143.resampleAlpha, 2 * p.alpha)
            XCTAssertEqual(s143.filterSizeScale, p.scale)
            for model in def.models {
                let o = options(model)
                XCTAssertNil(o.blockRepeats, model)                       // the spec's own repeats
                XCTAssertEqual(o.inputSize, p.input, model)
                XCTAssertEqual(o.endpointsNumFilters, p.endpoints, model)
            }
            let macs = { (model: String) in try! ModelBuilder.build(try! Self.library.spec(named: model), options: options(model)).counts.macs }
            let family = ["spinenet-49s", "spinenet-49", "spinenet-96", "spinenet-143"].map(macs)
            let resnets = ["r50-fpn", "r101-fpn", "r152-fpn"].map(macs)
            XCTAssertEqual(family, family.sorted(), "\(name): \(family)")
            XCTAssertEqual(Set(family).count, 4)
            XCTAssertEqual(resnets, resnets.sorted(), "\(name): \(resnets)")
            XCTAssertEqual(Set(resnets).count, 3)
        }
    }

    /// The claim keeps experiment files strict: keys of the other kind, an unknown kind, an unknown family or a
    /// family compared with itself are errors naming the field.
    func testCurveClaimDecodingIsStrict() throws {
        func load(_ claim: String) throws -> AblationDefinition {
            let path = NSTemporaryDirectory() + "claim-\(getpid()).yaml"
            defer { try? FileManager.default.removeItem(atPath: path) }
            let text = "name: x\ntitle: t\ndataset: {kind: shapes, seed: 0}\ntables:\n  - id: t\n    title: t\n    baseline: a\n"
                + "    rows: [{model: a}, {model: b}]\n    claims:\n      - \(claim)\nprofiles: {}\n"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return try AblationDefinition.load(path)
        }
        XCTAssertEqual(try load("{ better: a, worse: b }").tables[0].claims, [.better("a", than: "b")])
        XCTAssertEqual(try load("{ kind: better, better: a, worse: b }").tables[0].claims, [.better("a", than: "b")])
        XCTAssertEqual(try load("{ kind: curve_above, family: resnet_fpn, against: scale_permuted }").tables[0].claims,
                       [.curveAbove(family: .resnetFPN, against: .scalePermuted)])
        for (bad, field) in [("{ kind: curve_above, family: scale_permuted, against: resnet_fpn, better: a }", "claims.0.better"),
                             ("{ better: a, worse: b, family: scale_permuted }", "claims.0.family"),
                             ("{ kind: curve_above, family: scale_permuted }", "claims.0.against"),
                             ("{ kind: curve_above, family: scale_permuted, against: scale_permuted }", "claims.0.against"),
                             ("{ kind: curve_above, family: spinenet, against: resnet_fpn }", "claims.0.family"),
                             ("{ kind: curve_below, family: scale_permuted, against: resnet_fpn }", "claims.0.kind"),
                             ("{ kind: curve_above, family: scale_permuted, against: resnet_fpn, models: [a] }", "claims.0.models")] {
            XCTAssertThrowsError(try load(bad), bad) { error in
                XCTAssertTrue("\(error)".contains("tables.0." + field), "\(bad): \(error)")
            }
        }
    }

    // MARK: Interpolation

    func testPositionInterpolatesLinearlyInLogMACs() {
        let curve = [(model: "r101", macs: 400), (model: "r50", macs: 100), (model: "r152", macs: 1600)]
        guard case let .between(lo1, hi1, w1) = TableWriter.position(of: 200, on: curve) else { return XCTFail() }
        XCTAssertEqual(lo1, "r50"); XCTAssertEqual(hi1, "r101"); XCTAssertEqual(w1, 0.5, accuracy: 1e-12)
        guard case let .between(lo, hi, w) = TableWriter.position(of: 800, on: curve) else { return XCTFail() }
        XCTAssertEqual(lo, "r101"); XCTAssertEqual(hi, "r152"); XCTAssertEqual(w, 0.5, accuracy: 1e-12)
        guard case let .between(_, _, w3) = TableWriter.position(of: 141, on: curve) else { return XCTFail() }
        XCTAssertEqual(w3, log(1.41) / log(4), accuracy: 1e-12)    // not (141 - 100) / 300: log, not linear, MACs
        XCTAssertEqual(TableWriter.position(of: 400, on: curve), .between(lower: "r101", upper: "r101", weight: 0))
        XCTAssertEqual(TableWriter.position(of: 100, on: curve), .between(lower: "r50", upper: "r50", weight: 0))
        XCTAssertEqual(TableWriter.position(of: 99, on: curve), .below("r50"))
        XCTAssertEqual(TableWriter.position(of: 1601, on: curve), .above("r152"))
        XCTAssertEqual(TableWriter.position(of: 100, on: []), .unplaced)
    }

    /// d_k = point_k - ((1 - w) lower_k + w upper_k) over the seeds all three have; by hand for w = 0.5:
    /// curve [23, 23.5, 24], d [7, 7.5, 8], t = 7.5 / (0.5 / sqrt 3) = 25.98 on 2 df, p = 1 - t / sqrt(2 + t^2) = 0.0014782.
    func testCurveComparisonIsPairedBySeedAndCarriesBothNeighbours() {
        let point = [0: 30.0, 1: 31, 2: 32, 3: 40], lower = [0: 20.0, 1: 22, 2: 21], upper = [0: 26.0, 1: 25, 2: 27, 3: 30]
        let c = TableWriter.curveComparison(point: point, lower: lower, upper: upper, weight: 0.5)
        XCTAssertEqual(c.differences, [7, 7.5, 8])                 // seed 3 lacks a lower neighbour: dropped
        XCTAssertEqual(c.pValue!, 0.0014782, accuracy: 1e-7)
        // Spread in a neighbour widens the interval, though the point's own seeds did not move.
        let noisy = TableWriter.curveComparison(point: point, lower: [0: 18.0, 1: 24, 2: 21], upper: upper, weight: 0.5)
        XCTAssertEqual(noisy.meanDifference, c.meanDifference, accuracy: 1e-12)
        XCTAssertGreaterThan(noisy.sd!, c.sd!)
        // At a curve point (w = 0) only that neighbour counts.
        let at = TableWriter.curveComparison(point: point, lower: upper, upper: [:], weight: 0)
        XCTAssertEqual(at.differences, [4, 6, 5, 10])
    }

    // MARK: The table

    /// ResNet-FPN at 100M, 200M, 400M MACs; SpineNet-49S below the range, SpineNet-49 at R50-FPN's MACs,
    /// SpineNet-96 halfway (in log MACs) between R101 and R152, SpineNet-143 beyond the range.
    func scenario(spinenet49: [Double] = [31, 30, 33]) -> [ResultRecord] {
        var out: [ResultRecord] = []
        let rows: [(String, Int, [Double])] = [
            ("r50-fpn", 100_000_000, [20, 22, 21]), ("r101-fpn", 200_000_000, [22, 23, 24]), ("r152-fpn", 400_000_000, [24, 26, 25]),
            ("spinenet-49s", 50_000_000, [25, 26, 27]), ("spinenet-49", 100_000_000, spinenet49),
            ("spinenet-96", 282_842_712, [30, 31, 32]), ("spinenet-143", 800_000_000, [35, 36, 37])]
        for (model, macs, aps) in rows {
            for (seed, ap) in aps.enumerated() { out.append(record(model, seed: seed, ap: ap, macs: macs)) }
        }
        return out
    }

    func testCurveClaimGivesOneVerdictPerPointInsideTheRangeHolmAdjusted() throws {
        let w = try writer(scenario())
        let results = w.claims(w.definition.tables[0])
        XCTAssertEqual(results.map { $0.point!.model }, ["spinenet-49s", "spinenet-49", "spinenet-96", "spinenet-143"])
        XCTAssertEqual(results.map(\.verdict), [.notTested, .supported, .supported, .notTested])
        XCTAssertEqual(results[0].point!.position, .below("r50-fpn"))
        XCTAssertEqual(results[3].point!.position, .above("r152-fpn"))
        // SpineNet-96: curve per seed 0.5 (22, 23, 24) + 0.5 (24, 26, 25) = 23, 24.5, 24.5; d = 7, 6.5, 7.5.
        for (d, expected) in zip(results[2].comparison.differences, [7, 6.5, 7.5]) { XCTAssertEqual(d, expected, accuracy: 1e-6) }
        // SpineNet-49 sits on R50-FPN: d = 11, 8, 12.
        XCTAssertEqual(results[1].comparison.differences, [11, 8, 12])
        // Holm over the two tested points only.
        let p = results[1...2].map { $0.comparison.pValue! }
        XCTAssertEqual(results[1].adjustedP!, p[0] <= p[1] ? min(1, 2 * p[0]) : max(min(1, 2 * p[1]), p[0]), accuracy: 1e-12)
        XCTAssertEqual(results[2].adjustedP!, p[1] <= p[0] ? min(1, 2 * p[1]) : max(min(1, 2 * p[0]), p[1]), accuracy: 1e-12)
        XCTAssertNil(results[0].adjustedP)
        XCTAssertNil(results[3].adjustedP)

        let md = w.markdown()
        XCTAssertTrue(md.contains("SPINENET-49S above the ResNet-FPN curve at 50.0M MACs: outside the ResNet-FPN range "
                                  + "(fewer MACs than R50-FPN (100.0M), the curve's smallest): no verdict"), md)
        XCTAssertTrue(md.contains("SPINENET-143 above the ResNet-FPN curve at 800.0M MACs: outside the ResNet-FPN range "
                                  + "(more MACs than R152-FPN (400.0M), the curve's largest): no verdict"), md)
        XCTAssertTrue(md.contains("SPINENET-96 above the ResNet-FPN curve at 282.8M MACs (between R101-FPN and R152-FPN, "
                                  + "w 0.50 on R152-FPN in log MACs): supported (+7.0 AP, 95% CI ["), md)
        XCTAssertTrue(md.contains("SPINENET-49 above the ResNet-FPN curve at 100.0M MACs (at R50-FPN's MACs): supported"), md)
        XCTAssertTrue(md.contains("linearly in log MACs"), md)
        // Paper-size counts are at each model's paper input, and say so when it is not 640 px.
        XCTAssertTrue(md.contains("(80.00B @1024)") && md.contains("(80.00B @1280)") && md.contains("(80.00B) |"), md)
        XCTAssertTrue(md.contains("| 40.8 |") && md.contains("| 37.8 |"), md)
        XCTAssertFalse(md.contains("No spec found"), md)
    }

    func testCurvePointBelowTheCurveIsContradictedAndOneSeedIsNotTested() throws {
        let w = try writer(scenario(spinenet49: [15, 16, 16.5]))
        XCTAssertEqual(w.claims(w.definition.tables[0]).map(\.verdict), [.notTested, .contradicted, .supported, .notTested])
        let oneSeed = try writer(scenario().filter { $0.seed == 0 })
        let md = oneSeed.markdown()
        XCTAssertTrue(md.contains("SPINENET-96 above the ResNet-FPN curve at 282.8M MACs (between R101-FPN and R152-FPN, "
                                  + "w 0.50 on R152-FPN in log MACs): not tested (+7.0 AP at one seed"), md)
        // Without a ResNet-FPN run there is no curve to test against.
        let noCurve = try writer(scenario().filter { !$0.model.hasSuffix("-fpn") })
        XCTAssertTrue(noCurve.markdown().contains("SPINENET-96 above the ResNet-FPN curve at 282.8M MACs: not tested "
                                                  + "(the ResNet-FPN curve has no run"), noCurve.markdown())
    }

    func testPlotHasOneCurvePerFamilyWithConfidenceBars() throws {
        let svg = try writer(scenario()).svg()
        XCTAssertEqual(svg.components(separatedBy: "<polyline").count - 1, 2, svg)
        XCTAssertEqual(svg.components(separatedBy: "<circle").count - 1, 7, svg)
        XCTAssertTrue(svg.contains(">scale-permuted</text>") && svg.contains(">ResNet-FPN</text>"), svg)
        XCTAssertTrue(svg.contains("log scale") && svg.contains("95% CI"), svg)
        // R50-FPN's bar: mean 21, sd 1, 3 seeds: half-width t(0.975, 2) / sqrt 3 = 2.484.
        XCTAssertEqual(StudentT.quantile(0.975, df: 2) / 3.0.squareRoot(), 2.484, accuracy: 1e-3)
    }
}
