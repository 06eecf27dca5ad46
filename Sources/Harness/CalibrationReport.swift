import Common
import Foundation

/// The calibration study (ablations/calibration.yaml): AP against training length and learning rate, read
/// from records alone, so the choice of the ablations' decisive length can be regenerated and checked.
/// A point is (model, epochs, learning rate), taken from each record's own config, not from the file's
/// profile names, so renamed or added profiles still land on the right point.
public struct CalibrationStudy {
    /// The decisive-length rule: a length is long enough when doubling it gains at most this much AP.
    public static let gainThreshold = 1.0

    public let ablation: String
    /// The ok records, one per (point, seed).
    public let records: [ResultRecord]
    /// Records of runs that failed (diverged...), listed in the report so a missing point is explained.
    public let failures: [ResultRecord]

    struct Point: Hashable {
        var model: String
        var epochs: Int
        var learningRate: Double
    }

    private let bySeed: [Point: [Int: ResultRecord]]

    public init(records: [ResultRecord], ablation: String = "calibration") {
        self.ablation = ablation
        let mine = records.filter { $0.ablation == ablation }
            .sorted { ($0.profile, $0.model, $0.seed) < ($1.profile, $1.model, $1.seed) }
        var bySeed: [Point: [Int: ResultRecord]] = [:]
        var kept: [ResultRecord] = []
        for r in mine where r.status == .ok {
            let p = Point(model: r.model, epochs: r.config.profile.epochs, learningRate: r.config.profile.learningRate)
            // Two profiles with the same length and rate would count a seed twice: the first profile wins.
            guard bySeed[p, default: [:]][r.seed] == nil else { continue }
            bySeed[p, default: [:]][r.seed] = r
            kept.append(r)
        }
        self.bySeed = bySeed
        self.records = kept
        failures = mine.filter { $0.status != .ok }
    }

    /// Whether there is anything to report (ok or failed runs).
    public var isEmpty: Bool { records.isEmpty && failures.isEmpty }

    public var models: [String] { Set(bySeed.keys.map(\.model)).sorted() }

    public var learningRates: [Double] { Set(bySeed.keys.map(\.learningRate)).sorted() }

    /// Lengths (epochs) with at least one ok run at this rate, ascending.
    public func lengths(learningRate: Double) -> [Int] {
        Set(bySeed.keys.filter { $0.learningRate == learningRate }.map(\.epochs)).sorted()
    }

    /// The rate of the length sweep: the one with the most lengths (ties: the most runs, then the lower rate).
    public var baseLearningRate: Double? {
        learningRates.max { a, b in
            let ka = (lengths(learningRate: a).count, records.filter { $0.config.profile.learningRate == a }.count, -a)
            let kb = (lengths(learningRate: b).count, records.filter { $0.config.profile.learningRate == b }.count, -b)
            return ka < kb
        }
    }

    /// The lengths with a learning-rate sweep (two rates or more), shortest first.
    public var sweepLengths: [Int] {
        Set(bySeed.keys.map(\.epochs)).filter { e in Set(bySeed.keys.filter { $0.epochs == e }.map(\.learningRate)).count > 1 }
            .sorted()
    }

    public func displayName(_ model: String) -> String {
        records.first { $0.model == model }?.architecture.displayName ?? model
    }

    /// AP (percent) by seed at one point.
    public func apBySeed(model: String, epochs: Int, learningRate: Double) -> [Int: Double] {
        let runs = bySeed[Point(model: model, epochs: epochs, learningRate: learningRate)] ?? [:]
        return runs.compactMapValues { $0.metrics[.ap] }
    }

    /// AP over seeds at one point; nil when the point has no ok run.
    public func ap(model: String, epochs: Int, learningRate: Double) -> SeedSummary? {
        let values = apBySeed(model: model, epochs: epochs, learningRate: learningRate).sorted { $0.key < $1.key }.map(\.value)
        return values.isEmpty ? nil : SeedSummary(values)
    }

    func runs(model: String, epochs: Int, learningRate: Double) -> [ResultRecord] {
        (bySeed[Point(model: model, epochs: epochs, learningRate: learningRate)] ?? [:]).sorted { $0.key < $1.key }.map(\.value)
    }

    /// How much of the reference length's AP a shorter length reaches: mean AP ratio per model, averaged over the
    /// models that have both points (what a table header quotes for its quick profile).
    public func plateauFraction(epochs: Int, reference: Int, learningRate: Double) -> Double? {
        let ratios = models.compactMap { m -> Double? in
            guard let a = ap(model: m, epochs: epochs, learningRate: learningRate),
                  let r = ap(model: m, epochs: reference, learningRate: learningRate), r.mean > 0 else { return nil }
            return a.mean / r.mean
        }
        return ratios.isEmpty ? nil : ratios.reduce(0, +) / Double(ratios.count)
    }

    /// Mean AP(2L) - mean AP(L) for one model; nil when either point is missing.
    public func gain(model: String, from epochs: Int, learningRate: Double) -> Double? {
        guard let a = ap(model: model, epochs: epochs, learningRate: learningRate),
              let b = ap(model: model, epochs: 2 * epochs, learningRate: learningRate) else { return nil }
        return b.mean - a.mean
    }

    /// The doubling's gain paired by seed (seeds both lengths have), for its confidence interval.
    public func pairedGain(model: String, from epochs: Int, learningRate: Double) -> PairedComparison {
        PairedComparison(better: apBySeed(model: model, epochs: 2 * epochs, learningRate: learningRate),
                         worse: apBySeed(model: model, epochs: epochs, learningRate: learningRate))
    }

    /// Models with any ok run at this rate: the rule must hold for each of them.
    func models(learningRate: Double) -> [String] {
        Set(bySeed.keys.filter { $0.learningRate == learningRate }.map(\.model)).sorted()
    }

    /// Whether length L passes the rule at this rate: every model has L and 2L, and gains at most 1 AP.
    func meetsRule(_ epochs: Int, learningRate: Double) -> Bool {
        let ms = models(learningRate: learningRate)
        return !ms.isEmpty && ms.allSatisfy { m in
            gain(model: m, from: epochs, learningRate: learningRate).map { $0 <= Self.gainThreshold } ?? false
        }
    }

    /// The decisive length: the shortest L whose run twice as long gains at most 1 AP for every model (a model
    /// still climbing would make the ablation compare how fast models learn, not where they end up).
    /// nil when no length qualifies yet.
    public func chosenLength(learningRate: Double) -> Int? {
        lengths(learningRate: learningRate).first { meetsRule($0, learningRate: learningRate) }
    }

    // MARK: Markdown

    public func markdown() -> String {
        var out = "# Calibration: AP against training length and learning rate\n\n"
        out += "Generated by `spinebench calibrate` (or `spinebench tables`) from the records under "
        out += "`results/records/\(ablation)/`; do not edit by hand. \(records.count) ok run(s)"
        out += failures.isEmpty ? ".\n" : ", \(failures.count) failed.\n"
        let all = records + failures
        let commits = Set(all.map { String($0.provenance.commit.prefix(10)) + ($0.provenance.dirty ? "+dirty" : "") })
        if !commits.isEmpty { out += "Commits: \(commits.sorted().joined(separator: ", ")).\n" }
        guard let first = records.first, let base = baseLearningRate else {
            out += "\nNo ok calibration run yet: nothing to choose from.\n"
            return out + failureSection()
        }
        let p = first.config.profile
        out += "Dataset: \(first.config.datasetKind) (seed \(first.config.datasetSeed)), \(p.dataset.size) px, "
        out += "\(p.dataset.train) train / \(p.dataset.val) val images, up to \(p.dataset.maxObjects) objects of side "
        out += "\(p.dataset.minSide)-\(p.dataset.maxSide) px; checksum \(first.provenance.datasetChecksum).\n"
        out += "Recipe fixed across points (from the records' configs): \(recipe(p)). "
        out += "Varied: epochs and learning rate.\n"
        let variants = Dictionary(grouping: records) { recipeKey($0.config.profile) }
        if variants.count > 1 {
            let names = variants.values.map { Set($0.map(\.profile)).sorted().joined(separator: ", ") }.sorted()
            out += "\n**Warning:** the records do not share one recipe beyond epochs and learning rate "
            out += "(\(variants.count) variants: \(names.map { "[\($0)]" }.joined(separator: " "))); "
            out += "their points are not comparable. Retrain the stale profiles.\n"
        }
        let threads = Set(records.map(\.provenance.threads)).sorted().map(String.init).joined(separator: "/")
        out += "\n## AP against training length (learning rate \(rate(base)))\n\n"
        out += "AP: COCO box AP (%), mean ± sample sd over seeds. Train minutes: wall-clock per run "
        out += "(\(threads) thread(s) per run), excluding evaluation.\n\n"
        out += "| model | epochs | steps | images seen | AP | seeds | train min/run |\n|---|---|---|---|---|---|---|\n"
        for m in models(learningRate: base) {
            for e in lengths(learningRate: base) {
                let runs = runs(model: m, epochs: e, learningRate: base)
                guard let s = ap(model: m, epochs: e, learningRate: base), let r = runs.first else { continue }
                // a run resumed from a checkpoint (re-scored, or finished after an interruption) timed only its last part
                let whole = runs.filter { $0.training.resumedFromEpoch == 0 }
                let minutes = whole.isEmpty ? "— (resumed)"
                    : fixed(whole.map(\.measured.trainSeconds).reduce(0, +) / Double(whole.count) / 60, 1)
                out += "| \(displayName(m)) | \(e) | \(r.training.steps) | \(r.training.steps * r.training.batch) | "
                out += "\(s.formatted()) | \(s.count) | \(minutes) |\n"
            }
        }
        out += gainSection(base)
        out += rateSection()
        out += choiceSection(base)
        return out + failureSection()
    }

    func gainSection(_ base: Double) -> String {
        let lens = lengths(learningRate: base)
        let pairs = lens.filter { lens.contains(2 * $0) }
        guard !pairs.isEmpty else { return "\n## Gain from doubling the length\n\nNo length has its double yet.\n" }
        var out = "\n## Gain from doubling the length\n\n"
        out += "Δ AP: mean AP at 2L minus mean AP at L (the quantity the rule below tests). The 95% interval pairs "
        out += "runs by seed (same initial weights and data order) and needs two seeds both lengths have.\n\n"
        out += "| model | L → 2L | Δ AP | 95% CI (paired) | common seeds |\n|---|---|---|---|---|\n"
        for m in models(learningRate: base) {
            for e in pairs {
                guard let g = gain(model: m, from: e, learningRate: base) else { continue }
                let paired = pairedGain(model: m, from: e, learningRate: base)
                let ci = paired.n >= 2 ? paired.confidenceInterval().map { "[\(signedAP($0.lower)), \(signedAP($0.upper))]" } : nil
                out += "| \(displayName(m)) | \(e) → \(2 * e) | \(signedAP(g)) | \(ci ?? "— (needs 2 seeds)") | \(paired.n) |\n"
            }
        }
        return out
    }

    /// One table per length that has two rates or more.
    func rateSection() -> String {
        guard !sweepLengths.isEmpty else { return "\n## Learning rate\n\nNo learning-rate sweep yet (no length has two rates).\n" }
        return sweepLengths.map(rateTable).joined()
    }

    func rateTable(_ length: Int) -> String {
        let rates = learningRates.filter { r in models.contains { ap(model: $0, epochs: length, learningRate: r) != nil } }
        var out = "\n## Learning rate at \(length) epochs\n\n"
        out += "AP (%), mean ± sd (seeds).\n\n"
        out += "| model | " + rates.map(rate).joined(separator: " | ") + " | best |\n"
        out += "|---|" + String(repeating: "---|", count: rates.count + 1) + "\n"
        for m in models {
            let cells = rates.map { r in ap(model: m, epochs: length, learningRate: r).map { "\($0.formatted()) (\($0.count))" } ?? "—" }
            let best = rates.compactMap { r in ap(model: m, epochs: length, learningRate: r).map { (r, $0.mean) } }
                .max { $0.1 < $1.1 }.map { rate($0.0) } ?? "—"
            out += "| \(displayName(m)) | " + cells.joined(separator: " | ") + " | \(best) |\n"
        }
        return out
    }

    func choiceSection(_ base: Double) -> String {
        var out = "\n## Choice\n\n"
        out += "Rule: the decisive length is the shortest L (at learning rate \(rate(base))) such that, for every model, "
        out += "a run of 2L epochs exists and its mean AP is within \(fixed(Self.gainThreshold, 1)) AP of L's.\n\n"
        let lens = lengths(learningRate: base)
        let ms = models(learningRate: base)
        if let chosen = chosenLength(learningRate: base) {
            let gains = ms.map { "\(displayName($0)) \(signedAP(gain(model: $0, from: chosen, learningRate: base)!))" }
            out += "Chosen length: **\(chosen) epochs** (doubling to \(2 * chosen) gains \(gains.joined(separator: ", ")) AP).\n"
            let thin = ms.flatMap { m in [chosen, 2 * chosen].compactMap { e -> String? in
                let n = ap(model: m, epochs: e, learningRate: base)?.count ?? 0
                return n < 2 ? "\(displayName(m)) at \(e) epochs" : nil
            } }
            if !thin.isEmpty {
                out += "\nThe data do not yet settle this choice: one seed only for \(thin.joined(separator: ", ")), so the "
                out += "gain has no spread to judge it against; train more seeds of those points before relying on it.\n"
            }
            let later = lens.filter { $0 > chosen && lens.contains(2 * $0) && !meetsRule($0, learningRate: base) }
            for e in later {
                let over = ms.compactMap { m in gain(model: m, from: e, learningRate: base).flatMap {
                    $0 > Self.gainThreshold ? "\(displayName(m)) \(signedAP($0))" : nil } }
                if !over.isEmpty {
                    out += "\nCaution: from \(e) to \(2 * e) epochs AP still rises by more than \(fixed(Self.gainThreshold, 1)): "
                    out += "\(over.joined(separator: ", ")).\n"
                }
            }
            out += fractions(below: chosen, base: base, label: "the chosen length")
        } else {
            out += "**No length can be chosen yet.**\n\n"
            for e in lens {
                guard lens.contains(2 * e) else {
                    out += "- \(epochsText(e)): no run of \(2 * e) epochs yet.\n"
                    continue
                }
                let reasons = ms.map { m -> String in
                    guard let g = gain(model: m, from: e, learningRate: base) else {
                        return "\(displayName(m)) lacks \(ap(model: m, epochs: e, learningRate: base) == nil ? e : 2 * e) epochs"
                    }
                    return "\(displayName(m)) \(signedAP(g)) AP"
                }
                out += "- \(e) → \(2 * e) epochs: \(reasons.joined(separator: "; ")).\n"
            }
            if let longest = lens.last, let s = ms.compactMap({ ap(model: $0, epochs: longest, learningRate: base) }).min(by: { $0.count < $1.count }),
               s.count < 2 {
                out += "\nThe longest length so far (\(longest) epochs) has one seed: its AP has no spread to judge a gain against.\n"
            }
            if let longest = lens.last { out += fractions(below: longest, base: base, label: "the longest length so far") }
        }
        return out
    }

    /// "1 epoch reaches 45% of the 8-epoch AP": what a shorter (quick) profile keeps of the reference.
    func fractions(below reference: Int, base: Double, label: String) -> String {
        let shorter = lengths(learningRate: base).filter { $0 < reference }
        guard !shorter.isEmpty else { return "" }
        var out = "\nShare of the \(reference)-epoch AP (\(label)) that each shorter length reaches "
        out += "(mean over models of mean AP ratios):\n\n"
        for e in shorter {
            guard let f = plateauFraction(epochs: e, reference: reference, learningRate: base) else { continue }
            let per = models(learningRate: base).compactMap { m -> String? in
                guard let a = ap(model: m, epochs: e, learningRate: base), let r = ap(model: m, epochs: reference, learningRate: base),
                      r.mean > 0 else { return nil }
                return "\(displayName(m)) \(fixed(100 * a.mean / r.mean, 0))%"
            }
            out += "- \(epochsText(e)): \(fixed(100 * f, 0))% (\(per.joined(separator: ", ")))\n"
        }
        return out
    }

    func failureSection() -> String {
        guard !failures.isEmpty else { return "" }
        var out = "\n## Failed runs\n\n"
        for r in failures {
            out += "- \(r.profile) \(displayName(r.model)) seed \(r.seed): \(r.failure ?? "failed")\n"
        }
        return out
    }

    func recipe(_ p: AblationDefinition.Profile) -> String {
        let schedule = p.schedule == .step
            ? "step schedule (x0.1 at " + p.decayPoints.map { fixed(100 * $0, 0) + "%" }.joined(separator: ", ") + " of training)"
            : "cosine schedule to zero"
        return "input \(p.input) px, width \(p.scale), alpha \(p.alpha), endpoints \(p.endpoints), "
            + "head \(p.headConvs)x\(p.headFilters), anchor size \(compact(p.anchorSize)), batch \(p.batch), "
            + "\(p.dataset.train) train images per epoch, \(schedule), warmup \(fixed(100 * p.warmupFraction, 0))% from "
            + "\(p.warmupStart)x, momentum \(p.momentum), weight decay \(p.weightDecay), "
            + "clip norm \(p.clipNorm.map(compact) ?? "none"), focal α \(p.focalAlpha) γ \(p.focalGamma), "
            + "box weight \(compact(p.boxWeight)), flip \(p.flipProbability), scale jitter \(p.scaleJitter.map(compact).joined(separator: "-"))"
    }

    /// The profile without what the calibration varies (and the seed count, which does not change a run).
    func recipeKey(_ p: AblationDefinition.Profile) -> AblationDefinition.Profile {
        var p = p
        p.epochs = 0
        p.learningRate = 0
        p.seeds = 0
        return p
    }

    // MARK: SVG

    static let palette = ["#4477aa", "#ee6677", "#228833", "#ccbb44", "#66ccee", "#aa3377", "#bbbbbb"]

    /// Left: AP against epochs (log2 axis) at the base rate, a line per model with sd bars. Right: training loss
    /// against step, every run of the longest length and seed 0 of each shorter one, lighter for shorter.
    public func svg() -> String {
        let panelW = 460.0, panelH = 320.0, legendH = 44.0
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(2 * panelW))\" height=\"\(Int(panelH + legendH))\" "
        out += "font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        guard let base = baseLearningRate else {
            out += "<text x=\"\(panelW)\" y=\"\(panelH / 2)\" text-anchor=\"middle\">no ok calibration run yet</text>\n"
            return out + "</svg>\n"
        }
        let ms = models
        let colour = { (m: String) in Self.palette[(ms.firstIndex(of: m) ?? 0) % Self.palette.count] }
        let lens = lengths(learningRate: base)
        /// Longest length at full colour, the shortest mixed 70% towards white.
        let shade = { (m: String, e: Int) -> String in
            let rank = lens.firstIndex(of: e) ?? lens.count - 1
            let t = lens.count > 1 ? 0.7 * Double(lens.count - 1 - rank) / Double(lens.count - 1) : 0
            return Self.lighter(colour(m), t)
        }

        // Left panel: AP against log2(epochs).
        let frame = { (x0: Double, title: String, xLabel: String, yLabel: String) -> String in
            SVGPanel(x0: x0, width: panelW, height: panelH, margin: 56, title: title, xLabel: xLabel, yLabel: yLabel).frame
        }
        let (left, right, top, bottom) = (56.0, panelW - 16, 30.0, panelH - 40)
        out += frame(0, "AP against training length (lr \(rate(base)))", "epochs (log2 scale)", "AP (%)")
        let pts = ms.flatMap { m in lens.compactMap { e in ap(model: m, epochs: e, learningRate: base).map { (m, e, $0) } } }
        if !pts.isEmpty {
            let xs = lens.map { log2(Double($0)) }
            let ys = pts.flatMap { [$0.2.mean - ($0.2.std ?? 0), $0.2.mean + ($0.2.std ?? 0)] }
            let (xmin, xmax) = xs.count > 1 ? (xs.first! - 0.3, xs.last! + 0.3) : (xs[0] - 1, xs[0] + 1)
            let (ymin, ymax) = padded(ys.min()!, ys.max()!)
            let sx = { (e: Int) in left + (log2(Double(e)) - xmin) / (xmax - xmin) * (right - left) }
            let sy = { (v: Double) in bottom - (v - ymin) / (ymax - ymin) * (bottom - top) }
            for e in lens {
                out += "<text x=\"\(sx(e))\" y=\"\(bottom + 14)\" text-anchor=\"middle\">\(e)</text>"
            }
            for t in 0...4 {
                let yv = ymin + (ymax - ymin) * Double(t) / 4
                out += "<text x=\"\(left - 4)\" y=\"\(sy(yv) + 4)\" text-anchor=\"end\">\(fixed(yv, 1))</text>"
            }
            out += "\n"
            for m in ms {
                let line = pts.filter { $0.0 == m }
                let c = colour(m)
                if line.count > 1 {
                    let path = line.map { "\(sx($0.1)),\(sy($0.2.mean))" }.joined(separator: " ")
                    out += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(c)\" stroke-width=\"1.5\"/>\n"
                }
                for (_, e, s) in line {
                    if let sd = s.std, sd > 0 {
                        out += "<line x1=\"\(sx(e))\" y1=\"\(sy(s.mean - sd))\" x2=\"\(sx(e))\" y2=\"\(sy(s.mean + sd))\" stroke=\"\(c)\"/>"
                        for y in [s.mean - sd, s.mean + sd] {
                            out += "<line x1=\"\(sx(e) - 3)\" y1=\"\(sy(y))\" x2=\"\(sx(e) + 3)\" y2=\"\(sy(y))\" stroke=\"\(c)\"/>"
                        }
                    }
                    out += "<circle cx=\"\(sx(e))\" cy=\"\(sy(s.mean))\" r=\"3.5\" fill=\"\(c)\"><title>\(escape(displayName(m))) "
                    out += "\(e) epochs: \(s.formatted(2)) (\(s.count) seed\(s.count == 1 ? "" : "s"))</title></circle>\n"
                }
            }
        }

        // Right panel: loss curves.
        out += frame(panelW, "Training loss (lr \(rate(base)))", "step", "loss (mean per window)")
        var curves: [(model: String, epochs: Int, seed: Int, points: [(Double, Double)])] = []
        for m in ms {
            for e in lens {
                let runs = runs(model: m, epochs: e, learningRate: base)
                let chosen = e == lens.last ? runs : Array(runs.prefix(1))
                for r in chosen where !r.training.lossCurve.isEmpty {
                    let w = Double(max(r.training.lossWindow, 1))
                    let steps = Double(max(r.training.steps, 1))
                    // A last window of under half the usual steps is a noisy mean of a few batches: left out.
                    let points = r.training.lossCurve.enumerated().compactMap { (i, loss) -> (Double, Double)? in
                        let start = Double(i) * w
                        guard loss.isFinite, i == 0 || steps - start >= w / 2 else { return nil }
                        return (min(start + w, steps), loss)
                    }
                    curves.append((m, e, r.seed, points))
                }
            }
        }
        let all = curves.flatMap(\.points)
        if !all.isEmpty {
            let l2 = panelW + left, r2 = panelW + right
            let xmax = all.map(\.0).max()!
            let (ymin, ymax) = padded(all.map(\.1).min()!, all.map(\.1).max()!)
            let sx = { (v: Double) in l2 + v / xmax * (r2 - l2) }
            let sy = { (v: Double) in bottom - (v - ymin) / (ymax - ymin) * (bottom - top) }
            for t in 0...4 {
                let xv = xmax * Double(t) / 4, yv = ymin + (ymax - ymin) * Double(t) / 4
                out += "<text x=\"\(sx(xv))\" y=\"\(bottom + 14)\" text-anchor=\"middle\">\(fixed(xv, 0))</text>"
                out += "<text x=\"\(l2 - 4)\" y=\"\(sy(yv) + 4)\" text-anchor=\"end\">\(fixed(yv, 2))</text>"
            }
            out += "\n"
            // Shortest first, so the longest runs are drawn on top.
            for c in curves.sorted(by: { $0.epochs < $1.epochs }) {
                let path = c.points.map { "\(sx($0.0)),\(sy($0.1))" }.joined(separator: " ")
                out += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(shade(c.model, c.epochs))\" stroke-width=\"1.2\">"
                out += "<title>\(escape(displayName(c.model))) \(c.epochs) epochs seed \(c.seed)</title></polyline>\n"
            }
        }

        // Legend: a swatch per model, then the shades of the lengths.
        var x = 56.0
        let y = panelH + 16
        for m in ms {
            out += "<line x1=\"\(x)\" y1=\"\(y - 4)\" x2=\"\(x + 18)\" y2=\"\(y - 4)\" stroke=\"\(colour(m))\" stroke-width=\"3\"/>"
            out += "<text x=\"\(x + 22)\" y=\"\(y)\">\(escape(displayName(m)))</text>\n"
            x += 30 + 7 * Double(displayName(m).count)
        }
        out += "<text x=\"\(x + 10)\" y=\"\(y)\">loss curves, lighter = shorter:</text>"
        x += 180
        for e in lens {
            out += "<line x1=\"\(x)\" y1=\"\(y - 4)\" x2=\"\(x + 18)\" y2=\"\(y - 4)\" stroke=\"\(shade(ms.first ?? "", e))\" stroke-width=\"3\"/>"
            out += "<text x=\"\(x + 22)\" y=\"\(y)\">\(e)</text>"
            x += 44
        }
        out += "\n<text x=\"56\" y=\"\(y + 18)\">Error bars: sample sd over seeds. Loss curves: every seed at the longest "
        out += "length, the lowest seed at shorter ones.</text>\n"
        return out + "</svg>\n"
    }

    /// `hex` mixed with white by t in [0, 1].
    static func lighter(_ hex: String, _ t: Double) -> String {
        guard hex.count == 7, let v = Int(hex.dropFirst(), radix: 16) else { return hex }
        var out = "#"
        for shift in [16, 8, 0] {
            let c = Double((v >> shift) & 255)
            let mixed = Int((c + (255 - c) * t).rounded())
            out += String(format: "%02x", mixed)
        }
        return out
    }

    // MARK: Files

    /// Writes `RESULTS/NAME.md` and `RESULTS/NAME.svg` (NAME: the ablation's name) and returns the paths.
    @discardableResult
    public func write(resultsDir: String) throws -> [String] {
        var written: [String] = []
        for (ext, text) in [("md", markdown()), ("svg", svg())] {
            let path = "\(resultsDir)/\(ablation).\(ext)"
            try FileSystem.writeAtomically(text, to: path)
            written.append(path)
        }
        return written
    }
}

/// A learning rate as written in the file (0.08, not 0.080000).
private func rate(_ r: Double) -> String { compact(r) }

/// A number as a file would write it: 50, not 50.0; 0.08, not 0.080000.
private func compact(_ x: Double) -> String {
    x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : "\(x)"
}

private func epochsText(_ e: Int) -> String { e == 1 ? "1 epoch" : "\(e) epochs" }

private func signedAP(_ x: Double) -> String { (x >= 0 ? "+" : "") + fixed(x, 1) }
