import Common
import Foundation
import Models

/// The tables of a classification ablation (`task: classification`): per table (one dataset each), top-1 and
/// top-5 over seeds beside the paper's, params and multiply-adds, and the claims tested on top-1, paired by seed
/// and Holm-adjusted within the table, as the detection tables do (`TableWriter`, whose choice of code version,
/// config and stale runs this shares).
public struct ClassificationTableWriter {
    public static let metricColumns = Metric.classification

    /// The detection writer over the same records: it picks the code version and config the table stands on.
    let base: TableWriter
    public var definition: AblationDefinition { base.definition }
    public var profile: String { base.profile }

    public init(definition: AblationDefinition, profile: String, records: [ResultRecord]) {
        base = TableWriter(definition: definition, profile: profile, records: records)
    }

    /// One row: a model on its table's dataset, over seeds.
    public struct Row {
        public var model: String
        public var displayName: String
        public var okRecords: [ResultRecord]
        public var stale: [ResultRecord]
        public var failures: [String]
        public var metrics: [Metric: SeedSummary]
        public var definition: AblationDefinition.TableDefinition.Row

        /// Top-1 by seed, the unit claims are paired on.
        public var top1BySeed: [Int: Double] {
            Dictionary(okRecords.compactMap { r in r.metrics[.top1].map { (r.seed, $0) } }, uniquingKeysWith: { a, _ in a })
        }
    }

    public func summary(_ row: AblationDefinition.TableDefinition.Row, in table: AblationDefinition.TableDefinition) -> Row {
        let kind = definition.dataset(of: table).kind
        let mine = { (r: ResultRecord) in r.model == row.model && r.config.datasetKind == kind }
        let current = base.current.filter(mine).sorted { $0.seed < $1.seed }
        let ok = current.filter { $0.status == .ok }
        let stale = base.records.filter { mine($0) && $0.status == .ok && !ok.contains($0) }
        var metrics: [Metric: SeedSummary] = [:]
        for key in Self.metricColumns { metrics[key] = SeedSummary(ok.compactMap { $0.metrics[key] }) }
        let any = current.first ?? stale.first
        return Row(model: row.model, displayName: row.label ?? any?.architecture.displayName ?? row.model, okRecords: ok,
                   stale: stale, failures: current.filter { $0.status != .ok }.map { "seed \($0.seed): \($0.failure ?? "failed")" },
                   metrics: metrics, definition: row)
    }

    public struct ClaimResult {
        public var claim: AblationDefinition.TableDefinition.Claim
        /// Paired top-1 differences (A - B) by seed.
        public var comparison: PairedComparison
        /// The test's own differences: A - B, or A - B + margin for a non-inferiority claim.
        public var tested: PairedComparison
        public var adjustedP: Double?
        public var verdict: ClaimVerdict
    }

    public func claims(_ table: AblationDefinition.TableDefinition) -> [ClaimResult] {
        let rows = Dictionary(table.rows.map { ($0.model, summary($0, in: table)) }, uniquingKeysWith: { a, _ in a })
        let tests: [(AblationDefinition.TableDefinition.Claim, PairedComparison, PairedComparison)] = table.claims.map { claim in
            switch claim {
            case let .better(a, b):
                let c = PairedComparison(better: rows[a]?.top1BySeed ?? [:], worse: rows[b]?.top1BySeed ?? [:])
                return (claim, c, c)
            case let .notWorse(a, b, margin):
                let c = PairedComparison(better: rows[a]?.top1BySeed ?? [:], worse: rows[b]?.top1BySeed ?? [:])
                return (claim, c, PairedComparison(differences: c.differences.map { $0 + margin }))
            case .curveAbove, .aboveMedian:   // refused for classification files when they load (AblationDefinition.checkTask)
                return (claim, PairedComparison(differences: []), PairedComparison(differences: []))
            }
        }
        let adjusted = holmAdjusted(tests.map { $0.2.n >= 2 ? $0.2.pValue : nil })
        return zip(tests, adjusted).map { test, p in
            ClaimResult(claim: test.0, comparison: test.1, tested: test.2, adjustedP: p,
                        verdict: verdict(meanDifference: test.2.meanDifference, adjustedP: p, n: test.2.n,
                                         alpha: TableWriter.alpha))
        }
    }

    // MARK: Markdown

    public func markdown() -> String {
        var out = base.header { p in
            "Setting (from the records): input \(p.input) px, width \(p.scale), alpha \(p.alpha), endpoints \(p.endpoints), "
                + "\(p.epochs) epochs of \(p.dataset.train) images at batch \(p.batch) (\(p.epochs * (p.dataset.train / p.batch)) steps), "
                + "LR \(p.learningRate) \(p.schedule.rawValue) after a \(fixed(100 * p.warmupFraction, 0))% warmup, "
                + "label smoothing \(p.labelSmoothing.map { fixed($0, 2) } ?? "—"), weight decay \(p.weightDecay), "
                + "flips \(p.flipProbability), scale jitter \(p.scaleJitter.map { fixed($0, 2) }.joined(separator: "-")), "
                + "evaluation BN statistics: \(p.evalBatchNorm.rawValue).\n"
        }
        if let p = base.reference?.profile, let decisive = definition.profiles["paper"], p.epochs != decisive.epochs {
            out += "Training length: \(p.epochs) epochs, against the decisive profile's \(decisive.epochs); no calibration "
            out += "study covers classification, so how close this length comes to the decisive one is unknown and its "
            out += "verdicts are previews.\n"
        }
        out += base.staleNote()
        for table in definition.tables { out += "\n" + markdown(table) }
        out += "\nTop-1 / top-5: our val-split accuracy (%), mean ± sample std over seeds; loss: the val split's mean "
        out += "cross-entropy without smoothing. Params / MACs: trained size; in brackets the paper's ImageNet setting "
        out += "(224 px, 1000 classes, the classification head of docs/paper-facts.md §14). Paper columns: the paper's "
        out += "ImageNet or iNaturalist-2017 figures for the model (docs/paper-facts.md §14; `*`: UNVERIFIED against the PDF); "
        out += "our datasets are small stand-ins, so only the direction and size of the differences compare.\n"
        out += "Claims: the seed is the unit and runs are paired by seed (same initial-weight stream and data order); "
        out += "a paired t-test on the per-seed top-1 differences, 95% CI of the mean difference, p two-sided and "
        out += "Holm-adjusted over the table's claims. \"A not worse than B by more than M\" (the paper's parity at "
        out += "fewer FLOPs, as a non-inferiority claim) tests A - B + M: supported when the 95% CI of A - B lies above "
        out += "-M, contradicted when it lies below -M, inconclusive otherwise. Not tested under 2 seeds.\n"
        return out
    }

    func markdown(_ table: AblationDefinition.TableDefinition) -> String {
        let rows = table.rows.map { summary($0, in: table) }
        let baseRow = rows.first { $0.model == table.baseline }
        let choice = definition.dataset(of: table)
        var out = "## \(table.title)\n\n"
        let marks = choice.markContrast.map { ", mark contrast \($0)" } ?? ""
        if let r = rows.lazy.flatMap({ $0.okRecords }).first {
            out += "Dataset `\(choice.kind)` (seed \(choice.seed)\(marks)): \(r.training.trainImages) train / \(r.training.valImages) val "
            out += "images, checksum \(r.provenance.datasetChecksum) (\(r.provenance.datasetSource)).\n\n"
        } else {
            out += "Dataset `\(choice.kind)` (seed \(choice.seed)\(marks)).\n\n"
        }
        out += "| model | seeds | top-1 | top-5 | loss | params | MACs | paper top-1 | paper top-5 | Δ top-1 (ours) | Δ top-1 (paper) |\n"
        out += "|---|---|---|---|---|---|---|---|---|---|---|\n"
        for r in rows {
            let rec = r.okRecords.first ?? r.stale.first
            var cells = [r.displayName, "\(r.okRecords.count)"]
            if r.okRecords.isEmpty {
                var why = r.failures.isEmpty ? "not run" : r.failures.joined(separator: "; ")
                if !r.stale.isEmpty { why += " (\(r.stale.count) stale)" }
                cells += [why, "—", "—"]
            } else {
                if !r.stale.isEmpty { cells[1] += " (+\(r.stale.count) stale)" }
                cells += [r.metrics[.top1]!.formatted(), r.metrics[.top5]!.formatted(), r.metrics[.loss]!.formatted(3)]
            }
            cells.append(rec.map { "\(millions($0.size.params)) (\(millions($0.size.paperParams)))" } ?? "—")
            cells.append(rec.map { "\(billions($0.size.macs)) (\(billions($0.size.paperMacs)))" } ?? "—")
            let star = r.definition.paperUnverified == true ? "*" : ""
            cells.append(r.definition.paperTop1.map { fixed($0, 1) + star } ?? "—")
            cells.append(r.definition.paperTop5.map { fixed($0, 1) + star } ?? "—")
            let isBase = r.model == table.baseline
            if let b = baseRow, !isBase, !r.okRecords.isEmpty, !b.okRecords.isEmpty {
                cells.append(signed(r.metrics[.top1]!.mean - b.metrics[.top1]!.mean))
            } else { cells.append(isBase ? "baseline" : "—") }
            if let p = r.definition.paperTop1, let bp = baseRow?.definition.paperTop1, !isBase {
                cells.append(signed(p - bp))
            } else { cells.append(isBase ? "baseline" : "—") }
            out += "| " + cells.joined(separator: " | ") + " |\n"
        }
        out += "\nClaims of the paper, checked against our numbers:\n\n"
        for result in claims(table) { out += "- " + line(result, rows: rows) + "\n" }
        return out + TableWriter.resolvableNote(claims(table).map(\.comparison), what: "top-1 difference", unit: "points")
    }

    /// "SpineNet-49 > ResNet-50 (top-1): supported (+3.2 points, 95% CI [+1.1, +5.3], 3 paired seeds, p 0.004, Holm p 0.012)".
    func line(_ result: ClaimResult, rows: [Row]) -> String {
        let name = { (m: String) in rows.first { $0.model == m }?.displayName ?? m }
        let head: String
        switch result.claim {
        case let .better(a, b): head = "\(name(a)) > \(name(b)) (top-1):"
        case let .notWorse(a, b, m): head = "\(name(a)) not worse than \(name(b)) by more than \(fixed(m, 1)) top-1 points:"
        case .curveAbove, .aboveMedian: return "\(result.claim): not a classification claim"
        }
        var pLabel = "p"
        if case let .notWorse(_, _, m) = result.claim { pLabel = "p of difference + \(fixed(m, 1))" }
        return TableWriter.verdictLine(head: head, noSeed: "no seed trained for both with this code and config",
                                       comparison: result.comparison, unit: "points", testedP: result.tested.pValue,
                                       pLabel: pLabel, adjustedP: result.adjustedP, verdict: result.verdict)
    }

    // MARK: CSV

    public func csv() -> String {
        var header = ["table", "dataset", "model", "display_name", "seeds"]
        for m in Self.metricColumns { header += [m.rawValue + "_mean", m.rawValue + "_std"] }
        header += ["params", "macs", "paper_params", "paper_macs", "paper_top1", "paper_top5", "delta_top1", "paper_delta_top1",
                   "failures"]
        var out = header.joined(separator: ",") + "\n"
        for table in definition.tables {
            let rows = table.rows.map { summary($0, in: table) }
            let b = rows.first { $0.model == table.baseline }
            for r in rows {
                let rec = r.okRecords.first
                var cells = [table.id, definition.dataset(of: table).kind, r.model, r.displayName, "\(r.okRecords.count)"]
                for m in Self.metricColumns {
                    let s = r.metrics[m]!
                    cells += [s.count > 0 ? fixed(s.mean, 3) : "", s.std.map { fixed($0, 3) } ?? ""]
                }
                cells += [rec.map { "\($0.size.params)" } ?? "", rec.map { "\($0.size.macs)" } ?? "",
                          rec.map { "\($0.size.paperParams)" } ?? "", rec.map { "\($0.size.paperMacs)" } ?? "",
                          r.definition.paperTop1.map { fixed($0, 1) } ?? "", r.definition.paperTop5.map { fixed($0, 1) } ?? ""]
                let top1 = r.metrics[.top1]!, bt = b?.metrics[.top1]
                cells.append(top1.count > 0 && (bt?.count ?? 0) > 0 ? fixed(top1.mean - bt!.mean, 3) : "")
                let pd = r.definition.paperTop1.flatMap { p in b?.definition.paperTop1.map { p - $0 } }
                cells += [pd.map { fixed($0, 1) } ?? "", "\"" + r.failures.joined(separator: "; ") + "\""]
                out += cells.joined(separator: ",") + "\n"
            }
        }
        return out
    }

    // MARK: SVG

    /// Top-1 against multiply-adds (trained size), one panel per table, 95% CI bars over seeds.
    public func svg() -> String {
        let panelW = 460.0, panelH = 320.0
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(panelW * Double(definition.tables.count)))\" "
        out += "height=\"\(Int(panelH))\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        for (i, table) in definition.tables.enumerated() {
            let pts = table.rows.map { summary($0, in: table) }.compactMap { r -> (String, Double, Double, Double)? in
                let s = r.metrics[.top1]!
                guard let rec = r.okRecords.first, s.count > 0 else { return nil }
                var half = 0.0
                if let sd = s.std, s.count > 1 {
                    half = StudentT.quantile(1 - TableWriter.alpha / 2, df: Double(s.count - 1)) * sd / Double(s.count).squareRoot()
                }
                return (r.displayName, Double(rec.size.macs) / 1e6, s.mean, half)
            }
            out += TableWriter.pointPanel(title: table.title, points: pts, yLabel: "top-1 (%), 95% CI over seeds",
                                          x0: Double(i) * panelW, width: panelW, height: panelH, margin: 56)
        }
        return out + "</svg>\n"
    }
}
