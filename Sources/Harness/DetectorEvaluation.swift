import Datasets
import Detection
import Engine
import Foundation
import Models

/// Runs a trained detector over the val split, maps detections back to the stored image pixels,
/// scores them with the COCO evaluator (area ranges scaled by the profile's `areaScale`), and writes the
/// ground truth and detections as COCO JSON so anyone can re-score the run with other tools.
enum DetectorEvaluation {
    struct Result {
        var metrics: [String: Double]
        var areaScale: Double
    }

    static func run(detector: Network, loader: DetectionLoader, split: DatasetSplit, anchors: AnchorSet,
                    classNames: [String], areaScale scale: Double, batchStatistics: Bool,
                    writeTo dir: String?) throws -> Result {
        let numClasses = classNames.count
        var detections: [CocoDetection] = []
        loader.start(epoch: 0)
        while let batch = try loader.next() {
            // batch statistics: a training tape normalises with the batch's own (nothing is differentiated;
            // the moving averages it updates are not saved)
            let tape = Tape(training: batchStatistics)
            let images = tape.input(Tensor(shape: [batch.batchSize, batch.height, batch.width, batch.channels], data: batch.images))
            let (classes, boxes) = DetectorOutputs.flatten(detector(images, on: tape), on: tape, numClasses: numClasses)
            let logits = tape.value(classes).data, deltas = tape.value(boxes).data
            let perImageClasses = anchors.count * numClasses, perImageBoxes = anchors.count * 4
            for i in 0..<batch.batchSize {
                let found = postProcess(
                    classLogits: Array(logits[i * perImageClasses..<(i + 1) * perImageClasses]),
                    boxDeltas: Array(deltas[i * perImageBoxes..<(i + 1) * perImageBoxes]),
                    anchors: anchors, numClasses: numClasses)
                for d in found {
                    detections.append(CocoDetection(imageId: batch.imageIds[i] + 1, categoryId: d.classIndex,
                                                    box: batch.transforms[i].toOriginal(d.box), score: d.score))
                }
            }
        }
        let truth = CocoGroundTruth(
            imageSizes: Array(repeating: (width: split.width, height: split.height), count: split.count),
            boxes: (0..<split.count).map { Array(split.boxes(of: $0)) },
            labels: (0..<split.count).map { split.labels(of: $0).map(Int.init) },
            categories: classNames.enumerated().map { CocoCategory(id: $0.offset, name: $0.element) })
        if let dir {
            try FileSystem.createDirectory(dir)
            try truth.write(to: dir + "/val-ground-truth.json")
            try detections.writeCoco(to: dir + "/val-detections.json")
        }
        let metrics = try CocoEvaluator(areaScale: scale).evaluate(groundTruth: truth, detections: detections)
        var named: [String: Double] = [:]
        for (key, value) in zip(CocoMetrics.keys, metrics.values) { named[key] = value * 100 }
        return Result(metrics: named, areaScale: scale)
    }
}
