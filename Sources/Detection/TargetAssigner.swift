import Engine

/// How anchors are matched to ground truth. An anchor whose best IoU is >= matchedThreshold is
/// positive, below unmatchedThreshold negative, in between ignored (no loss). SpineNet/RetinaNet as
/// in docs/paper-facts.md §8 uses 0.5 for both, so nothing is ignored by IoU alone.
public struct MatchConfig: Equatable, Sendable {
    public var matchedThreshold: Float
    public var unmatchedThreshold: Float
    /// Each ground-truth box also claims its best anchor even below matchedThreshold, so no object
    /// goes without a positive anchor (small or oddly shaped boxes).
    public var lowQualityMatches: Bool

    public init(matchedThreshold: Float = 0.5, unmatchedThreshold: Float = 0.5, lowQualityMatches: Bool = true) {
        guard unmatchedThreshold <= matchedThreshold else { fatalError("MatchConfig: unmatchedThreshold must be <= matchedThreshold") }
        self.matchedThreshold = matchedThreshold; self.unmatchedThreshold = unmatchedThreshold
        self.lowQualityMatches = lowQualityMatches
    }
}

/// Training targets for one image, laid out in anchor order (see AnchorSet). Feed them to the
/// engine's sigmoidFocalLoss / huberLoss; for a batch, concatenate images and sum `numPositives`.
public struct DetectionTargets: Sendable {
    /// Per anchor: the class of a positive anchor, or `negative` / `ignored` (the engine's per-level focal
    /// loss takes these directly; `classTargets` / `classWeights` spell them out per class).
    public var anchorClasses: [Int32]
    public var numClasses: Int
    /// anchors x 4 encoded boxes (BoxCoder order dx, dy, dw, dh), zero for non-positives.
    public var boxTargets: [Float]
    /// anchors x 4: 1 for positives, else 0.
    public var boxWeights: [Float]
    /// Per anchor: index of the matched ground-truth box, or `negative` / `ignored`.
    public var matches: [Int]
    public var numPositives: Int
    /// The loss normaliser for this image alone: max(1, numPositives).
    public var normalizer: Float { Float(max(1, numPositives)) }

    /// The engine's anchor codes (`AnchorCode`), also used for `matches`.
    public static let negative = Int(AnchorCode.background)
    public static let ignored = Int(AnchorCode.ignored)

    /// anchors x classes, one-hot for positives, all zero for negatives and ignored anchors.
    public var classTargets: [Float] {
        var t = [Float](repeating: 0, count: anchorClasses.count * numClasses)
        for (a, c) in anchorClasses.enumerated() where c >= 0 { t[a * numClasses + Int(c)] = 1 }
        return t
    }

    /// anchors x classes: 1, or 0 for every class of an ignored anchor.
    public var classWeights: [Float] {
        anchorClasses.flatMap { [Float](repeating: Int($0) == Self.ignored ? 0 : 1, count: numClasses) }
    }

    /// Images of a batch one after another ([N, anchors, ...] layout); numPositives summed, so
    /// `normalizer` is the batch normaliser max(1, total positives).
    public static func batch(_ images: [DetectionTargets]) -> DetectionTargets {
        DetectionTargets(anchorClasses: images.flatMap(\.anchorClasses), numClasses: images.first?.numClasses ?? 0,
                         boxTargets: images.flatMap(\.boxTargets), boxWeights: images.flatMap(\.boxWeights),
                         matches: images.flatMap(\.matches), numPositives: images.reduce(0) { $0 + $1.numPositives })
    }
}

public struct TargetError: Error, CustomStringConvertible {
    public let description: String
}

/// Matches anchors to ground-truth boxes by IoU and writes RetinaNet training targets.
/// `labels` are class indices in 0..<numClasses (the channel of the class head).
/// Ground-truth boxes with zero width or height are dropped (they cannot be encoded).
public func assignTargets(anchors: [Box], boxes: [Box], labels: [Int], numClasses: Int,
                          match: MatchConfig = MatchConfig(), coder: BoxCoder = BoxCoder()) throws -> DetectionTargets {
    guard boxes.count == labels.count else {
        throw TargetError(description: "assignTargets: \(boxes.count) boxes but \(labels.count) labels")
    }
    for (i, l) in labels.enumerated() where l < 0 || l >= numClasses {
        throw TargetError(description: "assignTargets: label \(l) of box \(i) is outside 0..<\(numClasses)")
    }
    let gt = boxes.indices.filter { boxes[$0].width > 0 && boxes[$0].height > 0 }
    let n = anchors.count
    var bestIoU = [Float](repeating: 0, count: n)
    var bestGT = [Int](repeating: -1, count: n)
    // Best ground truth per anchor (first wins ties) and best anchor per ground truth.
    var claim: [(gt: Int, anchor: Int, iou: Float)] = []
    for g in gt {
        let b = boxes[g]
        var top: Float = 0, topAnchor = -1
        for a in 0..<n {
            let v = anchors[a].iou(b)
            if v > bestIoU[a] { bestIoU[a] = v; bestGT[a] = g }
            if v > top { top = v; topAnchor = a }
        }
        if topAnchor >= 0 { claim.append((g, topAnchor, top)) }
    }
    var matches = [Int](repeating: DetectionTargets.negative, count: n)
    for a in 0..<n {
        if bestGT[a] >= 0 && bestIoU[a] >= match.matchedThreshold { matches[a] = bestGT[a] }
        else if bestGT[a] >= 0 && bestIoU[a] >= match.unmatchedThreshold { matches[a] = DetectionTargets.ignored }
    }
    if match.lowQualityMatches {
        // An anchor that is already positive by IoU keeps its match; otherwise it goes to the box
        // claiming it, the higher IoU winning when several boxes claim the same anchor.
        for c in claim.sorted(by: { $0.iou < $1.iou }) where bestIoU[c.anchor] < match.matchedThreshold {
            matches[c.anchor] = c.gt
        }
    }
    var t = DetectionTargets(anchorClasses: [Int32](repeating: Int32(DetectionTargets.negative), count: n),
                             numClasses: numClasses,
                             boxTargets: [Float](repeating: 0, count: n * 4),
                             boxWeights: [Float](repeating: 0, count: n * 4),
                             matches: matches, numPositives: 0)
    for a in 0..<n {
        let m = matches[a]
        if m == DetectionTargets.ignored {
            t.anchorClasses[a] = Int32(DetectionTargets.ignored)
        } else if m >= 0 {
            t.numPositives += 1
            t.anchorClasses[a] = Int32(labels[m])
            let d = coder.encode(boxes[m], anchor: anchors[a])
            t.boxTargets[a * 4] = d.0; t.boxTargets[a * 4 + 1] = d.1
            t.boxTargets[a * 4 + 2] = d.2; t.boxTargets[a * 4 + 3] = d.3
            for j in 0..<4 { t.boxWeights[a * 4 + j] = 1 }
        }
    }
    return t
}

/// The same for an AnchorSet.
public func assignTargets(anchors: AnchorSet, boxes: [Box], labels: [Int], numClasses: Int,
                          match: MatchConfig = MatchConfig(), coder: BoxCoder = BoxCoder()) throws -> DetectionTargets {
    try assignTargets(anchors: anchors.boxes, boxes: boxes, labels: labels, numClasses: numClasses, match: match, coder: coder)
}
