import Foundation
import Harness
import XCTest
@testable import Search

/// Successive halving on cheap known rewards: the rungs take the right sizes and the right candidates,
/// the last rung decides by its seeds' mean, an interrupted bracket resumes to the identical log, and every
/// budgeted candidate is a live member of the space.
final class HalvingTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try TestSupport.scratch("halving") }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func halvingSpace(_ name: String = "r0-sp53", eta: Int = 3, finalSeeds: Int = 2) throws -> SpaceDefinition {
        var space = try TestSupport.shipped(name)
        space.algorithm = .init(kind: "halving", eta: eta, rungs: [1, 2, space.proxy.epochs], finalSeeds: finalSeeds)
        return space
    }

    /// A reward whose order is known: the level-distance score, plus a fidelity term that is the same for
    /// every candidate at one length (so ranks within a rung follow the score) and a seed term.
    func knownReward(_ space: SpaceDefinition) -> RewardFunction {
        let base = TestSupport.levelDistanceReward(space)
        return { c, f, label in
            var r = try base(c, f, label)
            r.value += Double(f.epochs) + 0.25 * Double(f.seed)
            return r
        }
    }

    func testRungSizes() {
        XCTAssertEqual(SuccessiveHalving.rungSizes(first: 27, eta: 3, rungs: 4), [27, 9, 3, 1])
        XCTAssertEqual(SuccessiveHalving.rungSizes(first: 10, eta: 3, rungs: 3), [10, 4, 2])
        XCTAssertEqual(SuccessiveHalving.rungSizes(first: 2, eta: 4, rungs: 3), [2, 1, 1])
        XCTAssertEqual(SuccessiveHalving.evaluations(first: 10, eta: 3, rungs: 3, finalSeeds: 2), 10 + 4 + 2 * 2)
    }

    /// Rung r+1 holds exactly the ceil(n/eta) best of rung r, trained longer; the last rung runs every
    /// seed; the best is the finalist with the highest mean, which is the best of the first rung here.
    func testPromotesTheBestOfEachRung() throws {
        let space = try halvingSpace()
        let log = try SuccessiveHalving(space: space).run(budget: 10, log: SearchLog(path: dir + "/h.jsonl"), commit: "t",
                                                          reward: knownReward(space))
        XCTAssertEqual(log.count, 10 + 4 + 2 * 2)
        let rung = { (r: Int) in log.filter { $0.rung == r } }
        XCTAssertEqual(rung(0).map(\.epochs), Array(repeating: 1, count: 10))
        XCTAssertTrue(rung(0).allSatisfy { $0.origin == "random" && $0.seed == 0 })
        XCTAssertEqual(Set(rung(0).map(\.candidate)).count, 10, "no candidate is drawn twice")
        let top4 = rung(0).sorted { $0.reward > $1.reward }.prefix(4).map(\.candidate)
        XCTAssertEqual(rung(1).map(\.candidate), top4)
        XCTAssertTrue(rung(1).allSatisfy { $0.epochs == 2 && $0.origin == "promoted" && $0.parent != nil })
        let top2 = rung(1).sorted { $0.reward > $1.reward }.prefix(2).map(\.candidate)
        XCTAssertEqual(rung(2).map(\.candidate), [top2[0], top2[0], top2[1], top2[1]])
        XCTAssertEqual(rung(2).map(\.seed), [0, 1, 0, 1])
        XCTAssertEqual(rung(2).map(\.epochs), Array(repeating: space.proxy.epochs, count: 4))
        let best = try XCTUnwrap(SearchSummary.best(of: log, space: space))
        XCTAssertEqual(best.candidate, top4[0])
        XCTAssertEqual(best.reward, (rung(2)[0].reward + rung(2)[1].reward) / 2)
        let summary = try XCTUnwrap(SearchSummary(space: space, entries: log, shards: 1))
        XCTAssertEqual(summary.candidates, 10, "the budget counts first-rung candidates")
        XCTAssertTrue(summary.algorithm.hasPrefix("successive halving (eta 3"), summary.algorithm)
        // The final choice compares means of 2 seeds: the noise ratio there is sqrt(2) times one run's.
        var noisy = summary
        let noise = try XCTUnwrap(RewardNoise(entries: rung(2)))   // 2 candidates x 2 seeds, as a measurement
        noisy.noise = noise
        XCTAssertEqual(noisy.decisionSeeds, 2)
        XCTAssertEqual(try XCTUnwrap(noisy.decisionRatio), noise.ratio * 2.0.squareRoot(), accuracy: 1e-12)
        XCTAssertTrue(SearchSummary.markdown([noisy]).contains(
            String(format: "(2 x 2 seeds); %.1f at the decision (2 seeds)", noise.ratio * 2.0.squareRoot())),
                      SearchSummary.markdown([noisy]))
        // Each written spec's verdict against random members is quoted from the tables, or said to be missing.
        let quote = QuotedClaim(model: noisy.writes, ablation: "search-vs-random", profile: "quick",
                                line: "X > median of 5: supported (+3.5 AP)", difference: 3.5, seeds: 3, p: 0.02,
                                resolvable: 2.54, code: "abc")
        var other = quote
        other.model = "another-spec"
        let quoted = SearchSummary.markdown([noisy], againstRandom: [other, quote])
        XCTAssertTrue(quoted.contains("| \(noisy.space) | \(noisy.writes) | search-vs-random, quick (`abc`) | "
                                      + "X > median of 5: supported (+3.5 AP) | 2.5 AP | supported (Holm p 0.020 over 1) |\n"), quoted)
        XCTAssertEqual(quoted.components(separatedBy: "X > median of 5").count, 2, "only the written spec's claim")
        XCTAssertTrue(SearchSummary.markdown([noisy]).contains("| \(noisy.space) | \(noisy.writes) | — | not run | — | — |"))
        // Over spaces: Holm over the tested claims of one ablation and profile (0.02 and 0.04 -> 0.04 and 0.04).
        var second = noisy
        second.space = "second"
        second.writes = "second-spec"
        var weaker = quote
        weaker.model = "second-spec"
        weaker.p = 0.04
        let adjusted = QuotedClaim.holmVerdicts([quote, weaker])
        XCTAssertEqual(adjusted.map { $0.p! }, [0.04, 0.04])
        XCTAssertEqual(adjusted.map(\.verdict), [.supported, .supported])
        var stronger = quote
        stronger.p = 0.03
        XCTAssertEqual(QuotedClaim.holmVerdicts([stronger, weaker]).map(\.verdict), [.inconclusive, .inconclusive],
                       "0.03 x 2 is not below 0.05: each space alone is supported, the family is not")
        XCTAssertTrue(SearchSummary.markdown([noisy, second], againstRandom: [stronger, weaker])
            .contains("X > median of 5: supported (+3.5 AP) | 2.5 AP | inconclusive (Holm p 0.060 over 2) |"))
    }

    /// Killed in the second rung (and with a torn last line), then started again: the same log.
    func testInterruptedBracketResumesToTheSameLog() throws {
        let space = try halvingSpace("r23-sp30")
        let reward = knownReward(space)
        let straight = try SuccessiveHalving(space: space).run(budget: 9, log: SearchLog(path: dir + "/a.jsonl"), commit: "t",
                                                               reward: reward)
        struct Killed: Error {}
        XCTAssertThrowsError(try SuccessiveHalving(space: space).run(
            budget: 9, log: SearchLog(path: dir + "/b.jsonl"), commit: "t",
            reward: { c, f, label in
                if label.hasPrefix("r23-sp30 12/") { throw Killed() }
                return try reward(c, f, label)
            }))
        XCTAssertEqual(try SearchLog(path: dir + "/b.jsonl").read().count, 11)
        let handle = FileHandle(forWritingAtPath: dir + "/b.jsonl")!
        handle.seekToEndOfFile()
        handle.write(Data("{\"index\": 11, \"sha".utf8))
        handle.closeFile()
        let resumed = try SuccessiveHalving(space: space).run(budget: 9, log: SearchLog(path: dir + "/b.jsonl"), commit: "t",
                                                              reward: reward)
        func stripped(_ es: [LogEntry]) -> [LogEntry] { es.map { var e = $0; e.seconds = 0; return e } }
        XCTAssertEqual(stripped(resumed), stripped(straight))
    }

    /// Every candidate a search spends budget on is a live member of the space, in every shipped space
    /// (the old searches logged many candidates outside it, so their budgets were not what they said).
    func testBudgetCountsLiveCandidatesOnly() throws {
        for var space in try TestSupport.shippedSpaces() {
            space.algorithm = .init(kind: "random", population: 2, sample: 1)
            let log = try Evolution(space: space).run(budget: 12, log: SearchLog(path: dir + "/\(space.name).jsonl"),
                                                      commit: "t", reward: TestSupport.levelDistanceReward(space))
            XCTAssertEqual(log.count, 12)
            for e in log { XCTAssertEqual(space.violations(of: e.candidate), [], "\(space.name) #\(e.index)") }
        }
    }

    func testHalvingSettingsAreChecked() throws {
        var space = try halvingSpace()
        space.algorithm.rungs = [2, 1]
        XCTAssertThrowsError(try space.validate(file: "s.yaml")) { XCTAssertTrue("\($0)".contains("algorithm.rungs"), "\($0)") }
        space = try halvingSpace()
        space.algorithm.population = 4
        XCTAssertThrowsError(try space.validate(file: "s.yaml")) { XCTAssertTrue("\($0)".contains("only with evolution"), "\($0)") }
        space = try halvingSpace()
        space.algorithm.eta = 1
        XCTAssertThrowsError(try space.validate(file: "s.yaml")) { XCTAssertTrue("\($0)".contains("algorithm.eta"), "\($0)") }
    }
}

/// The reward-noise measurement: known seed noise is recovered, and a killed measurement resumes.
final class RewardNoiseTests: XCTestCase {
    func testSeedNoiseIsMeasuredAndResumes() throws {
        let dir = try TestSupport.scratch("noise")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let space = try TestSupport.shipped("r0-sp53")
        let base = TestSupport.levelDistanceReward(space)
        let reward: RewardFunction = { c, f, l in
            var r = try base(c, f, l)
            r.value += f.seed == 0 ? 0.5 : -0.5
            return r
        }
        let plan = try RewardNoise.plan(space: space, named: [], random: 3, seeds: 2)
        XCTAssertEqual(plan.map(\.1), [0, 1, 0, 1, 0, 1])
        XCTAssertTrue(plan.allSatisfy { space.violations(of: $0.0).isEmpty })
        struct Killed: Error {}
        XCTAssertThrowsError(try RewardNoise.measure(space: space, plan: plan, log: SearchLog(path: dir + "/n.jsonl"), commit: "t",
                                                     reward: { c, f, l in if l.contains(" 4/") { throw Killed() }; return try reward(c, f, l) }))
        let entries = try RewardNoise.measure(space: space, plan: plan, log: SearchLog(path: dir + "/n.jsonl"), commit: "t", reward: reward)
        XCTAssertEqual(entries.map(\.seed), [0, 1, 0, 1, 0, 1])
        let noise = try XCTUnwrap(RewardNoise(entries: entries))
        XCTAssertEqual(noise.candidates, 3)
        XCTAssertEqual(noise.seeds, 2)
        XCTAssertEqual(noise.seedSD, 0.5.squareRoot(), accuracy: 1e-12)
        let means = stride(from: 0, to: 6, by: 2).map { (entries[$0].reward + entries[$0 + 1].reward) / 2 }
        XCTAssertEqual(noise.range, means.max()! - means.min()!, accuracy: 1e-12)
        XCTAssertEqual(noise.ratio, noise.spreadSD / noise.seedSD, accuracy: 1e-12)
        XCTAssertNil(RewardNoise(entries: Array(entries.prefix(2))), "one candidate says nothing about spread")
    }

    /// The noise log measures the reward, not the search: a space whose algorithm changes keeps it (nothing is
    /// scored again), a space whose proxy changes refuses it.
    func testNoiseLogOutlivesAnAlgorithmChangeButNotAProxyChange() throws {
        let dir = try TestSupport.scratch("noise-hash")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let space = try TestSupport.shipped("r0-sp53")
        let reward = TestSupport.levelDistanceReward(space)
        let plan = try RewardNoise.plan(space: space, named: [], random: 2, seeds: 2)
        let log = SearchLog(path: dir + "/noise.jsonl")
        let first = try RewardNoise.measure(space: space, plan: plan, log: log, commit: "t", reward: reward)

        var halving = space
        halving.algorithm = .init(kind: "halving", eta: 3, rungs: [1, space.proxy.epochs], finalSeeds: 2)
        XCTAssertNotEqual(halving.hash, space.hash)
        XCTAssertEqual(halving.rewardHash, space.rewardHash)
        struct Scored: Error {}
        let again = try RewardNoise.measure(space: halving, plan: try RewardNoise.plan(space: halving, named: [], random: 2, seeds: 2),
                                            log: log, commit: "t", reward: { _, _, _ in throw Scored() })
        XCTAssertEqual(again.map(\.reward), first.map(\.reward))

        var longer = space
        longer.proxy.profile.epochs += 1
        XCTAssertNotEqual(longer.rewardHash, space.rewardHash)
        XCTAssertThrowsError(try RewardNoise.measure(space: longer, plan: try RewardNoise.plan(space: longer, named: [], random: 2, seeds: 2),
                                                     log: log, commit: "t", reward: reward)) { error in
            guard case SearchError.foreignLog = error else { return XCTFail("\(error)") }
        }
    }
}
