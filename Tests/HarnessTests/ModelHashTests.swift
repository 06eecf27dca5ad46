import Foundation
import Models
import XCTest
@testable import Harness

/// The run config hash covers the architecture a model name resolves to, not just the name.
final class ModelHashTests: XCTestCase {
    static let specPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("ablations/specs/r0-sp53.yaml").path

    func configHash(_ yaml: String) throws -> String {
        let profile = AblationDefinition.Profile(
            dataset: .init(size: 64, train: 16, val: 8, maxObjects: 2, minSide: 10, maxSide: 48), input: 64, scale: 0.25, alpha: 0.25, endpoints: 16,
            headFilters: 16, headConvs: 1, epochs: 1, batch: 8, learningRate: 0.02, warmupFraction: 0, weightDecay: 0,
            seeds: 1, anchorSize: 3)
        return RunConfig(ablation: "a", model: "r0-sp53", profileName: "p", profile: profile, datasetKind: "shapes",
                         datasetSeed: 3, seed: 0, spec: try ModelSpec.parse(yaml: yaml, file: "test")).hash
    }

    func testOneRewiredBlockChangesTheHashCommentsAndLayoutDoNot() throws {
        let original = try String(contentsOfFile: Self.specPath, encoding: .utf8)
        let rewired = original.replacingOccurrences(of: "{level: 4, inputs: [8, 10]}", with: "{level: 4, inputs: [7, 10]}")
        let relaidOut = "# rewritten by hand\n\n" + original
            .replacingOccurrences(of: "{level: 4, inputs: [8, 10]}", with: "{ level: 4,   inputs: [ 8, 10 ] }  # same block")
            .replacingOccurrences(of: "blocks:\n", with: "blocks:   # the permuted part\n\n")
        XCTAssertNotEqual(rewired, original)
        XCTAssertNotEqual(relaidOut, original)

        let base = try configHash(original)
        XCTAssertNotEqual(try configHash(rewired), base)
        XCTAssertEqual(try configHash(relaidOut), base)
    }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// The proxy rule that lets the scaling ablation's members keep their paper ratios
    /// (`DetectorFactory.proxyOptions`) is the identity for every model of the other ablation files: each is
    /// built with exactly the profile's settings, as before the rule existed.
    func testOtherAblationsBuildWithTheProfilesSettingsAsBefore() throws {
        let library = try SpecLibrary(directory: Self.root + "/ablations/specs")
        var checked = 0
        for name in ["permutation", "connections", "calibration"] {
            let def = try AblationDefinition.load(Self.root + "/ablations/\(name).yaml")
            for (_, p) in def.profiles {
                for model in def.models {
                    let before = ModelOptions(inputSize: p.input, filterSizeScale: p.scale, resampleAlpha: p.alpha,
                                              endpointsNumFilters: p.endpoints,
                                              head: .retinaNet(filters: p.headFilters, convs: p.headConvs, classes: 10, anchors: 9))
                    let now = DetectorFactory.proxyOptions(try library.spec(named: model), profile: p, numClasses: 10)
                    XCTAssertEqual(now, before, "\(name) \(model)")
                    checked += 1
                }
            }
        }
        XCTAssertGreaterThan(checked, 30)
    }

    /// The committed records of the permutation ablation: today's specs and experiment file give the same model
    /// hash, config hash and trained and paper sizes as the records were made with (records of a spec rewritten
    /// since, e.g. by a search, are stale and skipped).
    func testCommittedRecordsKeepTheirHashesAndSizes() throws {
        let library = try SpecLibrary(directory: Self.root + "/ablations/specs")
        let records = try RecordStore.load(resultsDir: Self.root + "/results")
            .filter { ["permutation", "connections"].contains($0.ablation) && $0.status == .ok && $0.seed == 0 }
        var checked = 0
        for r in records {
            let spec = try library.spec(named: r.model)
            guard RunConfig.modelHash(spec) == r.config.modelHash else { continue }
            let def = try AblationDefinition.load(Self.root + "/ablations/\(r.ablation).yaml")
            let profile = try XCTUnwrap(def.profiles[r.profile])
            if profile == r.config.profile {
                let config = RunConfig(ablation: def.name, model: r.model, profileName: r.profile, profile: profile,
                                       datasetKind: def.dataset.kind, datasetSeed: def.dataset.seed, seed: r.seed, spec: spec)
                XCTAssertEqual(config.hash, r.provenance.configHash, r.model)
            }
            let built = try DetectorFactory.build(model: r.model, spec: spec, profile: r.config.profile, numClasses: 10, seed: 0)
            XCTAssertEqual(built.size, r.size, r.model)
            XCTAssertEqual(built.modelHash, r.config.modelHash, r.model)
            checked += 1
        }
        // R50-FPN, R0-SP53 and SpineNet-49 are never rewritten by a search; the searched specs may be.
        XCTAssertGreaterThanOrEqual(checked, 3, "too few committed records still match today's specs to check")
    }
}
