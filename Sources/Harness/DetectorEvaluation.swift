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
        var metrics: Metrics
        var areaScale: Double
    }

    static func run(detector: Network, retinaNet: RetinaNet, loader: DetectionLoader, split: DatasetSplit,
                    classNames: [String], areaScale scale: Double, batchStatistics: Bool,
                    writeTo dir: String?) throws -> Result {
        var detections: [CocoDetection] = []
        loader.start(epoch: 0)
        while let batch = try loader.next() {
            // batch statistics: a training tape normalises with the batch's own (nothing is differentiated;
            // the moving averages it updates are not saved)
            let tape = Tape(training: batchStatistics)
            let images = tape.input(Tensor(shape: [batch.batchSize, batch.height, batch.width, batch.channels], data: batch.images))
            for (i, found) in retinaNet.detections(detector(images, on: tape).retinaNet, on: tape).enumerated() {
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
        var named = Metrics()
        for (key, value) in zip(CocoMetrics.keys, metrics.values) { named[key] = value * 100 }
        return Result(metrics: named, areaScale: scale)
    }
}
