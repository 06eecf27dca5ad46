import Datasets
import Foundation
import Harness

/// What the proxy task says about one candidate.
public struct Reward: Sendable {
    public var value: Double
    public var metrics: Metrics
    /// Why the candidate could not be scored (its value is then 0).
    public var failure: String?

    public init(value: Double, metrics: Metrics = Metrics(), failure: String? = nil) {
        self.value = value; self.metrics = metrics; self.failure = failure
    }
}

/// How hard a candidate is looked at: its proxy training length and the seed of that training.
public struct Fidelity: Codable, Hashable, Sendable {
    public var epochs: Int
    public var seed: Int
    public init(epochs: Int, seed: Int = 0) { self.epochs = epochs; self.seed = seed }
}

/// Scores a candidate at a fidelity; `label` names it in progress lines. Tests plug in cheap known functions.
public typealias RewardFunction = (_ candidate: Candidate, _ fidelity: Fidelity, _ label: String) throws -> Reward

/// Regularized evolution (Real et al. 2019), which replaces the paper's RL controller on a CPU budget:
/// the first P candidates are random members of the space; after that each step samples S members of
/// the population (the P most recent candidates), mutates the best of them once, scores the child and
/// lets the oldest member die. `algorithm.kind: random` gives random search with the same log.
///
/// Step k draws its randomness from its own stream (seed, shard, k), and the population is the last P
/// log entries, so replaying a log rebuilds the exact state: an interrupted search resumes where it
/// stopped and ends as an uninterrupted one would. Each shard runs its own evolution (seed + shard);
/// merging shards is reading their logs together and taking the best.
public struct Evolution {
    public let space: SpaceDefinition
    public let shard: Shard

    public init(space: SpaceDefinition, shard: Shard = .all) {
        self.space = space
        self.shard = shard
    }

    /// Candidates shard i of n evaluates out of `total` (the first total % n shards take one more).
    public static func shardBudget(total: Int, shard: Shard) -> Int {
        total / shard.count + (shard.index < total % shard.count ? 1 : 0)
    }

    /// Runs (or resumes) this shard's search until its log holds `budget` entries; returns them all.
    @discardableResult
    public func run(budget: Int, log: SearchLog, commit: String, reward: RewardFunction,
                    report: (LogEntry) -> Void = { _ in }) throws -> [LogEntry] {
        var entries = try log.readChecked(space: space, shard: shard)
        var seen = Set(entries.map(\.candidate))
        while entries.count < budget {
            let k = entries.count
            let (child, origin, parent) = try propose(step: k, history: entries, seen: seen)
            let started = Date()
            let r = try reward(child, Fidelity(epochs: space.proxy.epochs), "\(space.name) \(k + 1)/\(budget)")
            let entry = LogEntry(index: k, shard: shard.description, origin: origin, parent: parent, candidate: child,
                                 reward: r.value, metrics: r.metrics, seconds: Date().timeIntervalSince(started),
                                 commit: commit, spaceHash: space.hash, failure: r.failure)
            try log.append(entry)
            entries.append(entry)
            seen.insert(child)
            report(entry)
        }
        return entries
    }

    /// The candidate of step k: random while the population fills (or in random search), else the
    /// mutated winner of a tournament. Already-seen candidates are redrawn (rewards are deterministic,
    /// so scoring one twice would waste budget), and so are candidates outside the space: the budget
    /// counts live candidates only.
    func propose(step k: Int, history: [LogEntry], seen: Set<Candidate>) throws -> (Candidate, String, Int?) {
        var rng = SplitMix64(seed: space.seed, UInt64(shard.index), UInt64(shard.count), UInt64(k))
        if space.algorithm.kind == "evolution", let p = space.algorithm.population, let sampleSize = space.algorithm.sample, k >= p {
            let population = Array(history.suffix(p))
            for _ in 0..<100 {
                let sample = rng.permutation(population.count).prefix(sampleSize).map { population[$0] }
                let best = sample.dropFirst().reduce(sample[0]) { $1.reward > $0.reward ? $1 : $0 }
                if let (child, kind) = try space.mutate(best.candidate, &rng), !seen.contains(child),
                   space.violations(of: child).isEmpty {
                    return (child, kind.rawValue, best.index)
                }
            }
        }
        return (try drawRandom(&rng, seen: seen), "random", nil)
    }

    /// A random member of the space not seen before; an error when 1000 draws find none.
    func drawRandom(_ rng: inout SplitMix64, seen: Set<Candidate>) throws -> Candidate {
        for _ in 0..<1000 {
            let c = try space.randomCandidate(&rng)
            if !seen.contains(c) && space.violations(of: c).isEmpty { return c }
        }
        throw SearchError.badSpace(file: space.name, field: "budget",
                                   expected: "a space with unseen live candidates left (1000 draws found none)")
    }
}
