import Datasets
import Engine
import Foundation
import Models

/// Classification (the paper's ImageNet / iNaturalist protocol scaled, docs/paper-facts.md §14): softmax
/// cross-entropy with label smoothing on the head's logits; top-1, top-5 and the unsmoothed loss on the val split.
/// A classification dataset holds one whole-image box per image whose label is the image's class.
struct ClassificationTask: RunTask {
    let network: Network
    let numClasses: Int
    let labelSmoothing: Float
    /// Normalise evaluation batches with their own statistics (`eval_batch_norm: batch`) or the moving averages.
    let batchStatistics: Bool

    /// The class of each image of a batch (its one label).
    static func labels(_ batch: Batch) throws -> [Int] {
        try batch.labels.enumerated().map { i, l in
            guard let first = l.first, l.count == 1 else {
                throw HarnessError.badArgument("image \(batch.imageIds[i]) has \(l.count) labels; a classification dataset has "
                                               + "exactly one per image (build it with a classification kind: fmnist-cls, fine-shapes)")
            }
            return Int(first)
        }
    }

    func logits(_ batch: Batch, on tape: Tape) -> Var {
        let images = tape.input(Tensor(shape: [batch.batchSize, batch.height, batch.width, batch.channels], data: batch.images))
        let out = network(images, on: tape).outputs["logits"]!
        return tape.reshape(out, [batch.batchSize, numClasses])
    }

    func step(_ batch: Batch, optimizer: SGD, learningRate: Float) throws -> Double {
        let labels = try Self.labels(batch)
        let tape = Tape(training: true)
        let loss = tape.softmaxCrossEntropy(logits(batch, on: tape), labels: labels, labelSmoothing: labelSmoothing)
        return descend(loss, on: tape, optimizer: optimizer, learningRate: learningRate)
    }

    func evaluate(_ val: DetectionLoader, file: DatasetFile, runDir: String) throws -> (metrics: Metrics, areaScale: Double) {
        var scores = ClassificationScores(classes: numClasses)
        val.start(epoch: 0)
        while let batch = try val.next() {
            let tape = Tape(training: batchStatistics)
            let z = tape.value(logits(batch, on: tape))
            scores.add(logits: z.data, labels: try Self.labels(batch))
        }
        return (scores.metrics, 0)
    }
}

/// Top-1 / top-5 accuracy and mean cross-entropy over logits [N, K], accumulated batch by batch.
struct ClassificationScores {
    let classes: Int
    private(set) var count = 0
    private(set) var top1 = 0
    private(set) var top5 = 0
    private(set) var lossSum = 0.0

    init(classes: Int) { self.classes = classes }

    /// A row counts for top-k when fewer than k classes score strictly higher than the true one (ties go the
    /// row's way, as with any rank-based accuracy that does not break ties at random).
    mutating func add(logits: [Float], labels: [Int]) {
        let k = classes
        precondition(logits.count == labels.count * k, "ClassificationScores: \(logits.count) logits for \(labels.count) rows of \(k)")
        for (r, label) in labels.enumerated() {
            let row = logits[(r * k)..<((r + 1) * k)]
            let truth = row[row.startIndex + label]
            let higher = row.filter { $0 > truth }.count
            if higher < 1 { top1 += 1 }
            if higher < min(5, k) { top5 += 1 }
            let m = row.max()!
            let logSum = log(row.reduce(0.0) { $0 + exp(Double($1 - m)) })
            lossSum += -(Double(truth - m) - logSum)
            count += 1
        }
    }

    /// `top1`, `top5` in percent and `loss` (mean cross-entropy, no smoothing).
    var metrics: Metrics {
        let n = Double(max(count, 1))
        return [.top1: 100 * Double(top1) / n, .top5: 100 * Double(top5) / n, .loss: lossSum / n]
    }
}
