import Datasets
import Foundation
import Harness

/// How much of a reward is the seed: a fixed set of candidates (the references and a few random members
/// of the space) scored at the proxy's full length with several seeds. A search can only rank candidates
/// whose true rewards differ by more than this noise, so the summary states both and their ratio.
public struct RewardNoise: Codable, Equatable, Sendable {
    public var candidates: Int
    public var seeds: Int
    /// Pooled within-candidate standard deviation of the reward over seeds.
    public var seedSD: Double
    /// Standard deviation of the candidates' mean rewards.
    public var spreadSD: Double
    /// Best minus worst mean reward.
    public var range: Double

    enum CodingKeys: String, CodingKey {
        case candidates, seeds, range
        case seedSD = "seed_sd", spreadSD = "spread_sd"
    }

    /// Spread of candidate means over seed noise: several times 1 means the proxy can tell candidates apart.
    public var ratio: Double { seedSD > 0 ? spreadSD / seedSD : .infinity }

    public static func path(folder: String) -> String { folder + "/noise.jsonl" }

    /// The measurement's evaluations in order: every candidate with seeds 0..<seeds; `named` first (the
    /// references), then the first `random` members of the space's random baseline (the ones
    /// `--random-specs` writes, unless one of them is a reference).
    static func plan(space: SpaceDefinition, named: [Candidate], random: Int, seeds: Int) throws -> [(Candidate, Int)] {
        let candidates = named + (try RandomBaseline.members(of: space, count: random, excluding: Set(named)))
        return candidates.flatMap { c in (0..<seeds).map { (c, $0) } }
    }

    /// Scores (or resumes scoring) the plan into its log; returns every entry.
    static func measure(space: SpaceDefinition, plan: [(Candidate, Int)], log: SearchLog, commit: String,
                        reward: RewardFunction, report: (LogEntry) -> Void = { _ in }) throws -> [LogEntry] {
        var entries = try log.readChecked(space: space, shard: .all, hash: space.rewardHash)
        for (k, planned) in plan.enumerated() where k < entries.count {
            guard entries[k].candidate == planned.0, entries[k].seed == planned.1 else {
                throw SearchError.foreignLog(file: log.path, line: k + 1, reason: "not the candidate and seed the plan has there")
            }
        }
        while entries.count < plan.count {
            let k = entries.count
            let (candidate, seed) = plan[k]
            let started = Date()
            let r = try reward(candidate, Fidelity(epochs: space.proxy.epochs, seed: seed),
                               "\(space.name) noise \(k + 1)/\(plan.count) (seed \(seed))")
            let entry = LogEntry(index: k, shard: Shard.all.description, origin: "noise", parent: nil, candidate: candidate,
                                 reward: r.value, metrics: r.metrics, seconds: Date().timeIntervalSince(started),
                                 commit: commit, spaceHash: space.rewardHash, failure: r.failure, rung: nil,
                                 epochs: space.proxy.epochs, seed: seed)
            try log.append(entry)
            entries.append(entry)
            report(entry)
        }
        return entries
    }

    /// The figures of a measurement; nil without at least two candidates with two seeds each.
    public init?(entries: [LogEntry]) {
        var order: [Candidate] = []
        var rewards: [Candidate: [Double]] = [:]
        for e in entries {
            if rewards[e.candidate] == nil { order.append(e.candidate) }
            rewards[e.candidate, default: []].append(e.reward)
        }
        let groups = order.map { rewards[$0]! }.filter { $0.count >= 2 }
        guard groups.count >= 2 else { return nil }
        func mean(_ x: [Double]) -> Double { x.reduce(0, +) / Double(x.count) }
        let within = groups.map { g in g.map { ($0 - mean(g)) * ($0 - mean(g)) }.reduce(0, +) }.reduce(0, +)
        let dof = groups.map { $0.count - 1 }.reduce(0, +)
        let means = groups.map(mean)
        let m = mean(means)
        candidates = groups.count
        seeds = groups.map(\.count).min()!
        seedSD = (within / Double(dof)).squareRoot()
        spreadSD = (means.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(means.count - 1)).squareRoot()
        range = means.max()! - means.min()!
    }
}
