import Foundation

/// One detected object: a box in input pixels, a sigmoid score, and the class channel it came from.
public struct ScoredBox: Equatable, Sendable {
    public var box: Box
    public var score: Float
    public var classIndex: Int
    public init(box: Box, score: Float, classIndex: Int) {
        self.box = box; self.score = score; self.classIndex = classIndex
    }
}

/// RetinaNet inference settings (docs/paper-facts.md §8).
public struct PostProcessConfig: Equatable, Sendable {
    public var scoreThreshold: Float
    /// Candidates kept per level (best scores over all anchors and classes) before NMS.
    public var topKPerLevel: Int
    public var nmsThreshold: Float
    public var maxDetections: Int

    public init(scoreThreshold: Float = 0.05, topKPerLevel: Int = 1000, nmsThreshold: Float = 0.5,
                maxDetections: Int = 100) {
        self.scoreThreshold = scoreThreshold; self.topKPerLevel = topKPerLevel
        self.nmsThreshold = nmsThreshold; self.maxDetections = maxDetections
    }
}

/// Turns one image's raw head outputs into detections: sigmoid, score threshold, per-level top-k,
/// decode, clip to the image, class-wise NMS, then the best `maxDetections` overall.
/// `classLogits` holds anchors x numClasses and `boxDeltas` anchors x 4, in AnchorSet order.
public func postProcess(classLogits: UnsafeBufferPointer<Float>, boxDeltas: UnsafeBufferPointer<Float>,
                        anchors: AnchorSet, numClasses: Int, config: PostProcessConfig = PostProcessConfig(),
                        coder: BoxCoder = BoxCoder()) -> [ScoredBox] {
    // fatalError, not precondition: release builds use SwiftPM's -O (Package.swift sets no -Ounchecked), where a
    // failed precondition still stops the program but without printing its message; fatalError prints the counts.
    guard classLogits.count == anchors.count * numClasses else {
        fatalError("postProcess: \(classLogits.count) class logits, expected \(anchors.count) anchors x \(numClasses)")
    }
    guard boxDeltas.count == anchors.count * 4 else {
        fatalError("postProcess: \(boxDeltas.count) box outputs, expected \(anchors.count) anchors x 4")
    }
    // sigmoid(x) > t  <=>  x > logit(t): threshold on logits, exponentiate only the survivors.
    let t = min(max(config.scoreThreshold, 1e-7), 1 - 1e-7)
    let logitThreshold = Float(log(Double(t) / (1 - Double(t))))
    let w = Float(anchors.imageWidth), h = Float(anchors.imageHeight)
    var candidates: [ScoredBox] = []
    for level in anchors.levels {
        var entries: [(index: Int, logit: Float)] = []
        let start = level.offset * numClasses, end = (level.offset + level.count) * numClasses
        for i in start..<end where classLogits[i] > logitThreshold { entries.append((i, classLogits[i])) }
        if entries.count > config.topKPerLevel {
            entries.sort { $0.logit > $1.logit || ($0.logit == $1.logit && $0.index < $1.index) }
            entries.removeLast(entries.count - config.topKPerLevel)
        }
        for e in entries {
            let a = e.index / numClasses
            let d = (boxDeltas[a * 4], boxDeltas[a * 4 + 1], boxDeltas[a * 4 + 2], boxDeltas[a * 4 + 3])
            let box = coder.decode(d, anchor: anchors.boxes[a]).clipped(width: w, height: h)
            candidates.append(ScoredBox(box: box, score: 1 / (1 + exp(-e.logit)), classIndex: e.index % numClasses))
        }
    }
    var kept: [ScoredBox] = []
    for k in Set(candidates.map(\.classIndex)).sorted() {
        let mine = candidates.filter { $0.classIndex == k }
        let keep = nonMaxSuppression(boxes: mine.map(\.box), scores: mine.map(\.score),
                                     iouThreshold: config.nmsThreshold, maxOutput: config.maxDetections)
        kept += keep.map { mine[$0] }
    }
    kept.sort { $0.score > $1.score || ($0.score == $1.score && $0.classIndex < $1.classIndex) }
    return Array(kept.prefix(config.maxDetections))
}

/// Convenience overload for arrays.
public func postProcess(classLogits: [Float], boxDeltas: [Float], anchors: AnchorSet, numClasses: Int,
                        config: PostProcessConfig = PostProcessConfig(), coder: BoxCoder = BoxCoder()) -> [ScoredBox] {
    classLogits.withUnsafeBufferPointer { c in
        boxDeltas.withUnsafeBufferPointer { b in
            postProcess(classLogits: c, boxDeltas: b, anchors: anchors, numClasses: numClasses, config: config, coder: coder)
        }
    }
}
