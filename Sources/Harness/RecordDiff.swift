import Common
import Foundation

/// Compares the records of two revisions row by row: which metrics moved, and whether the move is
/// beyond noise (its 95% confidence interval excludes zero), so a reader can tell a real change from noise.
public struct RecordDiff {
    /// Detection's COCO metrics, then classification's (a record has one kind or the other; absent ones are skipped).
    public static let metrics: [Metric] = [.ap, .ap50, .ap75, .apSmall, .apMedium, .apLarge, .ar100, .top1, .top5]

    public struct Key: Hashable, Comparable {
        public var ablation, profile, model: String
        public static func < (a: Key, b: Key) -> Bool {
            (a.ablation, a.profile, a.model) < (b.ablation, b.profile, b.model)
        }
    }

    public let before: [ResultRecord]
    public let after: [ResultRecord]

    public init(before: [ResultRecord], after: [ResultRecord]) {
        self.before = before
        self.after = after
    }

    static func group(_ records: [ResultRecord]) -> [Key: [ResultRecord]] {
        // A classification model trains once per dataset: its row is DATASET/MODEL (`RunConfig.unit`).
        Dictionary(grouping: records.filter { $0.status == .ok }) { Key(ablation: $0.ablation, profile: $0.profile, model: $0.config.unit) }
    }

    /// How one metric of one row moved between the two sides.
    public struct Change {
        public var metric: Metric
        public var before: SeedSummary
        public var after: SeedSummary
        public var difference: Double
        /// 95% CI of the change: paired by seed when both sides share 2+ seeds, Welch otherwise; nil
        /// when a side has a single seed (then nothing can be judged).
        public var interval: (lower: Double, upper: Double)?
        public var method: String
        /// The CI excludes zero.
        public var significant: Bool { interval.map { $0.lower > 0 || $0.upper < 0 } ?? false }
    }

    static func change(_ metric: Metric, _ a: [ResultRecord], _ b: [ResultRecord]) -> Change {
        func bySeed(_ rs: [ResultRecord]) -> [Int: Double] {
            Dictionary(rs.compactMap { r in r.metrics[metric].map { (r.seed, $0) } }, uniquingKeysWith: { x, _ in x })
        }
        let sa = bySeed(a), sb = bySeed(b)
        let before = SeedSummary(sa.keys.sorted().map { sa[$0]! }), after = SeedSummary(sb.keys.sorted().map { sb[$0]! })
        let paired = PairedComparison(better: sb, worse: sa)
        if paired.n >= 2 {
            return Change(metric: metric, before: before, after: after, difference: after.mean - before.mean,
                          interval: paired.confidenceInterval(), method: "\(paired.n) paired seeds")
        }
        let welch = WelchComparison(Array(sb.values), Array(sa.values))
        return Change(metric: metric, before: before, after: after, difference: after.mean - before.mean,
                      interval: welch.confidenceInterval(),
                      method: welch.pValue == nil ? "one seed on a side: cannot judge" : "unpaired (Welch)")
    }

    /// Human-readable report; `nameA`/`nameB` label the two sides. A metric is flagged as changed only
    /// when the 95% CI of its change excludes zero; a config change is reported even when no metric moved.
    public func report(nameA: String, nameB: String) -> String {
        let a = Self.group(before), b = Self.group(after)
        var out = "records: \(before.count) at \(nameA), \(after.count) at \(nameB)\n"
        var changed = 0, flagged = 0, unjudged = 0
        for key in Set(a.keys).union(b.keys).sorted() {
            let label = "\(key.ablation)/\(key.profile)/\(key.model)"
            guard let ra = a[key] else { out += "+ \(label): new at \(nameB)\n"; continue }
            guard let rb = b[key] else { out += "- \(label): gone at \(nameB)\n"; continue }
            var lines: [String] = []
            let ha = Set(ra.map(Self.seedlessHash)), hb = Set(rb.map(Self.seedlessHash))
            if ha != hb {
                lines.append("    config changed" + Self.profileChanges(ra[0].config.profile, rb[0].config.profile))
            }
            for m in Self.metrics {
                let c = Self.change(m, ra, rb)
                guard abs(c.difference) >= 0.05 else { continue }
                let verdict: String
                if let ci = c.interval {
                    verdict = "95% CI [\(signed(ci.lower)), \(signed(ci.upper))], \(c.method)"
                        + (c.significant ? "  <-- changed" : ": within noise")
                    if c.significant { flagged += 1 }
                } else {
                    verdict = c.method
                    unjudged += 1
                }
                lines.append("    \(m.rawValue): \(c.before.formatted(2)) -> \(c.after.formatted(2)) (\(signed(c.difference)), \(verdict))")
            }
            let pa = ra[0].size.params, pb = rb[0].size.params
            if pa != pb { lines.append("    params: \(pa) -> \(pb)") }
            if !lines.isEmpty {
                changed += 1
                out += "~ \(label)\n" + lines.joined(separator: "\n") + "\n"
            }
        }
        out += "\(changed) row(s) differ, \(flagged) metric change(s) whose 95% CI excludes zero, "
        out += "\(unjudged) that one seed cannot judge\n"
        return out
    }

    /// The run's config hash with the seed left out: what must agree across a row's seeds.
    static func seedlessHash(_ r: ResultRecord) -> String {
        var c = r.config
        c.seed = 0
        return c.hash
    }

    /// ": epochs 2 -> 4, learning_rate 0.04 -> 0.08" for the profile fields that differ.
    static func profileChanges(_ a: AblationDefinition.Profile, _ b: AblationDefinition.Profile) -> String {
        func fields(_ p: AblationDefinition.Profile) -> [String: String] {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            guard let object = (try? JSONSerialization.jsonObject(with: encoder.encode(p))) as? [String: Any] else { return [:] }
            return object.mapValues { value in
                let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed])
                return data.map { String(decoding: $0, as: UTF8.self) } ?? "\(value)"
            }
        }
        let fa = fields(a), fb = fields(b)
        let keys = Set(fa.keys).union(fb.keys).sorted().filter { fa[$0] != fb[$0] }
        guard !keys.isEmpty else { return " (same profile: another model spec, dataset kind or seed)" }
        return ": " + keys.map { "\($0) \(fa[$0] ?? "none") -> \(fb[$0] ?? "none")" }.joined(separator: ", ")
    }
}
