import Common
import Foundation
import Harness
import Models

/// `spinebench search SPACE.yaml`: runs (or resumes) this shard's search, then merges every shard's log
/// in the space's folder, writes the best candidate as a spec with its provenance, and rewrites the
/// summaries. With `mergeOnly` it evaluates nothing (the step after a cluster array finishes).
public struct SearchRunner {
    public var spacePath: String
    /// Total candidates over all shards; nil takes the space file's.
    public var budget: Int?
    public var shard: Shard = .all
    public var threads: Int
    public var mergeOnly = false
    public var resultsDir = "results"
    public var runsDir = "runs"
    public var dataDir = "data"
    /// The ablation files whose `above_median` claims summary.md quotes (ablations/search-vs-random.yaml).
    public var ablationsDir = "ablations"
    /// Where the spec is published besides the search's own folder; nil publishes nothing. The shipped
    /// specs the tables train (ablations/specs) change only when a user asks (`--write-specs`).
    public var specsDir: String?
    /// Specs to score in the space's proxy task before searching (e.g. the hand-made reconstruction the
    /// search replaces), recorded in `references.json` beside the logs, never in them.
    public var references: [String] = []
    /// With a value: before searching, score the references and `noiseRandom` random members at the
    /// proxy's full length with this many seeds (RewardNoise), resumable from `noise.jsonl`.
    public var noiseSeeds: Int?
    public var noiseRandom = 3

    public init(spacePath: String, threads: Int) {
        self.spacePath = spacePath
        self.threads = threads
    }

    public struct Outcome {
        public var summary: SearchSummary
        public var specPath: String
    }

    public func run(progress: Harness.Progress) throws -> Outcome {
        let space = try SpaceDefinition.load(spacePath)
        let folder = Self.folder(resultsDir: resultsDir, space: space)
        let commit = ProvenanceProbe.commit()
        if !mergeOnly { try FileSystem.checkWritable(folder, what: "the search log") }
        // Noise first: its seed-0 runs of the references are the reference scores, so none is trained twice.
        if !mergeOnly, let seeds = noiseSeeds {
            try measureNoise(space: space, folder: folder, seeds: seeds, commit: commit, progress: progress)
        }
        if !references.isEmpty {
            try scoreReferences(space: space, folder: folder, commit: commit, progress: progress)
        }
        if !mergeOnly {
            let total = budget ?? space.budget
            let mine = Evolution.shardBudget(total: total, shard: shard)
            let reward = try ProxyReward(space: space, dataDir: dataDir, runsDir: runsDir, threads: threads, progress: progress)
            progress.log("search \(space.name): \(mine) of \(total) candidates in shard \(shard), proxy data \(reward.datasetPath)")
            var bestSoFar = -Double.infinity
            let log = SearchLog(path: SearchLog.path(folder: folder, shard: shard))
            let score: RewardFunction = { try reward.evaluate($0, fidelity: $1, label: $2) }
            let report: (LogEntry) -> Void = { e in
                bestSoFar = max(bestSoFar, e.reward)
                progress.log("\(space.name) #\(e.index + 1) [\(e.origin)\(e.epochs.map { ", \($0) epochs" } ?? "")] "
                             + "\(space.proxy.metric) \(String(format: "%.2f", e.reward)) in \(String(format: "%.0f", e.seconds)) s "
                             + "(best \(String(format: "%.2f", bestSoFar)))\(e.failure.map { ": " + $0 } ?? "")")
            }
            if space.algorithm.kind == "halving" {
                try SuccessiveHalving(space: space, shard: shard).run(budget: mine, log: log, commit: commit, reward: score, report: report)
            } else {
                try Evolution(space: space, shard: shard).run(budget: mine, log: log, commit: commit, reward: score, report: report)
            }
        }
        return try merge(space: space, folder: folder, progress: progress)
    }

    /// A spec scored in the proxy task, for comparison with what the search finds.
    public struct ReferenceScore: Codable, Sendable {
        public var reward: Double
        public var metrics: Metrics
        public var seconds: Double
        public var commit: String
        /// The space's `rewardHash` (a reference score does not depend on the algorithm).
        public var spaceHash: String
        /// Where the spec leaves the space (it is scored anyway).
        public var violations: [String]
        public var candidate: String
    }

    static func referencesPath(_ folder: String) -> String { folder + "/references.json" }

    static func readReferences(_ folder: String) throws -> [String: ReferenceScore] {
        guard let data = FileManager.default.contents(atPath: referencesPath(folder)) else { return [:] }
        return try JSONDecoder().decode([String: ReferenceScore].self, from: data)
    }

    func scoreReferences(space: SpaceDefinition, folder: String, commit: String, progress: Harness.Progress) throws {
        let library = try SpecLibrary.standard()
        let reward = try ProxyReward(space: space, dataDir: dataDir, runsDir: runsDir, threads: threads, progress: progress)
        var scores = try Self.readReferences(folder)
        // A reference's score is its proxy run with seed 0: the noise measurement's, when it made one.
        var measured: [Candidate: LogEntry] = [:]
        for e in try SearchLog(path: RewardNoise.path(folder: folder)).read()
        where e.spaceHash == space.rewardHash && e.seed == 0 && e.epochs == space.proxy.epochs && measured[e.candidate] == nil {
            measured[e.candidate] = e
        }
        for name in references {
            let spec = try library.spec(named: name)
            let candidate = Candidate(spec: spec)
            let score: ReferenceScore
            if let e = measured[candidate] {
                score = ReferenceScore(reward: e.reward, metrics: e.metrics, seconds: e.seconds, commit: e.commit,
                                       spaceHash: space.rewardHash, violations: space.violations(of: candidate),
                                       candidate: candidate.text)
            } else {
                let started = Date()
                let r = try reward.evaluate(candidate, fidelity: Fidelity(epochs: space.proxy.epochs),
                                            label: "\(space.name) reference \(spec.name)")
                score = ReferenceScore(reward: r.value, metrics: r.metrics, seconds: Date().timeIntervalSince(started),
                                       commit: commit, spaceHash: space.rewardHash,
                                       violations: space.violations(of: candidate), candidate: candidate.text)
            }
            scores[spec.name] = score
            progress.log("\(space.name): reference \(spec.name) (\(spec.provenance.rawValue)) \(space.proxy.metric) "
                         + "\(String(format: "%.2f", score.reward))\(measured[candidate] != nil ? " (the noise run of seed 0)" : "")")
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try FileSystem.writeAtomically(try encoder.encode(scores), to: Self.referencesPath(folder))
        }
    }

    func measureNoise(space: SpaceDefinition, folder: String, seeds: Int, commit: String, progress: Harness.Progress) throws {
        let library = try SpecLibrary.standard()
        let named = try references.map { Candidate(spec: try library.spec(named: $0)) }
        let plan = try RewardNoise.plan(space: space, named: named, random: noiseRandom, seeds: seeds)
        let reward = try ProxyReward(space: space, dataDir: dataDir, runsDir: runsDir, threads: threads, progress: progress)
        let entries = try RewardNoise.measure(
            space: space, plan: plan, log: SearchLog(path: RewardNoise.path(folder: folder)), commit: commit,
            reward: { try reward.evaluate($0, fidelity: $1, label: $2) },
            report: { e in progress.log("\(space.name) noise #\(e.index + 1) seed \(e.seed ?? 0): \(String(format: "%.2f", e.reward))") })
        if let n = RewardNoise(entries: entries) {
            progress.log("\(space.name): reward seed sd \(String(format: "%.2f", n.seedSD)), sd of candidate means "
                         + "\(String(format: "%.2f", n.spreadSD)), ratio \(String(format: "%.1f", n.ratio))")
        }
    }

    static func folder(resultsDir: String, space: SpaceDefinition) -> String { "\(resultsDir)/search/\(space.name)" }

    /// Reads every shard's log, writes the best candidate's spec and the summaries.
    func merge(space: SpaceDefinition, folder: String, progress: Harness.Progress) throws -> Outcome {
        let logs = try SearchLog.readAll(folder: folder)
        for (file, entries) in logs {
            if let i = entries.firstIndex(where: { $0.spaceHash != space.hash }) {
                throw SearchError.foreignLog(file: file, line: i + 1,
                                             reason: "written for space hash \(entries[i].spaceHash), not \(space.hash)")
            }
        }
        let entries = logs.flatMap(\.entries)
        // Only a candidate inside the space as this commit defines it can be written (logs of an older
        // commit may hold candidates a later rule excludes, e.g. ones with dead blocks).
        guard let best = SearchSummary.best(of: entries.filter { space.violations(of: $0.candidate).isEmpty }, space: space),
              var summary = SearchSummary(space: space, entries: entries, shards: logs.count) else {
            throw SearchError.nothingEvaluated(folder: folder)
        }
        summary.bestIndex = best.index
        summary.bestShard = best.shard
        summary.bestOrigin = best.origin
        summary.best = best.candidate.text
        summary.bestReward = best.reward
        summary.outside = entries.filter { !space.violations(of: $0.candidate).isEmpty }.count
        let stored = try Self.readReferences(folder)
        summary.references = stored.filter { $0.value.spaceHash == space.rewardHash }.mapValues(\.reward)
        let noise = try SearchLog(path: RewardNoise.path(folder: folder)).read().filter { $0.spaceHash == space.rewardHash }
        summary.noise = RewardNoise(entries: noise)
        // Noise runs of a reference (under any hash: its text is the same) are not random members.
        let referenceTexts = Set(stored.values.map(\.candidate))
        let random = noise.filter { !referenceTexts.contains($0.candidate.text) }
        if !random.isEmpty {
            summary.fullLengthRandomMean = random.map(\.reward).reduce(0, +) / Double(random.count)
            summary.fullLengthRandomCount = Set(random.map(\.candidate)).count
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try FileSystem.writeAtomically(try encoder.encode(summary), to: folder + "/summary.json")
        try SearchSummary.writeMarkdown(resultsDir: resultsDir, ablationsDir: ablationsDir)

        let text = Self.specText(best: best, space: space, spacePath: spacePath, folder: folder, summary: summary)
        var specPath = "\(folder)/\(space.writes).yaml"
        _ = try ModelSpec.parse(yaml: text, file: specPath)   // never write a spec the library cannot read
        try FileSystem.writeAtomically(text, to: specPath)
        if let dir = specsDir {
            specPath = "\(dir)/\(space.writes).yaml"
            try FileSystem.writeAtomically(text, to: specPath)
        }
        progress.log("\(space.name): best \(space.proxy.metric) \(String(format: "%.2f", best.reward)) of \(entries.count) "
                     + "candidates (\(summary.randomText)) -> \(specPath)")
        return Outcome(summary: summary, specPath: specPath)
    }

    static func specText(best: LogEntry, space: SpaceDefinition, spacePath: String, folder: String,
                         summary: SearchSummary) -> String {
        let parts = [space.search.order ? "order" : nil, space.search.connections ? "connections" : nil,
                     space.search.adjustments ? "block adjustments" : nil].compactMap { $0 }.joined(separator: " and ")
        let seeds = summary.decisionSeeds ?? 1
        let decision = " at \(space.proxy.epochs) epochs" + (seeds > 1 ? ", mean of \(seeds) seeds" : "")
        let note = "Searched (\(parts)) by \(summary.algorithm) over \(summary.candidates) candidates; best held-out "
            + "\(space.proxy.metric) \(String(format: "%.2f", best.reward))\(decision) (\(summary.randomText)). "
            + space.note
        let header = """
            \(space.writes): written by `spinebench search \(spacePath)`; do not edit by hand, re-run the search.
            Log: \(folder)/ (one JSON line per candidate); summary: \(folder)/summary.json.
            """
        let provenance = SpecWriter.SearchProvenance(
            space: spacePath, spaceHash: space.hash, algorithm: space.algorithm.kind, budget: summary.candidates,
            shards: summary.shards, seed: space.seed, reward: best.reward, metric: "held-out \(space.proxy.metric)",
            candidate: "\(best.shard)#\(best.index)", commit: best.commit, log: folder)
        return SpecWriter.yaml(of: best.candidate, in: space, name: space.writes, provenance: .searched, note: note,
                               header: header, search: provenance)
    }
}
