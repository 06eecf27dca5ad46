/// Greedy non-maximum suppression: visit boxes by descending score (ties keep input order) and keep
/// a box unless its IoU with an already kept box exceeds `iouThreshold`. Returns kept indices, best first.
public func nonMaxSuppression(boxes: [Box], scores: [Float], iouThreshold: Float,
                              maxOutput: Int = .max) -> [Int] {
    guard boxes.count == scores.count else { fatalError("nonMaxSuppression: boxes and scores differ in count") }
    let order = boxes.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
    var kept: [Int] = []
    for i in order {
        if kept.count >= maxOutput { break }
        if kept.allSatisfy({ boxes[$0].iou(boxes[i]) <= iouThreshold }) { kept.append(i) }
    }
    return kept
}
