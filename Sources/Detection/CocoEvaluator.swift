import Foundation

/// The 12 standard COCO box metrics, in pycocotools' summary order. A value of -1 means "no
/// ground truth to score" (pycocotools' convention), e.g. APs on a set without small objects.
public struct CocoMetrics: Equatable, Sendable {
    public static let keys = Metric.detection
    /// Values in `keys` order.
    public var values: [Double]
    /// The factor the small/medium/large area bounds were multiplied by (1 = COCO's 32^2 / 96^2).
    public var areaScale: Double

    /// nil for a classification metric.
    public subscript(key: Metric) -> Double? {
        Self.keys.firstIndex(of: key).map { values[$0] }
    }
    public var ap: Double { values[0] }
    public var ap50: Double { values[1] }
    public var ap75: Double { values[2] }

    /// The 12 lines pycocotools' COCOeval.summarize() prints, plus the area scale when it is not 1.
    public func summary() -> String {
        let lines: [(ap: Bool, iou: String, area: String, maxDets: Int)] = [
            (true, "0.50:0.95", "all", 100), (true, "0.50", "all", 100), (true, "0.75", "all", 100),
            (true, "0.50:0.95", "small", 100), (true, "0.50:0.95", "medium", 100), (true, "0.50:0.95", "large", 100),
            (false, "0.50:0.95", "all", 1), (false, "0.50:0.95", "all", 10), (false, "0.50:0.95", "all", 100),
            (false, "0.50:0.95", "small", 100), (false, "0.50:0.95", "medium", 100), (false, "0.50:0.95", "large", 100),
        ]
        var out = ""
        for (l, v) in zip(lines, values) {
            let title = l.ap ? "Average Precision  (AP)" : "Average Recall     (AR)"
            let iou = l.iou.padding(toLength: 9, withPad: " ", startingAt: 0)
            let area = String(repeating: " ", count: max(0, 6 - l.area.count)) + l.area
            let md = String(repeating: " ", count: max(0, 3 - String(l.maxDets).count)) + String(l.maxDets)
            out += " \(title) @[ IoU=\(iou) | area=\(area) | maxDets=\(md) ] = \(String(format: "%.3f", v))\n"
        }
        if areaScale != 1 {
            let b = SizeClass.bounds(areaScale: areaScale)
            out += " (area ranges scaled by \(areaScale): small < \(b.small), large > \(b.medium))\n"
        }
        return out
    }

    /// One JSON object with the 12 keys and `area_scale`.
    public func jsonText() -> String {
        "{" + zip(Self.keys, values).map { "\"\($0.0)\": \(jsonNumber($0.1))" }.joined(separator: ", ") +
            ", \"area_scale\": \(jsonNumber(areaScale))}"
    }
}

/// COCO bbox evaluation with the semantics of pycocotools' COCOeval (iouType "bbox", default params):
/// per image and category, detections sorted by score (stable) and cut to 100, ground truth sorted
/// with ignored (crowd or out-of-area) boxes last, greedy matching per IoU threshold, 101-point
/// interpolated precision with the right-to-left max envelope, -1 for nothing to score.
/// Numbers are Doubles and formulas are in the same order as pycocotools, so ties at thresholds
/// (IoU exactly 0.75, recall exactly 0.07) fall the same way.
public struct CocoEvaluator: Sendable {
    /// 0.50:0.05:0.95, built like numpy.linspace.
    public let iouThresholds: [Double] = linspace(0.5, 0.95, 10)
    /// 0:0.01:1, built like numpy.linspace.
    public let recallThresholds: [Double] = linspace(0, 1, 101)
    public let maxDets = [1, 10, 100]
    /// all, small, medium, large: [lo, hi] inclusive on both ends, as in pycocotools.
    public let areaRanges: [(lo: Double, hi: Double)]
    public let areaScale: Double

    /// `areaScale` multiplies the small/medium/large bounds 32^2 and 96^2 (the harness passes
    /// (anchor_size/3)^2, which keeps the bounds at the same place in the anchor pyramid; docs/geometry.md §6).
    public init(areaScale: Double = 1) {
        self.areaScale = areaScale
        let b = SizeClass.bounds(areaScale: areaScale)
        areaRanges = [(0, 1e10), (0, b.small), (b.small, b.medium), (b.medium, 1e10)]
    }

    /// Everything evaluateImg keeps for one (image, category, area range).
    private struct ImageEval {
        var scores: [Double]        // detections, best first, at most maxDets.last
        var matched: [[Bool]]       // [threshold][detection]
        var ignored: [[Bool]]       // [threshold][detection]
        var gtIgnoredCount: Int     // how many ground-truth boxes are ignored
        var gtCount: Int
    }

    public func evaluate(groundTruth gt: CocoGroundTruth, detections: [CocoDetection]) throws -> CocoMetrics {
        let imgIds = Array(Set(gt.images.map(\.id))).sorted()
        let catIds = Array(Set(gt.categories.map(\.id))).sorted()
        let imgIndex = Dictionary(uniqueKeysWithValues: imgIds.enumerated().map { ($0.element, $0.offset) })
        let catIndex = Dictionary(uniqueKeysWithValues: catIds.enumerated().map { ($0.element, $0.offset) })
        let I = imgIds.count, K = catIds.count, T = iouThresholds.count, R = recallThresholds.count
        let A = areaRanges.count, M = maxDets.count

        // Group ground truth and detections by (image, category), keeping file order within a group.
        for (n, a) in gt.annotations.enumerated() where a.bbox.count != 4 {
            throw CocoFormatError(description: "annotations[\(n)].bbox: expected 4 numbers, got \(a.bbox.count)")
        }
        for (n, d) in detections.enumerated() where d.bbox.count != 4 {
            throw CocoFormatError(description: "detections[\(n)].bbox: expected 4 numbers, got \(d.bbox.count)")
        }
        var gts = [[CocoAnnotation]](repeating: [], count: I * K)
        for a in gt.annotations {
            guard let i = imgIndex[a.imageId], let k = catIndex[a.categoryId] else { continue }
            gts[k * I + i].append(a)
        }
        var dts = [[CocoDetection]](repeating: [], count: I * K)
        for (n, d) in detections.enumerated() {
            guard let i = imgIndex[d.imageId] else {
                throw CocoFormatError(description: "detections[\(n)].image_id: \(d.imageId) is not an image of the ground truth")
            }
            guard let k = catIndex[d.categoryId] else { continue }   // pycocotools ignores unknown categories
            dts[k * I + i].append(d)
        }

        // evaluate(): per category, area range and image.
        var evals = [ImageEval?](repeating: nil, count: K * A * I)
        for k in 0..<K {
            for i in 0..<I {
                let g = gts[k * I + i]
                if g.isEmpty && dts[k * I + i].isEmpty { continue }
                let d = Array(stableSortedByScore(dts[k * I + i]).prefix(maxDets.last!))
                let ious = d.map { det in g.map { iou(det.bbox, $0.bbox, crowd: $0.isCrowd) } }
                for a in 0..<A {
                    evals[(k * A + a) * I + i] = evaluateImage(gt: g, dt: d, ious: ious, area: areaRanges[a])
                }
            }
        }

        // accumulate()
        var precision = [Double](repeating: -1, count: T * R * K * A * M)  // [t][r][k][a][m]
        var recall = [Double](repeating: -1, count: T * K * A * M)         // [t][k][a][m]
        for k in 0..<K {
            for a in 0..<A {
                let E = (0..<I).compactMap { evals[(k * A + a) * I + $0] }
                if E.isEmpty { continue }
                let npig = E.reduce(0) { $0 + $1.gtCount - $1.gtIgnoredCount }
                if npig == 0 { continue }
                for (m, maxDet) in maxDets.enumerated() {
                    var scores: [Double] = [], matched = [[Bool]](repeating: [], count: T), ignored = matched
                    for e in E {
                        let n = min(maxDet, e.scores.count)
                        scores += e.scores[0..<n]
                        for t in 0..<T { matched[t] += e.matched[t][0..<n]; ignored[t] += e.ignored[t][0..<n] }
                    }
                    let order = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
                    let nd = order.count
                    for t in 0..<T {
                        var tp = 0.0, fp = 0.0
                        var rc = [Double](repeating: 0, count: nd), pr = rc
                        for (j, o) in order.enumerated() {
                            if !ignored[t][o] { if matched[t][o] { tp += 1 } else { fp += 1 } }
                            rc[j] = tp / Double(npig)
                            pr[j] = tp / (fp + tp + Double.ulpOfOne)
                        }
                        recall[((t * K + k) * A + a) * M + m] = nd > 0 ? rc[nd - 1] : 0
                        if nd > 1 { for j in stride(from: nd - 1, to: 0, by: -1) where pr[j] > pr[j - 1] { pr[j - 1] = pr[j] } }
                        var j = 0
                        for (r, thr) in recallThresholds.enumerated() {
                            while j < nd && rc[j] < thr { j += 1 }   // numpy.searchsorted(rc, thr, side: left)
                            let q = j < nd ? pr[j] : 0
                            precision[(((t * R + r) * K + k) * A + a) * M + m] = q
                        }
                    }
                }
            }
        }

        // summarize(): mean over the entries > -1, or -1 if there are none.
        func mean(_ xs: [Double]) -> Double {
            let v = xs.filter { $0 > -1 }
            return v.isEmpty ? -1 : v.reduce(0, +) / Double(v.count)
        }
        func ap(t: Int? = nil, a: Int = 0, m: Int = 2) -> Double {
            var xs: [Double] = []
            for tt in t.map({ [$0] }) ?? Array(0..<T) { for r in 0..<R { for k in 0..<K {
                xs.append(precision[(((tt * R + r) * K + k) * A + a) * M + m])
            } } }
            return mean(xs)
        }
        func ar(a: Int = 0, m: Int = 2) -> Double {
            var xs: [Double] = []
            for t in 0..<T { for k in 0..<K { xs.append(recall[((t * K + k) * A + a) * M + m]) } }
            return mean(xs)
        }
        let values = [ap(), ap(t: 0), ap(t: 5), ap(a: 1), ap(a: 2), ap(a: 3),
                      ar(m: 0), ar(m: 1), ar(), ar(a: 1), ar(a: 2), ar(a: 3)]
        return CocoMetrics(values: values, areaScale: areaScale)
    }

    /// evaluateImg() for one image, category and area range; `ious` is [detection][ground truth].
    private func evaluateImage(gt: [CocoAnnotation], dt: [CocoDetection], ious: [[Double]],
                               area: (lo: Double, hi: Double)) -> ImageEval {
        func outside(_ x: Double) -> Bool { x < area.lo || x > area.hi }
        let gtIgnore = gt.map { $0.isCrowd || outside($0.area ?? $0.bbox[2] * $0.bbox[3]) }
        // Ignored ground truth last, stable.
        let order = gt.indices.filter { !gtIgnore[$0] } + gt.indices.filter { gtIgnore[$0] }
        let ig = order.map { gtIgnore[$0] }, crowd = order.map { gt[$0].isCrowd }
        let T = iouThresholds.count, D = dt.count, G = gt.count
        var matched = [[Bool]](repeating: [Bool](repeating: false, count: D), count: T)
        var ignored = matched
        for t in 0..<T where G > 0 {
            var gtTaken = [Bool](repeating: false, count: G)
            for d in 0..<D {
                var best = min(iouThresholds[t], 1 - 1e-10), m = -1
                for g in 0..<G {
                    if gtTaken[g] && !crowd[g] { continue }
                    if m > -1 && !ig[m] && ig[g] { break }   // matched a real box; only ignored ones follow
                    let v = ious[d][order[g]]
                    if v < best { continue }
                    best = v; m = g
                }
                if m == -1 { continue }
                ignored[t][d] = ig[m]; matched[t][d] = true; gtTaken[m] = true
            }
        }
        // Unmatched detections outside the area range do not count.
        for d in 0..<D where outside(dt[d].bbox[2] * dt[d].bbox[3]) {
            for t in 0..<T where !matched[t][d] { ignored[t][d] = true }
        }
        return ImageEval(scores: dt.map(\.score), matched: matched, ignored: ignored,
                         gtIgnoredCount: ig.filter { $0 }.count, gtCount: G)
    }
}

/// Descending score, ties in input order (numpy argsort of -score with kind="mergesort").
private func stableSortedByScore(_ d: [CocoDetection]) -> [CocoDetection] {
    d.indices.sorted { d[$0].score > d[$1].score || (d[$0].score == d[$1].score && $0 < $1) }.map { d[$0] }
}

/// pycocotools' bbIou for [x, y, w, h] boxes; for a crowd ground truth the union is the detection's area.
func iou(_ d: [Double], _ g: [Double], crowd: Bool) -> Double {
    let w = min(d[2] + d[0], g[2] + g[0]) - max(d[0], g[0])
    if w <= 0 { return 0 }
    let h = min(d[3] + d[1], g[3] + g[1]) - max(d[1], g[1])
    if h <= 0 { return 0 }
    let i = w * h, da = d[2] * d[3]
    let u = crowd ? da : da + g[2] * g[3] - i
    return i / u
}

/// numpy.linspace(start, stop, num): start + i * step with step = (stop - start) / (num - 1), last = stop.
func linspace(_ start: Double, _ stop: Double, _ num: Int) -> [Double] {
    let step = (stop - start) / Double(num - 1)
    return (0..<num).map { $0 == num - 1 ? stop : Double($0) * step + start }
}
