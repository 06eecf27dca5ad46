import Datasets
import Foundation
import Harness

/// Successive halving (Jamieson and Talwalkar 2016; the synchronous form of Hyperband's brackets): many
/// candidates are trained briefly, the best 1/eta of them longer, and so on; the last rung trains at the
/// proxy's full length with several seeds, and its mean reward decides. For the same CPU it looks at far
/// more candidates than training each one fully.
///
/// `algorithm.rungs` lists the training lengths in epochs (increasing; the last is `proxy.epochs`); the
/// budget is the number of candidates of the first rung, drawn at random from the live space. Rung r+1
/// takes the ceil(n_r / eta) best of rung r (ties to the earlier). What comes next is a function of the
/// log alone, so an interrupted search resumes to the log an uninterrupted one writes. Shards run their
/// own brackets (seed + shard), merged like evolution's.
public struct SuccessiveHalving {
    public let space: SpaceDefinition
    public let shard: Shard

    public init(space: SpaceDefinition, shard: Shard = .all) {
        self.space = space
        self.shard = shard
    }

    /// Candidates per rung for `first` candidates at rung 0.
    public static func rungSizes(first: Int, eta: Int, rungs: Int) -> [Int] {
        var sizes = [max(1, first)]
        while sizes.count < rungs { sizes.append(max(1, (sizes.last! + eta - 1) / eta)) }
        return sizes
    }

    /// One evaluation the bracket asks for.
    struct Planned {
        var candidate: Candidate
        var rung: Int
        var fidelity: Fidelity
        var origin: String
        /// For a promoted candidate: its entry in the rung below.
        var parent: Int?
    }

    var rungs: [Int] { space.algorithm.rungs ?? [space.proxy.epochs] }
    var eta: Int { space.algorithm.eta ?? 3 }
    var finalSeeds: Int { space.algorithm.finalSeeds ?? 1 }

    /// Runs (or resumes) this shard's bracket with `budget` candidates at the first rung; returns the log.
    @discardableResult
    public func run(budget: Int, log: SearchLog, commit: String, reward: RewardFunction,
                    report: (LogEntry) -> Void = { _ in }) throws -> [LogEntry] {
        var entries = try log.readChecked(space: space, shard: shard)
        let total = Self.evaluations(first: budget, eta: eta, rungs: rungs.count, finalSeeds: finalSeeds)
        while let next = try plan(after: entries, budget: budget) {
            let k = entries.count
            let started = Date()
            let r = try reward(next.candidate, next.fidelity,
                               "\(space.name) \(k + 1)/\(total) (rung \(next.rung), \(next.fidelity.epochs) epochs)")
            let entry = LogEntry(index: k, shard: shard.description, origin: next.origin, parent: next.parent,
                                 candidate: next.candidate, reward: r.value, metrics: r.metrics,
                                 seconds: Date().timeIntervalSince(started), commit: commit, spaceHash: space.hash,
                                 failure: r.failure, rung: next.rung, epochs: next.fidelity.epochs, seed: next.fidelity.seed)
            try log.append(entry)
            entries.append(entry)
            report(entry)
        }
        return entries
    }

    /// Evaluations a whole bracket takes (the last rung once per seed).
    public static func evaluations(first: Int, eta: Int, rungs: Int, finalSeeds: Int) -> Int {
        let sizes = rungSizes(first: first, eta: eta, rungs: rungs)
        return sizes.dropLast().reduce(0, +) + sizes.last! * finalSeeds
    }

    /// The next evaluation after `entries`, or nil when the bracket is complete.
    func plan(after entries: [LogEntry], budget: Int) throws -> Planned? {
        let sizes = Self.rungSizes(first: budget, eta: eta, rungs: rungs.count)
        for (r, size) in sizes.enumerated() {
            let seeds = r == sizes.count - 1 ? finalSeeds : 1
            let done = entries.filter { $0.rung == r }
            guard done.count >= size * seeds else {
                let j = done.count
                if r == 0 {
                    var rng = SplitMix64(seed: space.seed, UInt64(shard.index), UInt64(shard.count), UInt64(j))
                    let c = try Evolution(space: space, shard: shard).drawRandom(&rng, seen: Set(done.map(\.candidate)))
                    return Planned(candidate: c, rung: 0, fidelity: Fidelity(epochs: rungs[0]), origin: "random", parent: nil)
                }
                let promoted = Self.ranked(entries.filter { $0.rung == r - 1 }).prefix(size)
                let from = promoted[promoted.startIndex + j / seeds]
                return Planned(candidate: from.candidate, rung: r, fidelity: Fidelity(epochs: rungs[r], seed: j % seeds),
                               origin: "promoted", parent: from.index)
            }
        }
        return nil
    }

    /// One rung's candidates, best mean reward first (over seeds); ties go to the earlier entry. Each
    /// candidate appears once, represented by its first entry with the mean as its reward.
    static func ranked(_ rung: [LogEntry]) -> [LogEntry] {
        var order: [Candidate] = []
        var byCandidate: [Candidate: [LogEntry]] = [:]
        for e in rung {
            if byCandidate[e.candidate] == nil { order.append(e.candidate) }
            byCandidate[e.candidate, default: []].append(e)
        }
        let means = order.map { c -> LogEntry in
            let es = byCandidate[c]!
            var first = es[0]
            first.reward = es.map(\.reward).reduce(0, +) / Double(es.count)
            return first
        }
        return means.enumerated().sorted { a, b in
            a.element.reward != b.element.reward ? a.element.reward > b.element.reward : a.offset < b.offset
        }.map(\.element)
    }
}
