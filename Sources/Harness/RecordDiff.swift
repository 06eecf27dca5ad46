import Foundation

/// Compares the records of two revisions row by row: which metrics moved, and whether the move
/// is larger than the seed spread (so a reader can tell a real change from noise).
public struct RecordDiff {
    public static let metrics = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR100"]

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
        Dictionary(grouping: records.filter { $0.status == "ok" }) { Key(ablation: $0.ablation, profile: $0.profile, model: $0.model) }
    }

    /// Human-readable report; `nameA`/`nameB` label the two sides.
    public func report(nameA: String, nameB: String) -> String {
        let a = Self.group(before), b = Self.group(after)
        var out = "records: \(before.count) at \(nameA), \(after.count) at \(nameB)\n"
        var changed = 0, flagged = 0
        for key in Set(a.keys).union(b.keys).sorted() {
            let label = "\(key.ablation)/\(key.profile)/\(key.model)"
            guard let ra = a[key] else { out += "+ \(label): new at \(nameB)\n"; continue }
            guard let rb = b[key] else { out += "- \(label): gone at \(nameB)\n"; continue }
            var lines: [String] = []
            for m in Self.metrics {
                let sa = SeedSummary(ra.compactMap { $0.metrics[m] }), sb = SeedSummary(rb.compactMap { $0.metrics[m] })
                let delta = sb.mean - sa.mean
                guard abs(delta) >= 0.05 else { continue }
                let spreads = [sa.std, sb.std].compactMap { $0 }
                let spread = spreads.isEmpty ? nil : spreads.max()
                let big = spread.map { abs(delta) > $0 } ?? true
                if big { flagged += 1 }
                let note = spread.map { "seed spread ±\(fixed($0, 2))" } ?? "no seed spread"
                lines.append("    \(m): \(fixed(sa.mean, 2)) -> \(fixed(sb.mean, 2)) (\(signed(delta)), \(note))\(big ? "  <-- beyond spread" : "")")
            }
            let pa = ra[0].size.params, pb = rb[0].size.params
            if pa != pb { lines.append("    params: \(pa) -> \(pb)") }
            if !lines.isEmpty {
                changed += 1
                out += "~ \(label)\n" + lines.joined(separator: "\n") + "\n"
            }
        }
        out += "\(changed) row(s) changed, \(flagged) metric change(s) beyond the seed spread (or with no spread to judge)\n"
        return out
    }
}
