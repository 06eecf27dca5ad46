import Engine

/// The detector's loss hyperparameters; the paper's are focal alpha 0.25, gamma 1.5, Huber delta 0.1 and box
/// weight 50 (docs/paper-facts.md §8). A run's come from its profile's recipe.
public struct RetinaNetLoss: Equatable, Sendable {
    public var focalAlpha: Float, focalGamma: Float, huberDelta: Float, boxWeight: Float

    public init(focalAlpha: Float, focalGamma: Float, huberDelta: Float, boxWeight: Float) {
        (self.focalAlpha, self.focalGamma, self.huberDelta, self.boxWeight) = (focalAlpha, focalGamma, huberDelta, boxWeight)
    }

    public static let paper = RetinaNetLoss(focalAlpha: 0.25, focalGamma: 1.5, huberDelta: 0.1, boxWeight: 50)
}

/// RetinaNet on top of a head's outputs: anchors, targets, the training loss and the detections, so a trainer
/// asks for a loss and an evaluator for detections without knowing the layout, the anchor codes or the losses.
///
/// The head's outputs come per level, lowest first (Models' `Network.Outputs.retinaNet`): class logits
/// [N,H,W,A*K] and box deltas [N,H,W,A*4], read in `AnchorSet` order.
public struct RetinaNet: Sendable {
    public typealias HeadOutputs = (classes: [Var], boxes: [Var])

    public let anchors: AnchorSet
    public let numClasses: Int
    public let settings: RetinaNetLoss
    public var postProcessing = PostProcessConfig()

    public init(anchors config: AnchorConfig = AnchorConfig(), imageSize: Int, numClasses: Int, loss: RetinaNetLoss) {
        anchors = AnchorSet(config: config, imageHeight: imageSize, imageWidth: imageSize)
        (self.numClasses, settings) = (numClasses, loss)
    }

    /// The training targets of a batch: per image its boxes (input pixels) and class indices, images one after another.
    public func targets(boxes: [[Box]], labels: [[Int]]) throws -> DetectionTargets {
        precondition(boxes.count == labels.count, "RetinaNet.targets: \(boxes.count) box lists for \(labels.count) label lists")
        return DetectionTargets.batch(try zip(boxes, labels).map {
            try assignTargets(anchors: anchors, boxes: $0, labels: $1, numClasses: numClasses)
        })
    }

    /// The training loss: focal loss of the class outputs (level by level, against per-anchor classes) plus
    /// box weight x Huber loss of the box outputs, both normalised by the batch's positive anchors.
    public func loss(_ head: HeadOutputs, targets: DetectionTargets, on tape: Tape) -> Var {
        lossParts(head, targets: targets, on: tape).total
    }

    /// The loss and its two parts: the focal loss and the Huber loss before the box weight (the first-step
    /// comparison with the reference implementation reports each; docs/design.md §7).
    public func lossParts(_ head: HeadOutputs, targets: DetectionTargets, on tape: Tape) -> (total: Var, focal: Var, huber: Var) {
        let positives = targets.normalizer
        let focal = tape.sigmoidFocalLoss(levels: checked(head).classes, classes: numClasses,
                                          anchorClasses: targets.anchorClasses, alpha: settings.focalAlpha,
                                          gamma: settings.focalGamma, normalizer: positives)
        let boxes = flatten(head.boxes, 4, on: tape)
        let huber = tape.huberLoss(boxes, targets: Tensor(shape: boxes.shape, data: targets.boxTargets),
                                   weights: Tensor(shape: boxes.shape, data: targets.boxWeights),
                                   delta: settings.huberDelta, normalizer: 4 * positives)
        return (tape.add([focal, tape.scale(huber, settings.boxWeight)]), focal, huber)
    }

    /// Each image's detections in input pixels: scores, decoded boxes, NMS (`postProcess`).
    public func detections(_ head: HeadOutputs, on tape: Tape) -> [[ScoredBox]] {
        let logits = tape.value(flatten(checked(head).classes, numClasses, on: tape)).data
        let deltas = tape.value(flatten(head.boxes, 4, on: tape)).data
        let perImageClasses = anchors.count * numClasses, perImageBoxes = anchors.count * 4
        return (0..<head.classes[0].shape[0]).map { i in
            postProcess(classLogits: Array(logits[i * perImageClasses..<(i + 1) * perImageClasses]),
                        boxDeltas: Array(deltas[i * perImageBoxes..<(i + 1) * perImageBoxes]),
                        anchors: anchors, numClasses: numClasses, config: postProcessing)
        }
    }

    private func checked(_ head: HeadOutputs) -> HeadOutputs {
        precondition(head.classes.count == anchors.levels.count && head.boxes.count == anchors.levels.count,
                     "RetinaNet: \(head.classes.count) class and \(head.boxes.count) box levels for \(anchors.levels.count) anchor levels")
        return head
    }

    /// All levels in `AnchorSet` order: each [N,H,W,A*k] -> [N, H*W*A, k], levels concatenated -> [N, anchors, k].
    private func flatten(_ levels: [Var], _ k: Int, on tape: Tape) -> Var {
        tape.concat(levels.map { v in tape.reshape(v, [v.shape[0], v.shape[1] * v.shape[2] * v.shape[3] / k, k]) }, axis: 1)
    }
}
