import Datasets
import Foundation
import Models
import XCTest
@testable import Search

/// Every candidate the search can produce (random or mutated) is inside its space and builds; the checker
/// itself catches each kind of rule break.
final class SpaceTests: XCTestCase {
    /// The shipped spaces: the paper's 17-bottleneck budget (stem + permuted), Table 1's allocations.
    func testShippedSpacesHaveTheTableOneAllocations() throws {
        let spaces = Dictionary(uniqueKeysWithValues: try TestSupport.shippedSpaces().map { ($0.name, $0) })
        XCTAssertEqual(Set(spaces.keys), ["r35-sp18", "r23-sp30", "r14-sp39", "r0-sp53", "hourglass", "fish"])
        for s in spaces.values {
            XCTAssertEqual(s.stemBlockCount + s.intermediateLevels.count + 5, 17, s.name)
        }
        func perLevel(_ s: SpaceDefinition) -> [Int] {
            let all = s.intermediateLevels + s.outputLevels
            return (2...7).map { l in all.filter { $0 == l }.count }
        }
        XCTAssertEqual(perLevel(spaces["r35-sp18"]!), [1, 1, 1, 1, 1, 1])
        XCTAssertEqual(perLevel(spaces["r23-sp30"]!), [1, 2, 4, 1, 1, 1])
        XCTAssertEqual(perLevel(spaces["r14-sp39"]!), [2, 3, 5, 1, 1, 1])
        XCTAssertEqual(perLevel(spaces["r0-sp53"]!), [1, 4, 6, 2, 1, 1])
        XCTAssertEqual(perLevel(spaces["hourglass"]!), [1, 4, 6, 2, 1, 1])
        XCTAssertEqual(perLevel(spaces["fish"]!), [1, 4, 6, 2, 1, 1])
        // Table 8's fairness: the three members search with the same proxy, algorithm and budget.
        let t8 = ["r0-sp53", "hourglass", "fish"].map { spaces[$0]! }
        XCTAssertEqual(Set(t8.map(\.budget)).count, 1)
        XCTAssertEqual(Set(t8.map(\.proxy)).count, 1)
        XCTAssertEqual(Set(t8.map(\.algorithm)).count, 1)
        XCTAssertEqual(spaces["r0-sp53"]!.writes, "r0-sp53-searched", "the reconstructed r0-sp53 spec must stay")
    }

    /// Many seeds, every shipped space plus one with block adjustments: each random candidate and each step
    /// of a mutation chain has no violations (ours and `SearchSpace.violations`) and builds a detector plan.
    func testEverySampledAndMutatedCandidateObeysItsSpaceAndBuilds() throws {
        var adjusted = try TestSupport.shipped("r23-sp30")
        adjusted.search.adjustments = true
        var ruleConnected = try TestSupport.shipped("r14-sp39")
        ruleConnected.search.connections = false
        let options = ModelOptions(inputSize: 64, filterSizeScale: 0.25, resampleAlpha: 0.25, endpointsNumFilters: 16,
                                   head: .retinaNet(filters: 16, convs: 1, classes: 10, anchors: 9))
        var kindsSeen = Set<MutationKind>()
        for space in try TestSupport.shippedSpaces() + [adjusted, ruleConnected] {
            var distinct = Set<Candidate>()
            for seed in 0..<12 {
                var rng = SplitMix64(seed: UInt64(seed), 42)
                var c = try space.randomCandidate(&rng)
                for step in 0..<8 {
                    XCTAssertEqual(space.violations(of: c), [], "\(space.name) seed \(seed) step \(step): \(c.text)")
                    XCTAssertTrue(space.isLive(c))
                    let plan = try ModelBuilder.build(try c.spec(in: space), options: options)
                    XCTAssertEqual(plan.counts.params > 0, true)
                    distinct.insert(c)
                    guard let (child, kind) = try space.mutate(c, &rng) else { XCTFail("\(space.name): nothing to mutate"); break }
                    XCTAssertNotEqual(child, c)
                    kindsSeen.insert(kind)
                    c = child
                }
            }
            XCTAssertGreaterThan(distinct.count, 80, "\(space.name): the sampler and mutations explore")
        }
        XCTAssertEqual(kindsSeen, Set(MutationKind.allCases))
    }

    /// The fast liveness check on block lists agrees with the builder's pruning, on live and dead draws.
    func testLivenessAgreesWithTheBuilder() throws {
        var live = 0, dead = 0
        for name in ["r35-sp18", "r14-sp39", "fish"] {
            var space = try TestSupport.shipped(name)
            space.search.adjustments = name == "r14-sp39"
            for seed in 0..<40 {
                var rng = SplitMix64(seed: UInt64(seed), 5)
                var c = try space.randomCandidate(&rng)
                // Re-pick parents at random (no liveness filter) to get dead blocks too.
                for k in c.genes.indices {
                    let choices = space.parentChoices(forBlock: k, output: c.genes[k].output)
                    c.genes[k].inputs = rng.permutation(choices.count).prefix(2).map { choices[$0] }.sorted()
                }
                let builderSays = SpaceDefinition.deadBlocks(of: try c.spec(in: space)).isEmpty
                XCTAssertEqual(space.isLive(c), builderSays, "\(name): \(c.text)")
                if builderSays { live += 1 } else { dead += 1 }
            }
        }
        XCTAssertGreaterThan(live, 10)
        XCTAssertGreaterThan(dead, 10)
    }

    /// The checker fails each kind of broken candidate, naming the rule.
    func testViolationsNameEachBrokenRule() throws {
        let space = try TestSupport.shipped("r0-sp53")
        var rng = SplitMix64(seed: 7)
        let good = try space.randomCandidate(&rng)
        XCTAssertEqual(space.violations(of: good), [])
        func broken(_ change: (inout Candidate) -> Void, _ expected: String, in s: SpaceDefinition? = nil,
                    line: UInt = #line) {
            var c = good
            change(&c)
            let problems = (s ?? space).violations(of: c)
            XCTAssertTrue(problems.contains { $0.contains(expected) }, "expected '\(expected)' in \(problems)", line: line)
        }
        // An intermediate block (index 2 + 9 = 11) whose parent is neither stem nor among the last 5.
        broken({ $0.genes[9].inputs = [2, 10] }, "must be two different features")
        broken({ $0.genes[3].inputs = [1, 1] }, "must be two different features")
        broken({ $0.genes[0].level = 7 }, "not a permutation of the allocation")
        broken({ $0.genes[10].level = $0.genes[11].level }, "not L3..L7 once each")
        broken({ $0.genes.swapAt(9, 10) }, "only they, must be outputs")
        broken({ $0.genes[2].shift = 1 }, "adjustments are not searched")
        broken({ $0.genes[2].type = .residual }, "adjustments are not searched")
        broken({ $0.genes.removeLast() }, "expected 15 blocks")
        let fixed = try TestSupport.shipped("hourglass")
        var r2 = SplitMix64(seed: 8)
        var h = try fixed.randomCandidate(&r2)
        XCTAssertEqual(fixed.violations(of: h), [])
        h.genes.swapAt(0, 1)
        XCTAssertTrue(fixed.violations(of: h).contains { $0.contains("differ from the fixed order") })
        var adjusted = space
        adjusted.search.adjustments = true
        broken({ $0.genes[0].shift = 3 }, "is not in", in: adjusted)
        broken({ $0.genes[14].shift = 1 }, "output blocks keep their level", in: adjusted)
    }

    /// A space that does not search connections takes ConnectionRule's parents, also after mutations.
    func testUnsearchedConnectionsFollowTheRule() throws {
        var space = try TestSupport.shipped("r23-sp30")
        space.search.connections = false
        var rng = SplitMix64(seed: 3)
        let c = try space.randomCandidate(&rng)
        let ruled = ConnectionRule.connect(try c.spec(in: space))
        XCTAssertEqual(c.genes.map(\.inputs), ruled.blocks.map { $0.inputs! })
        XCTAssertEqual(space.mutationKinds(for: c), [.swapIntermediate, .swapOutputs])
    }

    /// Swaps move what two positions build and keep the parents; a re-pick changes one parent only.
    func testMutationsChangeOneThing() throws {
        let space = try TestSupport.shipped("r0-sp53")
        var rng = SplitMix64(seed: 11)
        let parent = try space.randomCandidate(&rng)
        for _ in 0..<50 {
            guard let (child, kind) = try space.mutate(parent, &rng) else { return XCTFail("no mutation") }
            let changed = parent.genes.indices.filter { parent.genes[$0] != child.genes[$0] }
            switch kind {
            case .swapIntermediate, .swapOutputs:
                XCTAssertEqual(changed.count, 2, kind.rawValue)
                XCTAssertEqual(child.genes.map(\.inputs), parent.genes.map(\.inputs))
                XCTAssertTrue(changed.allSatisfy { (kind == .swapOutputs) == parent.genes[$0].output })
            case .repickParent:
                XCTAssertEqual(changed.count, 1)
                XCTAssertEqual(Set(child.genes[changed[0]].inputs).intersection(parent.genes[changed[0]].inputs).count, 1)
            case .shiftLevel, .flipType:
                XCTFail("adjustments are not searched in this space")
            }
        }
    }

    /// Bad space files name the file and the field.
    func testBadSpaceFileNamesTheField() throws {
        let text = try TestSupport.spaceText("r35-sp18", algorithm: "{kind: evolution, population: 6, sample: 3}")
        XCTAssertThrowsError(try SpaceDefinition.parse(yaml: text.replacingOccurrences(of: "allocation:", with: "# allocation:"),
                                                       file: "x.yaml")) {
            XCTAssertTrue("\($0)".hasPrefix("x.yaml: field 'allocation'"), "\($0)")
        }
        XCTAssertThrowsError(try SpaceDefinition.parse(yaml: text.replacingOccurrences(of: "seeds: 1 ", with: "seeds: 2 "),
                                                       file: "x.yaml")) {
            XCTAssertTrue("\($0)".hasPrefix("x.yaml: field 'proxy.profile.seeds'"), "\($0)")
        }
        XCTAssertThrowsError(try SpaceDefinition.parse(yaml: text.replacingOccurrences(of: "\n    momentum: 0.9", with: "\n    momentum: 1.5"),
                                                       file: "x.yaml")) {
            XCTAssertTrue("\($0)".hasPrefix("x.yaml: field 'proxy.profile.momentum'"), "\($0)")
        }
        // Every level of the file is read strictly: an unknown or misspelt key is an error, naming its place.
        for (old, new, field) in [("budget: 18", "budget: 18\nbudgets: 3", "budgets"),
                                  ("metric: AP", "metric: AP\n  held_out: 0.2", "proxy.held_out"),
                                  ("focal_gamma: 1.5", "focal_gama: 1.5", "proxy.profile.focal_gama"),
                                  ("adjustments: false}", "adjustments: false, extra: true}", "search.extra"),
                                  ("sample: 3}", "sample: 3, tournament: 2}", "algorithm.tournament")] {
            XCTAssertTrue(text.contains(old), old)
            XCTAssertThrowsError(try SpaceDefinition.parse(yaml: text.replacingOccurrences(of: old, with: new), file: "x.yaml")) {
                XCTAssertTrue("\($0)".hasPrefix("x.yaml: field '\(field)"), "\($0)")
            }
        }
        XCTAssertThrowsError(try SpaceDefinition.parse(yaml: text.replacingOccurrences(of: "kind: evolution", with: "kind: rl"),
                                                       file: "x.yaml")) {
            XCTAssertTrue("\($0)".contains("algorithm.kind"), "\($0)")
        }
    }
}
