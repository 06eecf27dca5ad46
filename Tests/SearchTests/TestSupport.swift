import Foundation
import Harness
@testable import Search

/// The package root (spec files, space files) and scratch folders for the search tests.
enum TestSupport {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    /// Every space file shipped in ablations/search, by name.
    static func shippedSpaces() throws -> [SpaceDefinition] {
        try FileSystem.files(under: root + "/ablations/search", suffix: ".yaml").map(SpaceDefinition.load)
    }

    static func shipped(_ name: String) throws -> SpaceDefinition {
        try SpaceDefinition.load(root + "/ablations/search/\(name).yaml")
    }

    /// A shipped space file's text with its `algorithm:` line replaced (tests choose the algorithm they exercise,
    /// whatever the shipped spaces use).
    static func spaceText(_ name: String, algorithm: String) throws -> String {
        let text = try String(contentsOfFile: root + "/ablations/search/\(name).yaml", encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        precondition(lines.filter { $0.hasPrefix("algorithm:") }.count == 1, "\(name).yaml: one algorithm line")
        return lines.map { $0.hasPrefix("algorithm:") ? "algorithm: \(algorithm)" : $0 }.joined(separator: "\n")
    }

    static func scratch(_ label: String) throws -> String {
        let dir = NSTemporaryDirectory() + "spinebench-search-\(label)-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileSystem.createDirectory(dir)
        return dir
    }

    /// A cheap known reward: minus the total level distance between every block and its parents (short
    /// resampling paths score high). Random candidates score around -40 in R0-SP53's space; 0 is the ceiling.
    static func levelDistanceReward(_ space: SpaceDefinition) -> RewardFunction {
        { c, _, _ in
            var levels = space.stem.enumerated().flatMap { Array(repeating: $0.offset + 2, count: $0.element) }
            var total = 0
            for g in c.genes {
                total += g.inputs.map { abs(levels[$0] - g.builtLevel) }.reduce(0, +)
                levels.append(g.builtLevel)
            }
            return Reward(value: -Double(total))
        }
    }
}
