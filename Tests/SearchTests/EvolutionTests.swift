import Foundation
import Harness
import Models
import XCTest
@testable import Search

/// Regularized evolution on cheap known rewards: it beats random search, resumes from its log exactly,
/// and shards merge into one best spec.
final class EvolutionTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try TestSupport.scratch("evolution") }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func search(_ space: SpaceDefinition, budget: Int, log: String, shard: Shard = .all,
                reward: RewardFunction? = nil) throws -> [LogEntry] {
        try Evolution(space: space, shard: shard).run(budget: budget, log: SearchLog(path: log), commit: "test",
                                                      reward: reward ?? TestSupport.levelDistanceReward(space))
    }

    /// Same tiny budget (60) and seeds: evolution's best beats random search's best over the seeds, and its
    /// last 20 children beat its random initial population on every seed. No candidate is scored twice.
    func testEvolutionBeatsRandomSearchOnATinyBudget() throws {
        var space = try TestSupport.shipped("r0-sp53")
        space.algorithm = .init(kind: "evolution", population: 8, sample: 4)
        var random = space
        random.algorithm.kind = "random"
        var bestEvolved = 0.0, bestRandom = 0.0
        for seed: UInt64 in 0..<4 {
            space.seed = seed
            random.seed = seed
            let evolved = try search(space, budget: 60, log: "\(dir)/evo-\(seed).jsonl")
            let sampled = try search(random, budget: 60, log: "\(dir)/rnd-\(seed).jsonl")
            bestEvolved += evolved.map(\.reward).max()!
            bestRandom += sampled.map(\.reward).max()!
            func mean(_ es: ArraySlice<LogEntry>) -> Double { es.map(\.reward).reduce(0, +) / Double(es.count) }
            XCTAssertTrue(evolved.prefix(8).allSatisfy { $0.origin == "random" })
            XCTAssertTrue(evolved.dropFirst(8).allSatisfy { $0.origin != "random" && $0.parent != nil })
            XCTAssertGreaterThan(mean(evolved.suffix(20)), mean(evolved.prefix(8)) + 3, "seed \(seed)")
            XCTAssertEqual(Set(evolved.map(\.candidate)).count, 60, "no candidate is scored twice")
        }
        XCTAssertGreaterThan(bestEvolved / 4, bestRandom / 4 + 2)
    }

    /// A search killed mid-way (the reward throws at step 7) and started again writes the same log as one
    /// that ran straight through; a torn last line (a kill during the write) is dropped and redone.
    func testInterruptedSearchResumesToTheSameLog() throws {
        var space = try TestSupport.shipped("r23-sp30")
        space.algorithm = .init(kind: "evolution", population: 4, sample: 2)
        let straight = try search(space, budget: 12, log: dir + "/a.jsonl")
        struct Killed: Error {}
        let synthetic = TestSupport.levelDistanceReward(space)
        XCTAssertThrowsError(try search(space, budget: 12, log: dir + "/b.jsonl", reward: { c, f, label in
            if label.hasPrefix("r23-sp30 8/") { throw Killed() }
            return try synthetic(c, f, label)
        }))
        XCTAssertEqual(try SearchLog(path: dir + "/b.jsonl").read().count, 7)
        let handle = FileHandle(forWritingAtPath: dir + "/b.jsonl")!
        handle.seekToEndOfFile()
        handle.write(Data("{\"index\": 7, \"shard\": \"0/1\", \"cand".utf8))
        handle.closeFile()
        let resumed = try search(space, budget: 12, log: dir + "/b.jsonl")
        func stripped(_ es: [LogEntry]) -> [LogEntry] { es.map { var e = $0; e.seconds = 0; return e } }
        XCTAssertEqual(stripped(resumed), stripped(straight))
        XCTAssertEqual(stripped(try SearchLog(path: dir + "/b.jsonl").read()), stripped(straight))
    }

    /// A log written for another version of the space is refused, not mixed in.
    func testLogOfAChangedSpaceIsRefused() throws {
        var space = try TestSupport.shipped("fish")
        _ = try search(space, budget: 2, log: dir + "/f.jsonl")
        space.proxy.profile.epochs += 1
        XCTAssertThrowsError(try search(space, budget: 3, log: dir + "/f.jsonl")) {
            XCTAssertTrue("\($0)".contains("f.jsonl:1") && "\($0)".contains("space hash"), "\($0)")
        }
    }

    /// Two shards run their own evolutions; merging writes the best candidate over both as a spec the
    /// library reads, with its provenance, and a summary of all candidates.
    func testShardsMergeIntoTheBestSpec() throws {
        var space = try TestSupport.shipped("hourglass")
        space.algorithm = .init(kind: "evolution", population: 3, sample: 2)
        let results = dir + "/results", specs = dir + "/specs"
        let folder = SearchRunner.folder(resultsDir: results, space: space)
        var all: [LogEntry] = []
        for i in 0..<2 {
            let shard = Shard(index: i, count: 2)
            XCTAssertEqual(Evolution.shardBudget(total: 11, shard: shard), i == 0 ? 6 : 5)
            all += try search(space, budget: Evolution.shardBudget(total: 11, shard: shard),
                              log: SearchLog.path(folder: folder, shard: shard), shard: shard)
        }
        XCTAssertNotEqual(all[0].candidate, all[6].candidate, "shards draw from their own seeds")
        let spacePath = dir + "/hourglass.yaml"
        try FileSystem.writeAtomically(try TestSupport.spaceText("hourglass", algorithm: "{kind: evolution, population: 3, sample: 2}"),
                                       to: spacePath)
        var runner = SearchRunner(spacePath: spacePath, threads: 1)
        runner.mergeOnly = true
        runner.resultsDir = results
        let outcome = try runner.run(progress: Progress())
        // Without --write-specs the spec stays in the search's own folder; the shipped specs are untouched.
        XCTAssertEqual(outcome.specPath, folder + "/hourglass.yaml")
        XCTAssertFalse(FileManager.default.fileExists(atPath: specs))
        try FileSystem.createDirectory(specs)
        try FileManager.default.copyItem(atPath: outcome.specPath, toPath: specs + "/hourglass.yaml")
        let best = all.max { $0.reward < $1.reward }!
        XCTAssertEqual(outcome.summary.candidates, 11)
        XCTAssertEqual(outcome.summary.shards, 2)
        XCTAssertEqual(outcome.summary.maxReward, best.reward)
        let library = try SpecLibrary(directory: specs)
        let spec = try library.spec(named: "Hourglass")
        XCTAssertEqual(spec.provenance, .searched)
        XCTAssertEqual(spec.blocks.map { $0.inputs! }, best.candidate.genes.map(\.inputs))
        XCTAssertEqual(spec.blocks.map(\.level), [2, 3, 3, 3, 4, 4, 4, 4, 4, 5, 7, 6, 5, 4, 3])
        XCTAssertEqual(SearchSpace.violations(of: spec), [])
        let text = try String(contentsOfFile: outcome.specPath, encoding: .utf8)
        XCTAssertTrue(text.contains("search: {space: \(spacePath), space_hash: \(space.hash), algorithm: evolution, budget: 11, shards: 2, seed: 0"), text)
        let summary = try String(contentsOfFile: results + "/search/summary.md", encoding: .utf8)
        XCTAssertTrue(summary.contains("| hourglass | hourglass |"), summary)
    }
}
