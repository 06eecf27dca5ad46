import ArgumentParser
import Detection

/// Scores a COCO results file against a COCO annotation file, like pycocotools' COCOeval for bbox.
struct CocoEvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coco-eval",
        abstract: "The 12 standard COCO box metrics for a ground-truth and a detections file.",
        discussion: "GT.json is a COCO annotation file (images, annotations, categories); DETECTIONS.json a COCO results list [{image_id, category_id, bbox, score}].")

    @Argument(help: "COCO annotation file.") var groundTruth: String
    @Argument(help: "COCO results file.") var detections: String
    @Flag(help: "Print one JSON object with the 12 metrics.") var json = false
    @Option(help: "Multiply the small/medium/large area bounds (32^2, 96^2) by this factor.") var areaScale: Double = 1

    func validate() throws {
        guard areaScale > 0, areaScale.isFinite else { throw ValidationError("--area-scale must be a positive number") }
    }

    func run() throws {
        let gt = try CocoGroundTruth.load(path: groundTruth)
        let dets = try CocoDetection.load(path: detections)
        try gt.check(dets, file: detections)
        let metrics = try CocoEvaluator(areaScale: areaScale).evaluate(groundTruth: gt, detections: dets)
        print(json ? metrics.jsonText() : metrics.summary(), terminator: json ? "\n" : "")
    }
}
