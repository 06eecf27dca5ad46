import Common
import Foundation
import Models

/// Paper-style tables made from records alone (plus the ablation file's layout and paper numbers),
/// so they can always be regenerated and diffed.
public struct TableWriter {
    public static let metricColumns: [Metric] = [.ap, .ap50, .ap75, .apSmall, .apMedium, .apLarge]

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

    /// What the spec of each model says that records do not hold: its family (for curve claims and plots) and
    /// the paper's input size (the bracketed paper-size counts are at that size). Models missing here are on no
    /// curve, and their paper size is read as 640 px.
    public var facts: [String: ModelFacts]

    public struct ModelFacts: Sendable, Equatable {
        public var family: Family
        public var paperInput: Int

        public init(family: Family, paperInput: Int) {
            self.family = family
            self.paperInput = paperInput
        }

        /// The facts of every model of `definition` that `library` can build (others are left out).
        public static func of(_ definition: AblationDefinition, library: SpecLibrary) -> [String: ModelFacts] {
            var out: [String: ModelFacts] = [:]
            for model in definition.models {
                if let spec = try? library.spec(named: model) {
                    out[model] = ModelFacts(family: spec.family, paperInput: spec.paper.inputSize)
                }
            }
            return out
        }
    }

    /// Two-sided level of every test and interval; claims within one table are Holm-adjusted.
    public static let alpha = 0.05

    public init(definition: AblationDefinition, profile: String, records: [ResultRecord], plateauNote: String? = nil,
                facts: [String: ModelFacts] = [:]) {
        self.definition = definition
        self.profile = profile
        self.plateauNote = plateauNote
        self.facts = facts
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
        public var metrics: [Metric: SeedSummary]
        public var paperAP: Double?
        public var paperUnverified: Bool
        public var ap: SeedSummary { metrics[.ap] ?? SeedSummary([]) }
        /// AP by seed, the unit claims are paired on.
        public var apBySeed: [Int: Double] {
            Dictionary(okRecords.compactMap { r in r.metrics[.ap].map { (r.seed, $0) } }, uniquingKeysWith: { a, _ in a })
        }
    }

    public func summary(_ row: AblationDefinition.TableDefinition.Row) -> RowSummary {
        let mine = current.filter { $0.model == row.model }.sorted { $0.seed < $1.seed }
        let ok = mine.filter { $0.status == .ok }
        let stale = records.filter { $0.model == row.model && $0.status == .ok }.filter { r in !ok.contains(r) }
        var metrics: [Metric: SeedSummary] = [:]
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

    /// A claim of the paper tested on our runs: paired by seed, Holm-adjusted within its table. A curve claim
    /// gives one result per row of its family (`point`).
    public struct ClaimResult {
        public var claim: AblationDefinition.TableDefinition.Claim
        /// For a curve claim: the row tested and where its multiply-adds sit on the other family's curve.
        public var point: CurvePoint?
        public var comparison: PairedComparison
        public var adjustedP: Double?
        public var verdict: ClaimVerdict
    }

    /// A row of a curve claim's family, placed on the curve of the family it is compared against.
    public struct CurvePoint: Equatable {
        public var model: String
        /// Multiply-adds at the trained size (nil: the row has no run with this code and config).
        public var macs: Int?
        public var position: CurvePosition
    }

    /// Where a multiply-add count falls on a curve of (model, MACs) points.
    public enum CurvePosition: Equatable {
        /// Inside the curve's range, between two of its points; `weight` is the share of `upper` in the
        /// interpolation, linear in log MACs (0 at `lower`, 1 at `upper`).
        case between(lower: String, upper: String, weight: Double)
        /// Fewer MACs than the curve's first point, or more than its last: no interpolation, no verdict.
        case below(String)
        case above(String)
        /// The curve has no trained point (or the row itself has no MACs).
        case unplaced
    }

    /// Locates `macs` on `curve` (any order): the two neighbours that bracket it and the interpolation weight
    /// w = (ln m - ln m_lower) / (ln m_upper - ln m_lower). A point at a curve point's MACs takes that point
    /// alone (w = 0).
    public static func position(of macs: Int, on curve: [(model: String, macs: Int)]) -> CurvePosition {
        let sorted = curve.sorted { $0.macs != $1.macs ? $0.macs < $1.macs : $0.model < $1.model }
        guard let first = sorted.first, let last = sorted.last, macs > 0 else { return .unplaced }
        if macs < first.macs { return .below(first.model) }
        if macs > last.macs { return .above(last.model) }
        if let exact = sorted.first(where: { $0.macs == macs }) { return .between(lower: exact.model, upper: exact.model, weight: 0) }
        let i = sorted.lastIndex { $0.macs < macs }!
        let (lo, hi) = (sorted[i], sorted[i + 1])
        let w = (log(Double(macs)) - log(Double(lo.macs))) / (log(Double(hi.macs)) - log(Double(lo.macs)))
        return .between(lower: lo.model, upper: hi.model, weight: w)
    }

    /// Seed by seed, the point's AP minus the curve's AP interpolated at its MACs:
    /// d_k = point_k - ((1 - w) lower_k + w upper_k), over the seeds every row with a non-zero weight has.
    /// The paired t-test on d_k then carries the seed spread of the point and of both neighbours.
    public static func curveComparison(point: [Int: Double], lower: [Int: Double], upper: [Int: Double],
                                       weight w: Double) -> PairedComparison {
        let seeds = point.keys.filter { (w == 1 || lower[$0] != nil) && (w == 0 || upper[$0] != nil) }.sorted()
        return PairedComparison(differences: seeds.map { k in
            let curve = w == 0 ? lower[k]! : w == 1 ? upper[k]! : (1 - w) * lower[k]! + w * upper[k]!
            return point[k]! - curve
        })
    }

    /// Seed by seed, the model's AP minus the median AP of `others` trained with that seed, over the seeds the
    /// model and every one of `others` have (a seed missing from any of them is dropped, not imputed).
    public static func medianComparison(model: [Int: Double], others: [[Int: Double]]) -> PairedComparison {
        let seeds = model.keys.filter { k in others.allSatisfy { $0[k] != nil } }.sorted()
        return PairedComparison(differences: seeds.map { k in
            let v = others.map { $0[k]! }.sorted()
            let median = v.count % 2 == 1 ? v[v.count / 2] : (v[v.count / 2 - 1] + v[v.count / 2]) / 2
            return model[k]! - median
        })
    }

    /// The rows of `family` in a table, with the MACs (trained size) of their current runs; rows without a
    /// current ok run have no MACs.
    func curve(_ family: Family, in table: AblationDefinition.TableDefinition) -> [(row: RowSummary, macs: Int?)] {
        table.rows.filter { facts[$0.model]?.family == family }.map(summary).map { r in
            (r, r.okRecords.first.map { $0.size.macs })
        }
    }

    public func claims(_ table: AblationDefinition.TableDefinition) -> [ClaimResult] {
        let rows = Dictionary(table.rows.map { ($0.model, summary($0)) }, uniquingKeysWith: { a, _ in a })
        var tests: [(claim: AblationDefinition.TableDefinition.Claim, point: CurvePoint?, comparison: PairedComparison, tested: Bool)] = []
        for claim in table.claims {
            switch claim {
            case let .better(better, worse):
                tests.append((claim, nil, PairedComparison(better: rows[better]?.apBySeed ?? [:], worse: rows[worse]?.apBySeed ?? [:]), true))
            case .notWorse:   // a classification claim (ClassificationTableWriter); refused in detection files on load
                tests.append((claim, nil, PairedComparison(differences: []), false))
            case let .curveAbove(family, against):
                let other = curve(against, in: table).compactMap { p in p.macs.map { (model: p.row.model, macs: $0) } }
                for (row, macs) in curve(family, in: table) {
                    let position = macs.map { Self.position(of: $0, on: other) } ?? .unplaced
                    var comparison = PairedComparison(differences: [])
                    if case let .between(lower, upper, w) = position {
                        comparison = Self.curveComparison(point: row.apBySeed, lower: rows[lower]?.apBySeed ?? [:],
                                                          upper: rows[upper]?.apBySeed ?? [:], weight: w)
                    }
                    let inRange: Bool
                    if case .between = position { inRange = true } else { inRange = false }
                    tests.append((claim, CurvePoint(model: row.model, macs: macs, position: position), comparison, inRange))
                }
            case let .aboveMedian(model, others):
                tests.append((claim, nil, Self.medianComparison(model: rows[model]?.apBySeed ?? [:],
                                                                others: others.map { rows[$0]?.apBySeed ?? [:] }), true))
            }
        }
        let adjusted = holmAdjusted(tests.map { $0.tested && $0.comparison.n >= 2 ? $0.comparison.pValue : nil })
        return zip(tests, adjusted).map { test, p in
            let c = test.comparison
            return ClaimResult(claim: test.claim, point: test.point, comparison: c, adjustedP: p,
                               verdict: Harness.verdict(meanDifference: c.meanDifference, adjustedP: p, n: c.n, alpha: Self.alpha))
        }
    }

    /// The smallest paired AP difference the table's seeds resolve with power 0.8 (two-sided, alpha 0.05,
    /// before Holm), from the root-mean-square sd of its claims' paired differences; nil under 2 seeds.
    public func resolvableDifference(_ table: AblationDefinition.TableDefinition) -> (difference: Double, seeds: Int)? {
        Self.resolvableDifference(claims(table).map(\.comparison))
    }

    /// The smallest paired difference `comparisons`' seeds resolve with power 0.8 (two-sided, alpha 0.05, before
    /// Holm), from the root-mean-square sd of their differences; nil under 2 seeds.
    static func resolvableDifference(_ comparisons: [PairedComparison]) -> (difference: Double, seeds: Int)? {
        let tested = comparisons.filter { $0.n >= 2 && $0.sd != nil }
        guard !tested.isEmpty else { return nil }
        let rms = (tested.map { $0.sd! * $0.sd! }.reduce(0, +) / Double(tested.count)).squareRoot()
        let n = tested.map(\.n).min()!
        return minimumDetectableDifference(sd: rms, n: n, alpha: Self.alpha, power: 0.8).map { ($0, n) }
    }

    // MARK: Markdown

    /// The title, where the numbers come from (records, code version, commits) and, with a reference, the
    /// table's own setting line; shared with the classification tables.
    func header(setting: (AblationDefinition.Profile) -> String) -> String {
        var out = "# \(definition.title)\n\n"
        out += "Profile `\(profile)`. Generated by `spinebench tables` from the records under "
        out += "`results/records/\(definition.name)/\(profile)/`; do not edit by hand.\n"
        if let (code, p) = reference {
            let dirty = current.contains { $0.provenance.dirty } ? " (some runs from a dirty tree)" : ""
            let commits = Set(current.map { String($0.provenance.commit.prefix(10)) }).sorted().map { "`\($0)`" }
            out += "Every number below is from one code version (source tree `\(code.prefix(10))`, commit(s) "
            out += "\(commits.joined(separator: ", ")))\(dirty) and one config (hash of each run in its record).\n"
            out += setting(p)
        }
        return out
    }

    /// The runs of other code or config that the table leaves out, if any.
    func staleNote() -> String {
        let stale = records.filter { r in r.status == .ok && !current.contains(r) }
        guard !stale.isEmpty else { return "" }
        let commits = Set(stale.map { String($0.provenance.commit.prefix(10)) }).sorted().joined(separator: ", ")
        return "\n**Stale runs left out** (\(stale.count), from commit(s) \(commits): other code or another config): "
            + "they are listed per row and take no part in any claim; `make ablation-\(definition.name) "
            + "PROFILE=\(profile)` re-runs them with this code.\n"
    }

    public func markdown() -> String {
        var out = header { p in
            var out = "Setting (from the records): input \(p.input), width \(p.scale), alpha \(p.alpha), endpoints \(p.endpoints), "
            out += "head \(p.headConvs)x\(p.headFilters), anchor size \(fixed(p.anchorSize, 1)) strides, "
            out += "\(p.epochs) epochs of \(p.dataset.train) images at batch \(p.batch) "
            out += "(\(p.epochs * (p.dataset.train / p.batch)) steps), LR \(p.learningRate) \(p.schedule.rawValue), "
            out += "dataset \(definition.dataset.kind) \(p.dataset.size) px (\(p.dataset.train) train / \(p.dataset.val) val), "
            out += "object sides \(p.dataset.minSide)-\(p.dataset.maxSide) px.\n"
            out += Self.levelsNote(p) + "\n"
            out += "Size classes: COCO's areas times (anchor size / 3)^2 = \(fixed(p.areaScale, 4)), i.e. small, medium and "
            out += "large sit where they sit in the paper's anchor pyramid.\n"
            return out
        }
        if let r = current.first {
            out += "Dataset checksum \(r.provenance.datasetChecksum) (\(r.provenance.datasetSource)).\n"
        }
        if let plateauNote { out += plateauNote + "\n" }
        out += staleNote()
        for table in definition.tables { out += "\n" + markdown(table) }
        out += "\nAP columns are ours, mean ± sample std over seeds (COCO-style, %). Params / MACs: trained size; "
        out += "in brackets at the paper's size (640 px unless marked @N, 91 classes, paper head). `reconstructed`: no published "
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
        out += "| model | arch | seeds | " + Self.metricColumns.map(\.rawValue).joined(separator: " | ")
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
            let at = facts[r.model].map { $0.paperInput == 640 ? "" : " @\($0.paperInput)" } ?? ""
            cells.append(rec.map { "\(billions($0.size.macs)) (\(billions($0.size.paperMacs))\(at))" } ?? "—")
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
        for case let .curveAbove(family, against) in table.claims {
            out += "\nHow \"\(family.label) curve above the \(against.label) curve\" is tested: for each \(family.label) row, the "
            out += "\(against.label) curve is interpolated at the row's multiply-adds (trained size), linearly in log MACs between "
            out += "the two \(against.label) rows that bracket it, seed by seed: d = AP - ((1 - w) AP(lower) + w AP(upper)), "
            out += "w = (ln M - ln M_lower) / (ln M_upper - ln M_lower). The paired t-test and 95% CI on the per-seed d (seeds "
            out += "all three rows have) carry the seed spread of the row and of both neighbours. Rows outside the "
            out += "\(against.label) MACs range get no verdict. Holm-adjusted with the table's other claims. Widths: the setting "
            out += "line gives SpineNet-49's; every model keeps its paper ratio to SpineNet-49's width, resampling alpha, endpoint "
            out += "and head widths, and its own block repeats or ResNet depth, at the profile's input size (docs/paper-facts.md §13).\n"
            let unknown = table.rows.filter { facts[$0.model] == nil }.map { summary($0).displayName }
            if !unknown.isEmpty {
                out += "No spec found for \(unknown.joined(separator: ", ")): on no curve.\n"
            }
        }
        return out + Self.resolvableNote(claims(table).map(\.comparison), what: "difference", unit: "AP")
    }

    /// The table's closing sentence on the smallest difference its seeds resolve (`resolvableDifference`).
    static func resolvableNote(_ comparisons: [PairedComparison], what: String, unit: String) -> String {
        guard let (d, n) = resolvableDifference(comparisons) else {
            return "\nWith fewer than 2 seeds per row no difference can be resolved: every claim is not tested.\n"
        }
        return "\nSmallest \(what) these \(n) seeds resolve (paired, power 0.8, two-sided alpha 0.05, before Holm): "
            + "\(fixed(d, 1)) \(unit).\n"
    }

    /// "A > B: supported (+3.2 AP, 95% CI [+1.1, +5.3], 3 paired seeds, p 0.004, Holm p 0.012)"; for a curve
    /// claim "A above the ResNet-FPN curve at 150.2M MACs (between B and C, w 0.42 on C in log MACs): ...".
    func line(_ result: ClaimResult, rows: [RowSummary]) -> String {
        let name = { (m: String) in rows.first { $0.model == m }?.displayName ?? m }
        let head: String
        let noSeed: String
        switch result.claim {
        case let .better(better, worse):
            head = "\(name(better)) > \(name(worse)):"
            noSeed = "no seed trained for both with this code and config"
        case let .aboveMedian(model, others):
            let means = ([model] + others).compactMap { m -> (String, Double)? in
                guard let mean = rows.first(where: { $0.model == m })?.metrics[.ap]?.mean, !mean.isNaN else { return nil }
                return (m, mean)
            }
            // A rank only when every row has a mean: "1 of 2" among six rows would say nothing.
            let rank = means.count == others.count + 1
                ? means.first { $0.0 == model }.map { mine in means.filter { $0.1 > mine.1 }.count + 1 } : nil
            let ranked = rank.map { ", mean AP ranks \($0) of \(means.count)" } ?? ""
            head = "\(name(model)) > median of \(others.count) (\(others.map(name).joined(separator: ", "))\(ranked)):"
            noSeed = "no seed trained for it and all of the others with this code and config"
        case .notWorse:
            return "not_worse: a classification claim, not tested on AP"
        case let .curveAbove(_, against):
            let point = result.point!
            let at = point.macs.map { " at \(billions($0)) MACs" } ?? ""
            let curve = "the \(against.label) curve"
            switch point.position {
            case let .between(lower, upper, w):
                let place = lower == upper ? "at \(name(lower))'s MACs"
                    : "between \(name(lower)) and \(name(upper)), w \(fixed(w, 2)) on \(name(upper)) in log MACs"
                head = "\(name(point.model)) above \(curve)\(at) (\(place)):"
                noSeed = "no seed trained for it and its neighbours with this code and config"
            case let .below(first):
                let m = rows.first { $0.model == first }?.okRecords.first.map { " (\(billions($0.size.macs)))" } ?? ""
                return "\(name(point.model)) above \(curve)\(at): outside the \(against.label) range (fewer MACs than "
                    + "\(name(first))\(m), the curve's smallest): no verdict"
            case let .above(last):
                let m = rows.first { $0.model == last }?.okRecords.first.map { " (\(billions($0.size.macs)))" } ?? ""
                return "\(name(point.model)) above \(curve)\(at): outside the \(against.label) range (more MACs than "
                    + "\(name(last))\(m), the curve's largest): no verdict"
            case .unplaced:
                return point.macs == nil
                    ? "\(name(point.model)) above \(curve): not tested (no run with this code and config)"
                    : "\(name(point.model)) above \(curve)\(at): not tested (\(curve) has no run with this code and config)"
            }
        }
        return Self.verdictLine(head: head, noSeed: noSeed, comparison: result.comparison, unit: "AP",
                                testedP: result.comparison.pValue, adjustedP: result.adjustedP, verdict: result.verdict)
    }

    /// "HEAD supported (+3.2 UNIT, 95% CI [+1.1, +5.3], 3 paired seeds, p 0.004, Holm p 0.012)", or why the claim is
    /// not tested. `testedP` is the p-value of the test actually made (it may test a shifted difference).
    static func verdictLine(head: String, noSeed: String, comparison c: PairedComparison, unit: String, testedP: Double?,
                            pLabel: String = "p", adjustedP: Double?, verdict: ClaimVerdict) -> String {
        switch c.n {
        case 0: return "\(head) not tested (\(noSeed))"
        case 1: return "\(head) not tested (\(signed(c.meanDifference)) \(unit) at one seed: no spread to judge)"
        default:
            var parts = ["\(signed(c.meanDifference)) \(unit)"]
            if let ci = c.confidenceInterval(level: 1 - alpha) {
                parts.append("95% CI [\(signed(ci.lower)), \(signed(ci.upper))]")
            }
            parts.append("\(c.n) paired seeds")
            if let p = testedP { parts.append("\(pLabel) \(pValueText(p))") }
            if let p = adjustedP { parts.append("Holm p \(pValueText(p))") }
            return "\(head) \(verdict.rawValue) (\(parts.joined(separator: ", ")))"
        }
    }

    // MARK: CSV

    public func csv() -> String {
        var header = ["table", "model", "display_name", "provenance", "seeds"]
        for m in Self.metricColumns { header += [m.rawValue + "_mean", m.rawValue + "_std"] }
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
            if let families = curveFamilies(table) {
                out += curvePanel(table, families: families, x0: x0, width: panelW, height: panelH, margin: margin)
                continue
            }
            let pts = table.rows.map(summary).compactMap { r -> (String, Double, Double, Double)? in
                guard let rec = r.okRecords.first, r.ap.count > 0 else { return nil }
                return (r.displayName, Double(rec.size.macs) / 1e6, r.ap.mean, r.ap.std ?? 0)
            }
            out += Self.pointPanel(title: table.title, points: pts, yLabel: "AP (%)", x0: x0, width: panelW, height: panelH,
                                   margin: margin)
        }
        return out + "</svg>\n"
    }

    /// One panel of named points (multiply-adds in millions, value, error half-width; no bar when 0) on linear axes,
    /// with its title and axis labels.
    static func pointPanel(title: String, points pts: [(String, Double, Double, Double)], yLabel: String, x0: Double,
                           width panelW: Double, height panelH: Double, margin: Double) -> String {
        let panel = SVGPanel(x0: x0, width: panelW, height: panelH, margin: margin, title: title,
                             xLabel: "multiply-adds (M, trained size)", yLabel: yLabel)
        let (left, right, top, bottom) = (panel.left, panel.right, panel.top, panel.bottom)
        var out = panel.frame
        guard !pts.isEmpty else { return out }
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
        return out
    }

    /// The families a table's curve claims compare, claim order, each once; nil without a curve claim.
    func curveFamilies(_ table: AblationDefinition.TableDefinition) -> [Family]? {
        var out: [Family] = []
        for case let .curveAbove(family, against) in table.claims {
            for f in [family, against] where !out.contains(f) { out.append(f) }
        }
        return out.isEmpty ? nil : out
    }

    /// AP against multiply-adds (trained size, log axis: the curve claims interpolate in log MACs), one curve
    /// per family, error bars the 95% CI of the mean over seeds (t, n - 1 df); rows of no curve are grey points.
    func curvePanel(_ table: AblationDefinition.TableDefinition, families: [Family], x0: Double, width panelW: Double,
                    height panelH: Double, margin: Double) -> String {
        let colours = ["#4477aa", "#cc6677", "#228833", "#aa7733"]
        struct Point { var name: String; var macs: Double; var ap: Double; var half: Double; var curve: Int? }
        let pts = table.rows.map(summary).compactMap { r -> Point? in
            guard let rec = r.okRecords.first, r.ap.count > 0, rec.size.macs > 0 else { return nil }
            var half = 0.0
            if let sd = r.ap.std, r.ap.count > 1 {
                half = StudentT.quantile(1 - Self.alpha / 2, df: Double(r.ap.count - 1)) * sd / Double(r.ap.count).squareRoot()
            }
            return Point(name: r.displayName, macs: Double(rec.size.macs) / 1e6, ap: r.ap.mean, half: half,
                         curve: facts[r.model].flatMap { f in families.firstIndex(of: f.family) })
        }
        let panel = SVGPanel(x0: x0, width: panelW, height: panelH, margin: margin, title: table.title,
                             xLabel: "multiply-adds (M, trained size, log scale)", yLabel: "AP (%), 95% CI over seeds")
        let (left, right, top, bottom) = (panel.left, panel.right, panel.top, panel.bottom)
        var out = panel.frame
        // Legend at the bottom right: both curves rise with MACs, so that corner is the emptiest.
        for (k, f) in families.enumerated() {
            let y = bottom - 10 - 14 * Double(families.count - 1 - k), x = right - 120
            out += "<line x1=\"\(x)\" y1=\"\(y)\" x2=\"\(x + 18)\" y2=\"\(y)\" stroke=\"\(colours[k % colours.count])\" stroke-width=\"2\"/>"
            out += "<text x=\"\(x + 22)\" y=\"\(y + 4)\">\(escape(f.label))</text>\n"
        }
        guard !pts.isEmpty else { return out }
        let xs = pts.map { log10($0.macs) }, ys = pts.flatMap { [$0.ap - $0.half, $0.ap + $0.half] }
        var (xmin, xmax) = padded(xs.min()!, xs.max()!)
        xmax += (xmax - xmin) * 0.12                              // room for the last point's label
        let (ymin, ymax) = padded(ys.min()!, ys.max()!)
        let sx = { (v: Double) in left + (log10(v) - xmin) / (xmax - xmin) * (right - left) }
        let sy = { (v: Double) in bottom - (v - ymin) / (ymax - ymin) * (bottom - top) }
        for t in 0...4 {
            let xv = pow(10, xmin + (xmax - xmin) * Double(t) / 4), yv = ymin + (ymax - ymin) * Double(t) / 4
            out += "<text x=\"\(sx(xv))\" y=\"\(bottom + 14)\" text-anchor=\"middle\">\(fixed(xv, xv < 10 ? 1 : 0))</text>"
            out += "<text x=\"\(left - 4)\" y=\"\(sy(yv) + 4)\" text-anchor=\"end\">\(fixed(yv, 1))</text>\n"
        }
        for k in families.indices {
            let line = pts.filter { $0.curve == k }.sorted { $0.macs < $1.macs }
            guard line.count > 1 else { continue }
            let coords = line.map { "\(sx($0.macs)),\(sy($0.ap))" }.joined(separator: " ")
            out += "<polyline points=\"\(coords)\" fill=\"none\" stroke=\"\(colours[k % colours.count])\" stroke-width=\"2\"/>\n"
        }
        for p in pts {
            let colour = p.curve.map { colours[$0 % colours.count] } ?? "#888888"
            if p.half > 0 {
                out += "<line x1=\"\(sx(p.macs))\" y1=\"\(sy(p.ap - p.half))\" x2=\"\(sx(p.macs))\" y2=\"\(sy(p.ap + p.half))\" stroke=\"\(colour)\"/>"
            }
            out += "<circle cx=\"\(sx(p.macs))\" cy=\"\(sy(p.ap))\" r=\"4\" fill=\"\(colour)\"/>"
            out += "<text x=\"\(sx(p.macs) + 6)\" y=\"\(sy(p.ap) - 6)\">\(escape(p.name))</text>\n"
        }
        return out
    }
}

func signed(_ x: Double) -> String { (x >= 0 ? "+" : "") + fixed(x, 1) }
func pValueText(_ p: Double) -> String { p < 0.001 ? "< 0.001" : fixed(p, 3) }
func millions(_ n: Int) -> String { fixed(Double(n) / 1e6, 2) + "M" }
func billions(_ n: Int) -> String {
    n >= 1_000_000_000 ? fixed(Double(n) / 1e9, 2) + "B" : fixed(Double(n) / 1e6, 1) + "M"
}
