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
}
