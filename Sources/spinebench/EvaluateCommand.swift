import ArgumentParser
import Detection
import Foundation
import Harness

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Re-score a trained run from its last checkpoint on the val split; writes its COCO JSON files.")

    @Argument(help: "A run directory, e.g. runs/connections/quick/r0-sp53/seed-0.") var runDir: String
    @Option(help: "Threads for OpenBLAS and the engine (default: all cores).") var threads: Int?
    @Flag(help: "Print the metrics (12 COCO ones, or top1 / top5 / loss) as one JSON object.") var json = false
    @Option(name: .customLong("eval-batch-norm"),
            help: "Override the profile's eval_batch_norm: batch (each batch's statistics) or moving (the moving averages).")
    var evalBatchNorm: String?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be >= 1, got \(threads)") }
        if let evalBatchNorm, AblationDefinition.Profile.EvalBatchNorm(rawValue: evalBatchNorm) == nil {
            throw ValidationError("--eval-batch-norm must be batch or moving, got '\(evalBatchNorm)'")
        }
    }

    func run() throws {
        let (metrics, scale) = try RunEvaluation.evaluate(runDir: runDir,
                                                          threads: threads ?? ProcessInfo.processInfo.activeProcessorCount,
                                                          evalBatchNorm: evalBatchNorm.flatMap { .init(rawValue: $0) })
        // A classification run scores top1 / top5 / loss, a detection run the 12 COCO metrics.
        let classification = metrics[.top1] != nil
        let keys = classification ? Metric.classification : Metric.detection
        if json {
            let body = keys.map { "\"\($0)\": \(metrics[$0] ?? 0)" }.joined(separator: ", ")
            print(classification ? "{\(body)}" : "{\(body), \"area_scale\": \(scale)}")
        } else {
            for key in keys { print("\(key.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0)) \(String(format: "%.2f", metrics[key] ?? 0))") }
            if !classification { print("area ranges scaled by \(String(format: "%.4f", scale)); COCO files in \(runDir)") }
        }
    }
}
