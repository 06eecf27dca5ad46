import Foundation
import Harness

/// What one space's search found and cost, from its logs only: the reward distribution, the random
/// candidates' mean (what search without learning gets), the best candidate, the time spent.
public struct SearchSummary: Codable, Equatable, Sendable {
    public var space: String
    public var writes: String
    public var algorithm: String
    public var metric: String
    public var candidates: Int
    public var shards: Int
    public var failures: Int
    public var seconds: Double
    public var minReward: Double
    public var medianReward: Double
    public var maxReward: Double
    /// Mean reward of the candidates drawn at random (the initial population of evolution).
    public var randomMean: Double
    public var randomCount: Int
    /// The training length of the rewards above (halving: its first rung, shorter than the written reward's).
    public var randomEpochs: Int?
    /// Mean full-length reward of the noise measurement's random members (not the references), when
    /// measured: what a random member scores at the length the written reward was measured at.
    public var fullLengthRandomMean: Double?
    public var fullLengthRandomCount: Int?
    /// The best candidate: its step, shard, origin and block list.
    public var bestIndex: Int
    public var bestShard: String
    public var bestOrigin: String
    public var best: String
    /// The written candidate's reward (below `maxReward` when a better one is outside the space).
    public var bestReward: Double
    /// Logged candidates outside the space as the current commit defines it (never written).
    public var outside: Int
    public var commits: [String]
    /// Hand-made specs scored in the same proxy task (`--reference`), by name.
    public var references: [String: Double] = [:]
    /// The reward's seed noise (`--noise-seeds`), when measured.
    public var noise: RewardNoise?
    /// Seeds behind each reward the final choice compares: halving's `final_seeds`, else 1.
    public var decisionSeeds: Int?

    enum CodingKeys: String, CodingKey {
        case space, writes, algorithm, metric, candidates, shards, failures, seconds, best, commits, references
        case minReward = "min_reward", medianReward = "median_reward", maxReward = "max_reward"
        case randomMean = "random_mean", randomCount = "random_count", randomEpochs = "random_epochs"
        case fullLengthRandomMean = "full_length_random_mean", fullLengthRandomCount = "full_length_random_count"
        case bestIndex = "best_index", bestShard = "best_shard", bestOrigin = "best_origin"
        case bestReward = "best_reward", outside, noise, decisionSeeds = "decision_seeds"
    }

    /// The noise ratio where the search decides: a mean over n seeds has 1/sqrt(n) of one run's seed sd.
    public var decisionRatio: Double? {
        noise.map { $0.ratio * Double(decisionSeeds ?? 1).squareRoot() }
    }

    /// Highest reward first; ties go to the earlier shard, then the earlier step (stable across merges).
    /// Successive halving decides on its last rung only, by the mean over that rung's seeds.
    static func best(of entries: [LogEntry], space: SpaceDefinition) -> LogEntry? {
        var pool = entries
        if space.algorithm.kind == "halving" {
            let last = (space.algorithm.rungs?.count ?? 1) - 1
            pool = Dictionary(grouping: entries.filter { $0.rung == last }, by: \.shard).values
                .flatMap { SuccessiveHalving.ranked($0) }
        }
        return pool.min { a, b in
            (a.reward, b.shard, b.index) > (b.reward, a.shard, a.index)
        }
    }

    /// The entries that describe the space as sampled: all of them, or for successive halving its first
    /// rung (every candidate once, all at the same length).
    static func sampled(_ entries: [LogEntry], space: SpaceDefinition) -> [LogEntry] {
        space.algorithm.kind == "halving" ? entries.filter { ($0.rung ?? 0) == 0 } : entries
    }

    public init?(space: SpaceDefinition, entries all: [LogEntry], shards: Int) {
        guard let top = Self.best(of: all, space: space) else { return nil }
        let entries = Self.sampled(all, space: space)
        let rewards = entries.map(\.reward).sorted()
        let random = entries.filter { $0.origin == "random" }.map(\.reward)
        self.space = space.name
        writes = space.writes
        algorithm = space.algorithm.description
        metric = "held-out \(space.proxy.metric)"
        candidates = entries.count
        self.shards = shards
        failures = all.filter { $0.failure != nil }.count
        seconds = all.map(\.seconds).reduce(0, +)
        minReward = rewards.first!
        maxReward = rewards.last!
        medianReward = rewards.count % 2 == 1 ? rewards[rewards.count / 2]
            : (rewards[rewards.count / 2 - 1] + rewards[rewards.count / 2]) / 2
        randomCount = random.count
        randomMean = random.isEmpty ? .nan : random.reduce(0, +) / Double(random.count)
        bestIndex = top.index
        bestShard = top.shard
        bestOrigin = top.origin
        best = top.candidate.text
        bestReward = top.reward
        outside = 0
        commits = Array(Set(all.map { String($0.commit.prefix(10)) })).sorted()
        decisionSeeds = space.algorithm.kind == "halving" ? space.algorithm.finalSeeds ?? 1 : 1
        randomEpochs = space.algorithm.kind == "halving" ? space.algorithm.rungs?.first : space.proxy.epochs
    }

    /// The random members' mean as a phrase: its length, and the full-length one when it differs.
    public var randomText: String {
        var text = String(format: "random mean %.2f", randomMean) + (randomEpochs.map { " at \($0) epochs" } ?? "")
        if let m = fullLengthRandomMean, let n = fullLengthRandomCount {
            text += String(format: "; %d random members at full length: %.2f", n, m)
        }
        return text
    }

    /// Rewrites results/search/summary.md from every space's summary.json and the tables' `above_median`
    /// claims (`RecordStore.aboveMedianClaims`). Both `spinebench search` (after a merge) and `spinebench tables`
    /// (after new records) call it, so the quoted verdicts follow the records.
    public static func writeMarkdown(resultsDir: String, ablationsDir: String) throws {
        let all = try FileSystem.files(under: resultsDir + "/search", suffix: "/summary.json").map {
            try JSONDecoder().decode(SearchSummary.self, from: Data(contentsOf: URL(fileURLWithPath: $0)))
        }
        guard !all.isEmpty else { return }
        let quoted = try RecordStore.aboveMedianClaims(ablationsDir: ablationsDir, resultsDir: resultsDir)
        try FileSystem.writeAtomically(markdown(all, againstRandom: quoted), to: resultsDir + "/search/summary.md")
    }

    /// The table of every space's summary (results/search/summary.md), then, for each written spec, its
    /// `above_median` claims from `againstRandom`: the spec against random members of its space, at the tables'
    /// recipe and val split.
    public static func markdown(_ summaries: [SearchSummary], againstRandom: [QuotedClaim] = []) -> String {
        func f(_ x: Double) -> String { x.isFinite ? String(format: "%.2f", x) : "-" }
        var out = "# Architecture searches\n\n"
        out += "Regenerated by `spinebench search` from the logs in this folder (one JSON line per evaluated candidate), "
            + "and by `spinebench tables`, whose records the last section quotes.\n"
        out += "Reward: AP (%) on images held out of the train split after short proxy training; the val split "
            + "the tables use is never read. `candidates` and the reward distribution: every candidate once, for "
            + "successive halving at its first (shortest) rung. `random mean`: mean reward of the randomly drawn "
            + "candidates (evolution's initial population, every first-rung candidate of halving), i.e. what sampling "
            + "the space without search gives, at the first rung's length for halving; `at full length`: the mean "
            + "reward of the noise measurement's random members, at the length the written reward is measured at. "
            + "`outside`: logged candidates the "
            + "current space rules exclude (e.g. a block feeding no output); `written`: the reward of the best candidate "
            + "inside the space, the one written as the spec (for halving, its mean over the last rung's seeds). "
            + "`noise`: the reward's seed standard deviation at the proxy's full length (pooled over "
            + "the references and a few random candidates scored with several seeds, `--noise-seeds`), the standard "
            + "deviation of those candidates' mean rewards, and their ratio: a search can only rank what differs by "
            + "more than the noise. `at the decision`: that ratio for the rewards the final choice compares (a mean "
            + "over n seeds divides the seed sd by sqrt(n)).\n\n"
        out += "| space | writes | algorithm | candidates | failed | outside | min | median | max | random mean (n, epochs) | random at full length (n) | written | found at | time | reference (--reference: one run, seed 0) | noise: seed sd, spread sd, ratio |\n"
        out += "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
        for s in summaries {
            out += "| \(s.space) | \(s.writes) | \(s.algorithm) | \(s.candidates) (\(s.shards) shard\(s.shards == 1 ? "" : "s")) | "
                + "\(s.failures) | \(s.outside) | \(f(s.minReward)) | \(f(s.medianReward)) | \(f(s.maxReward)) | \(f(s.randomMean)) (\(s.randomCount), \(s.randomEpochs.map(String.init) ?? "-")) | "
                + "\(s.fullLengthRandomMean.map { "\(f($0)) (\(s.fullLengthRandomCount ?? 0))" } ?? "-") | \(f(s.bestReward)) | "
                + "step \(s.bestIndex + 1) of shard \(s.bestShard) (\(s.bestOrigin)) | \(clockText(s.seconds)) | "
                + (s.references.isEmpty ? "-" : s.references.sorted { $0.key < $1.key }.map { "\($0.key) \(f($0.value))" }.joined(separator: ", "))
                + " | " + (s.noise.map { "\(f($0.seedSD)), \(f($0.spreadSD)), \(String(format: "%.1f", $0.ratio)) (\($0.candidates) x \($0.seeds) seeds)" } ?? "-")
                + (s.decisionRatio.map { "; \(String(format: "%.1f", $0)) at the decision (\(s.decisionSeeds ?? 1) seed\(s.decisionSeeds == 1 ? "" : "s"))" } ?? "")
                + " |\n"
        }
        let total = summaries.map(\.seconds).reduce(0, +)
        out += "\nTotal search time: \(clockText(total)) of candidate training and scoring.\n\nBest block lists "
            + "(level, B/R, shift, (parents); `*` marks output blocks; indices count the stem blocks first):\n\n"
        for s in summaries { out += "- \(s.space): `\(s.best)`\n" }
        out += "\n## Against random members of the space, at the tables' profiles\n\n"
        out += "The reward above chose each written spec, so it cannot also judge that choice. Here the spec and the first "
            + "random live members of its space (`spinebench search SPACE --random-specs K`) are trained with the tables' "
            + "recipe and scored on the val split, paired by seed. The claim: per seed, the spec's AP minus the median AP "
            + "of the random members. Each line is quoted from the table `spinebench tables` makes of those records "
            + "(the ablation named in the line, results/NAME.md for the quick profile, results/PROFILE/NAME.md for others).\n\n"
        out += "Each space is a one-claim table, so its own Holm p is its p. Asked of every space at once (\"search beats "
            + "random\", one family per ablation and profile), the last column adjusts over the spaces tested there.\n\n"
        out += "| space | spec | ablation, profile (code) | claim | smallest resolvable | over the spaces (Holm) |\n"
        out += "|---|---|---|---|---|---|\n"
        let quoted = againstRandom.filter { q in summaries.contains { $0.writes == q.model } }
        // Per quoted claim: its Holm p and verdict over its family, and how many claims that family tested.
        var overSpaces: [Int: (p: Double?, verdict: ClaimVerdict, tested: Int)] = [:]
        for family in Dictionary(grouping: quoted.indices, by: { "\(quoted[$0].ablation)/\(quoted[$0].profile)" }).values {
            let adjusted = QuotedClaim.holmVerdicts(family.map { quoted[$0] })
            let tested = adjusted.compactMap(\.p).count
            for (i, v) in zip(family, adjusted) { overSpaces[i] = (v.p, v.verdict, tested) }
        }
        for s in summaries {
            let mine = quoted.indices.filter { quoted[$0].model == s.writes }
            if mine.isEmpty { out += "| \(s.space) | \(s.writes) | — | not run | — | — |\n" }
            for i in mine {
                let q = quoted[i], over = overSpaces[i]!
                out += "| \(s.space) | \(s.writes) | \(q.ablation), \(q.profile)\(q.code.map { " (`\($0)`)" } ?? "") | \(q.line) | "
                    + "\(q.resolvable.map { String(format: "%.1f AP", $0) } ?? "—") | "
                    + (over.p.map { "\(over.verdict.rawValue) (Holm p \(String(format: "%.3f", $0)) over \(over.tested))" } ?? "—") + " |\n"
            }
        }
        return out
    }
}

func clockText(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    return s >= 3600 ? String(format: "%d h %02d min", s / 3600, s / 60 % 60) : String(format: "%d min %02d s", s / 60, s % 60)
}
