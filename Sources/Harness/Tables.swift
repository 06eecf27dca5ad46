import Foundation

/// Paper-style tables made from records alone (plus the ablation file's layout and paper numbers),
/// so they can always be regenerated and diffed.
public struct TableWriter {
    public static let metricColumns = ["AP", "AP50", "AP75", "APs", "APm", "APl"]

    public let definition: AblationDefinition
    public let profile: String
    /// The records of this ablation and profile (every commit).
    public let records: [ResultRecord]
    /// The records a table is made of: one code version and one profile config (see `reference`).
    public let current: [ResultRecord]
    /// Code version and profile the table stands on: the source tree (`ResultRecord.codeVersion`) with the
    /// most ok runs (ties: the smaller id, so the choice never depends on file order), and the profile config
    /// most of its records were trained with.
    public let reference: (code: String, profile: AblationDefinition.Profile)?
    /// A sentence on how far this profile's training gets towards the plateau (from the calibration
    /// study), printed in the header; nil when no calibration records exist.
    public var plateauNote: String?

    /// Two-sided level of every test and interval; claims within one table are Holm-adjusted.
    public static let alpha = 0.05

    public init(definition: AblationDefinition, profile: String, records: [ResultRecord], plateauNote: String? = nil) {
        self.definition = definition
        self.profile = profile
        self.plateauNote = plateauNote
        let mine = records.filter { $0.ablation == definition.name && $0.profile == profile }
        self.records = mine
        let ok = mine.filter { $0.status == .ok }
        let byCommit = Dictionary(grouping: ok, by: { $0.codeVersion })
        if let best = byCommit.max(by: { a, b in
            a.value.count != b.value.count ? a.value.count < b.value.count : a.key > b.key
        }) {
            let configs = Dictionary(grouping: best.value, by: { $0.config.profile })
            let profile = configs.max { a, b in
                a.value.count != b.value.count ? a.value.count < b.value.count : a.value[0].config.hash > b.value[0].config.hash
            }!.key
            reference = (best.key, profile)
            current = mine.filter { $0.codeVersion == best.key && $0.config.profile == profile }
        } else {
            reference = nil
            current = []
        }
    }

    /// One table row's numbers, summarised over seeds.
    public struct RowSummary {
        public var model: String
        public var displayName: String
        public var provenance: String
        public var okRecords: [ResultRecord]
        /// Ok records of another code version or config: shown as stale, never used in a claim.
        public var stale: [ResultRecord]
        public var failures: [String]
        public var metrics: [String: SeedSummary]
        public var paperAP: Double?
        public var paperUnverified: Bool
        public var ap: SeedSummary { metrics["AP"] ?? SeedSummary([]) }
        /// AP by seed, the unit claims are paired on.
        public var apBySeed: [Int: Double] {
            Dictionary(okRecords.compactMap { r in r.metrics["AP"].map { (r.seed, $0) } }, uniquingKeysWith: { a, _ in a })
        }
    }

    public func summary(_ row: AblationDefinition.TableDefinition.Row) -> RowSummary {
        let mine = current.filter { $0.model == row.model }.sorted { $0.seed < $1.seed }
        let ok = mine.filter { $0.status == .ok }
        let stale = records.filter { $0.model == row.model && $0.status == .ok }.filter { r in !ok.contains(r) }
        var metrics: [String: SeedSummary] = [:]
        // COCO reports -1 for a size class with no ground truth: no value, not a score of -100.
        for key in Self.metricColumns { metrics[key] = SeedSummary(ok.compactMap { $0.metrics[key].flatMap { $0 >= 0 ? $0 : nil } }) }
        let any = mine.first ?? stale.first
        return RowSummary(model: row.model,
                          displayName: row.label ?? any?.architecture.displayName ?? row.model,
                          provenance: any?.architecture.provenance ?? "—",
                          okRecords: ok, stale: stale,
                          failures: mine.filter { $0.status != .ok }.map { "seed \($0.seed): \($0.failure ?? "failed")" },
                          metrics: metrics, paperAP: row.paperAP, paperUnverified: row.paperUnverified ?? false)
    }

    /// A claim of the paper tested on our runs: paired by seed, Holm-adjusted within its table.
    public struct ClaimResult {
        public var claim: AblationDefinition.TableDefinition.Claim
        public var comparison: PairedComparison
        public var adjustedP: Double?
        public var verdict: ClaimVerdict
    }

    public func claims(_ table: AblationDefinition.TableDefinition) -> [ClaimResult] {
        let rows = Dictionary(table.rows.map { ($0.model, summary($0)) }, uniquingKeysWith: { a, _ in a })
        let comparisons = table.claims.map { c in
            PairedComparison(better: rows[c.better]?.apBySeed ?? [:], worse: rows[c.worse]?.apBySeed ?? [:])
        }
        let adjusted = holmAdjusted(comparisons.map { $0.n >= 2 ? $0.pValue : nil })
        return zip(table.claims, zip(comparisons, adjusted)).map { claim, pair in
            let (c, p) = pair
            return ClaimResult(claim: claim, comparison: c, adjustedP: p,
                               verdict: Harness.verdict(meanDifference: c.meanDifference, adjustedP: p, n: c.n, alpha: Self.alpha))
        }
    }

    /// The smallest paired AP difference the table's seeds resolve with power 0.8 (two-sided, alpha 0.05,
    /// before Holm), from the root-mean-square sd of its claims' paired differences; nil under 2 seeds.
    public func resolvableDifference(_ table: AblationDefinition.TableDefinition) -> (difference: Double, seeds: Int)? {
        let tested = claims(table).map(\.comparison).filter { $0.n >= 2 && $0.sd != nil }
        guard !tested.isEmpty else { return nil }
        let rms = (tested.map { $0.sd! * $0.sd! }.reduce(0, +) / Double(tested.count)).squareRoot()
        let n = tested.map(\.n).min()!
        return minimumDetectableDifference(sd: rms, n: n, alpha: Self.alpha, power: 0.8).map { ($0, n) }
    }

    // MARK: Markdown

    public func markdown() -> String {
        var out = "# \(definition.title)\n\n"
        out += "Profile `\(profile)`. Generated by `spinebench tables` from the records under "
        out += "`results/records/\(definition.name)/\(profile)/`; do not edit by hand.\n"
        if let (code, p) = reference {
            let dirty = current.contains { $0.provenance.dirty } ? " (some runs from a dirty tree)" : ""
            let commits = Set(current.map { String($0.provenance.commit.prefix(10)) }).sorted().map { "`\($0)`" }
            out += "Every number below is from one code version (source tree `\(code.prefix(10))`, commit(s) "
            out += "\(commits.joined(separator: ", ")))\(dirty) and one config (hash of each run in its record).\n"
            out += "Setting (from the records): input \(p.input), width \(p.scale), alpha \(p.alpha), endpoints \(p.endpoints), "
            out += "head \(p.headConvs)x\(p.headFilters), anchor size \(fixed(p.anchorSize, 1)) strides, "
            out += "\(p.epochs) epochs of \(p.dataset.train) images at batch \(p.batch) "
            out += "(\(p.epochs * (p.dataset.train / p.batch)) steps), LR \(p.learningRate) \(p.schedule.rawValue), "
            out += "dataset \(definition.dataset.kind) \(p.dataset.size) px (\(p.dataset.train) train / \(p.dataset.val) val), "
            out += "object sides \(p.dataset.minSide)-\(p.dataset.maxSide) px.\n"
            out += Self.levelsNote(p) + "\n"
            out += "Size classes: COCO's areas times (anchor size / 3)^2 = \(fixed(p.areaScale, 4)), i.e. small, medium and "
            out += "large sit where they sit in the paper's anchor pyramid.\n"
        }
        if let r = current.first {
            out += "Dataset checksum \(r.provenance.datasetChecksum) (\(r.provenance.datasetSource)).\n"
        }
        if let plateauNote { out += plateauNote + "\n" }
        let stale = records.filter { r in r.status == .ok && !current.contains(r) }
        if !stale.isEmpty {
            let commits = Set(stale.map { String($0.provenance.commit.prefix(10)) }).sorted().joined(separator: ", ")
            out += "\n**Stale runs left out** (\(stale.count), from commit(s) \(commits): other code or another config): "
            out += "they are listed per row and take no part in any claim; `make ablation-\(definition.name) "
            out += "PROFILE=\(profile)` re-runs them with this code.\n"
        }
        for table in definition.tables { out += "\n" + markdown(table) }
        out += "\nAP columns are ours, mean ± sample std over seeds (COCO-style, %). Params / MACs: trained size; "
        out += "in brackets at the paper's size (640 px, 91 classes, paper head). `reconstructed`: no published "
        out += "block list, built by the documented rule; `searched`: found by `spinebench search` at the proxy task "
        out += "(ablations/search, results/search/summary.md); `*`: paper figure UNVERIFIED against the PDF.\n"
        out += "Claims: the seed is the unit and runs are paired by seed (same initial-weight stream and data order), "
        out += "so a claim's test is a paired t-test on the per-seed AP differences; 95% CI of the mean difference; "
        out += "p two-sided, Holm-adjusted over the table's claims. Supported / contradicted: adjusted p < 0.05 with "
        out += "the difference in / against the paper's direction; inconclusive otherwise; not tested under 2 seeds.\n"
        return out
    }

    /// Which pyramid levels can hold positive anchors at this profile: a level whose smallest anchor
    /// (anchor size x stride) exceeds the largest object side by more than sqrt(2) overlaps no box at
    /// IoU 0.5, so its features are trained only as inputs of other levels.
    static func levelsNote(_ p: AblationDefinition.Profile) -> String {
        let largest = Double(p.dataset.maxSide) * Double(p.input) / Double(p.dataset.size) * (p.scaleJitter.last ?? 1)
        let usable = (3...7).filter { p.anchorSize * pow(2, Double($0)) <= 2.0.squareRoot() * largest }
        let unused = (3...7).filter { !usable.contains($0) }
        guard let first = unused.first else { return "Levels with positive anchors: L3-L7." }
        return "Levels with positive anchors: \(usable.map { "L\($0)" }.joined(separator: ", ")). "
            + "\(unused.map { "L\($0)" }.joined(separator: " and ")) cannot hold positives at this size (their anchors start at "
            + "\(fixed(p.anchorSize * pow(2, Double(first)), 0)) px, the largest object is \(fixed(largest, 0)) px), so this "
            + "proxy does not test detection at those levels."
    }

    func markdown(_ table: AblationDefinition.TableDefinition) -> String {
        let rows = table.rows.map(summary)
        let base = rows.first { $0.model == table.baseline }
        var out = "## \(table.title)\n\n"
        out += "| model | arch | seeds | " + Self.metricColumns.joined(separator: " | ")
        out += " | params | MACs | paper AP | Δ AP (ours) | Δ AP (paper) |\n"
        out += "|---|---|---|" + String(repeating: "---|", count: Self.metricColumns.count) + "---|---|---|---|---|\n"
        for r in rows {
            let rec = r.okRecords.first ?? r.stale.first
            var cells = [r.displayName, r.provenance, "\(r.okRecords.count)"]
            if r.okRecords.isEmpty {
                var why = r.failures.isEmpty ? "not run" : r.failures.joined(separator: "; ")
                if !r.stale.isEmpty { why += " (\(r.stale.count) stale)" }
                cells += Self.metricColumns.map { _ in "—" }
                cells[3] = why
            } else {
                cells += Self.metricColumns.map { r.metrics[$0]!.formatted() }
                if !r.stale.isEmpty { cells[2] += " (+\(r.stale.count) stale)" }
            }
            cells.append(rec.map { "\(millions($0.size.params)) (\(millions($0.size.paperParams)))" } ?? "—")
            cells.append(rec.map { "\(billions($0.size.macs)) (\(billions($0.size.paperMacs)))" } ?? "—")
            cells.append(r.paperAP.map { fixed($0, 1) + (r.paperUnverified ? "*" : "") } ?? "—")
            if let base, r.model != table.baseline, !r.okRecords.isEmpty, !base.okRecords.isEmpty {
                cells.append(signed(r.ap.mean - base.ap.mean))
            } else { cells.append(r.model == table.baseline ? "baseline" : "—") }
            if let p = r.paperAP, let bp = base?.paperAP, r.model != table.baseline {
                cells.append(signed(p - bp))
            } else { cells.append(r.model == table.baseline ? "baseline" : "—") }
            out += "| " + cells.joined(separator: " | ") + " |\n"
        }
        out += "\nClaims of the paper, checked against our numbers:\n\n"
        for result in claims(table) { out += "- " + line(result, rows: rows) + "\n" }
        if let (d, n) = resolvableDifference(table) {
            out += "\nSmallest difference these \(n) seeds resolve (paired, power 0.8, two-sided alpha 0.05, before Holm): "
            out += "\(fixed(d, 1)) AP.\n"
        } else {
            out += "\nWith fewer than 2 seeds per row no difference can be resolved: every claim is not tested.\n"
        }
        return out
    }

    /// "A > B: supported (+3.2 AP, 95% CI [+1.1, +5.3], 3 paired seeds, p 0.004, Holm p 0.012)".
    func line(_ result: ClaimResult, rows: [RowSummary]) -> String {
        let name = { (m: String) in rows.first { $0.model == m }?.displayName ?? m }
        let head = "\(name(result.claim.better)) > \(name(result.claim.worse)):"
        let c = result.comparison
        switch c.n {
        case 0: return "\(head) not tested (no seed trained for both with this code and config)"
        case 1: return "\(head) not tested (\(signed(c.meanDifference)) AP at one seed: no spread to judge)"
        default:
            var parts = ["\(signed(c.meanDifference)) AP"]
            if let ci = c.confidenceInterval(level: 1 - Self.alpha) {
                parts.append("95% CI [\(signed(ci.lower)), \(signed(ci.upper))]")
            }
            parts.append("\(c.n) paired seeds")
            if let p = c.pValue { parts.append("p \(pValueText(p))") }
            if let p = result.adjustedP { parts.append("Holm p \(pValueText(p))") }
            return "\(head) \(result.verdict.rawValue) (\(parts.joined(separator: ", ")))"
        }
    }

    // MARK: CSV

    public func csv() -> String {
        var header = ["table", "model", "display_name", "provenance", "seeds"]
        for m in Self.metricColumns { header += [m + "_mean", m + "_std"] }
        header += ["params", "macs", "paper_params", "paper_macs", "paper_ap", "delta_ap", "paper_delta_ap", "failures"]
        var out = header.joined(separator: ",") + "\n"
        for table in definition.tables {
            let rows = table.rows.map(summary)
            let base = rows.first { $0.model == table.baseline }
            for r in rows {
                let rec = r.okRecords.first
                var cells = [table.id, r.model, r.displayName, r.provenance, "\(r.okRecords.count)"]
                for m in Self.metricColumns {
                    let s = r.metrics[m]!
                    cells += [s.count > 0 ? fixed(s.mean, 3) : "", s.std.map { fixed($0, 3) } ?? ""]
                }
                cells += [rec.map { "\($0.size.params)" } ?? "", rec.map { "\($0.size.macs)" } ?? "",
                          rec.map { "\($0.size.paperParams)" } ?? "", rec.map { "\($0.size.paperMacs)" } ?? "",
                          r.paperAP.map { fixed($0, 1) } ?? ""]
                let delta = (base.map { $0.ap.count > 0 && r.ap.count > 0 } ?? false) ? fixed(r.ap.mean - base!.ap.mean, 3) : ""
                let paperDelta = (r.paperAP != nil && base?.paperAP != nil) ? fixed(r.paperAP! - base!.paperAP!, 1) : ""
                cells += [delta, paperDelta, "\"" + r.failures.joined(separator: "; ") + "\""]
                out += cells.joined(separator: ",") + "\n"
            }
        }
        return out
    }

    // MARK: SVG

    /// AP against multiply-adds (trained size), one panel per table, error bars when seeds > 1.
    public func svg() -> String {
        let panelW = 460.0, panelH = 320.0, margin = 56.0
        let width = panelW * Double(definition.tables.count)
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(panelH))\" "
        out += "font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        for (i, table) in definition.tables.enumerated() {
            let x0 = Double(i) * panelW
            let pts = table.rows.map(summary).compactMap { r -> (String, Double, Double, Double)? in
                guard let rec = r.okRecords.first, r.ap.count > 0 else { return nil }
                return (r.displayName, Double(rec.size.macs) / 1e6, r.ap.mean, r.ap.std ?? 0)
            }
            out += "<text x=\"\(x0 + panelW / 2)\" y=\"16\" text-anchor=\"middle\" font-size=\"12\">\(escape(table.title))</text>\n"
            let left = x0 + margin, right = x0 + panelW - 16, top = 30.0, bottom = panelH - 40
            out += "<line x1=\"\(left)\" y1=\"\(bottom)\" x2=\"\(right)\" y2=\"\(bottom)\" stroke=\"black\"/>"
            out += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(bottom)\" stroke=\"black\"/>\n"
            out += "<text x=\"\((left + right) / 2)\" y=\"\(panelH - 8)\" text-anchor=\"middle\">multiply-adds (M, trained size)</text>\n"
            out += "<text x=\"\(x0 + 14)\" y=\"\((top + bottom) / 2)\" transform=\"rotate(-90 \(x0 + 14) \((top + bottom) / 2))\" text-anchor=\"middle\">AP (%)</text>\n"
            guard !pts.isEmpty else { continue }
            let xs = pts.map(\.1), ys = pts.flatMap { [$0.2 - $0.3, $0.2 + $0.3] }
            let (xmin, xmax) = padded(xs.min()!, xs.max()!), (ymin, ymax) = padded(ys.min()!, ys.max()!)
            let sx = { (v: Double) in left + (v - xmin) / (xmax - xmin) * (right - left) }
            let sy = { (v: Double) in bottom - (v - ymin) / (ymax - ymin) * (bottom - top) }
            for t in 0...4 {
                let xv = xmin + (xmax - xmin) * Double(t) / 4, yv = ymin + (ymax - ymin) * Double(t) / 4
                out += "<text x=\"\(sx(xv))\" y=\"\(bottom + 14)\" text-anchor=\"middle\">\(fixed(xv, 0))</text>"
                out += "<text x=\"\(left - 4)\" y=\"\(sy(yv) + 4)\" text-anchor=\"end\">\(fixed(yv, 1))</text>\n"
            }
            for (name, x, y, s) in pts {
                if s > 0 {
                    out += "<line x1=\"\(sx(x))\" y1=\"\(sy(y - s))\" x2=\"\(sx(x))\" y2=\"\(sy(y + s))\" stroke=\"#4477aa\"/>"
                }
                out += "<circle cx=\"\(sx(x))\" cy=\"\(sy(y))\" r=\"4\" fill=\"#4477aa\"/>"
                out += "<text x=\"\(sx(x) + 6)\" y=\"\(sy(y) - 6)\">\(escape(name))</text>\n"
            }
        }
        return out + "</svg>\n"
    }
}

func padded(_ lo: Double, _ hi: Double) -> (Double, Double) {
    let span = max(hi - lo, max(abs(hi), 1) * 0.05)
    return (lo - span * 0.1, hi + span * 0.1)
}

func escape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;")
}

func signed(_ x: Double) -> String { (x >= 0 ? "+" : "") + fixed(x, 1) }
func pValueText(_ p: Double) -> String { p < 0.001 ? "< 0.001" : fixed(p, 3) }
func millions(_ n: Int) -> String { fixed(Double(n) / 1e6, 2) + "M" }
func billions(_ n: Int) -> String {
    n >= 1_000_000_000 ? fixed(Double(n) / 1e9, 2) + "B" : fixed(Double(n) / 1e6, 1) + "M"
}
