/// How well an anchor set can match a set of ground-truth boxes. A box no anchor overlaps at IoU >= 0.5 gets
/// only its best, poorly fitting anchor as a positive (the low-quality match), and a detection regressed from
/// such an anchor rarely reaches IoU 0.5 at evaluation. This is the check behind each profile's choice of
/// input size, anchor size and object sides (docs/geometry.md §1).
public struct AnchorCoverage: Sendable, Equatable {
    public var boxes = 0
    /// Boxes whose best anchor has IoU >= the threshold.
    public var matched = 0
    /// Per level (minLevel first): anchors with IoU >= threshold to some box (the positives training sees).
    public var positivesPerLevel: [Int]
    /// Per level: matched boxes whose best anchor lies on that level.
    public var bestLevelCounts: [Int]
    public let levels: [Int]
    public let threshold: Float

    public var matchedFraction: Double { boxes == 0 ? 0 : Double(matched) / Double(boxes) }

    public init(anchors: AnchorSet, threshold: Float = 0.5) {
        levels = anchors.levels.map(\.level)
        positivesPerLevel = [Int](repeating: 0, count: levels.count)
        bestLevelCounts = positivesPerLevel
        self.threshold = threshold
    }

    /// Adds one image's boxes (in the anchors' input pixels).
    public mutating func add(_ truth: [Box], anchors: AnchorSet) {
        var positive = Set<Int>()
        for box in truth {
            boxes += 1
            var best: Float = 0, bestIndex = -1
            for level in anchors.levels {
                for i in level.offset..<(level.offset + level.count) {
                    let iou = box.iou(anchors.boxes[i])
                    if iou > best { best = iou; bestIndex = i }
                    if iou >= threshold { positive.insert(i) }
                }
            }
            if best >= threshold, let l = anchors.levels.firstIndex(where: { bestIndex < $0.offset + $0.count }) {
                matched += 1
                bestLevelCounts[l] += 1
            }
        }
        for i in positive {
            if let l = anchors.levels.firstIndex(where: { i < $0.offset + $0.count }) { positivesPerLevel[l] += 1 }
        }
    }

    /// Lines for `data inspect`.
    public func report() -> [String] {
        func pct(_ a: Int, _ b: Int) -> String { b == 0 ? "0%" : String(format: "%.1f%%", 100 * Double(a) / Double(b)) }
        let totalPositives = positivesPerLevel.reduce(0, +)
        return [
            "  boxes matched by an anchor at IoU >= \(threshold): \(matched) of \(boxes) (\(pct(matched, boxes)))",
            "  positive anchors per level: " + zip(levels, positivesPerLevel)
                .map { "L\($0) \($1) (\(pct($1, totalPositives)))" }.joined(separator: ", "),
            "  matched boxes by best level: " + zip(levels, bestLevelCounts)
                .map { "L\($0) \($1) (\(pct($1, matched)))" }.joined(separator: ", "),
        ]
    }
}
