import ArgumentParser
import Foundation
import Harness

/// `spinebench first-step`: one model's initial weights, its first training batch with targets, and the first
/// step's loss and gradients, written to HDF5 for the reference implementation to repeat on the same weights
/// (`make fidelity`, `bench/tensorflow/fidelity_step.py`, issue #21).
struct FirstStepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "first-step",
        abstract: "Write a model's initial weights, first training batch, targets, loss and gradients to HDF5.")

    @Argument(help: "Model name, e.g. spinenet-49.") var model: String
    @Option(help: "The ablation file whose dataset and profile settings to use.") var ablation = "ablations/fidelity.yaml"
    @Option(help: "Profile in the file.") var profile = "fidelity"
    @Option(help: "Seed (the run's initial weights and data order).") var seed = 0
    @Option(help: "Output HDF5 file.") var out: String
    @Option(help: "Folder for generated datasets.") var data = "data"
    @Option(help: "Threads (default: all cores).") var threads: Int?
    @Option(help: ArgumentHelp("A run folder: start from its last checkpoint instead of the seed's initial weights.",
                               discussion: "The comparison at a trained state (results/fidelity.md).")) var checkpoint: String?
    @Option(help: ArgumentHelp("Also write the first N training steps from the same weights (loss, batch fingerprint).",
                               discussion: "bench/tensorflow/fidelity_step.py --trajectory replays them.")) var steps = 0
    @Flag(help: "Print the figures as JSON.") var json = false

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be >= 1, got \(threads)") }
        if steps < 0 { throw ValidationError("--steps must be >= 0, got \(steps)") }
    }

    func run() throws {
        let f = try FirstStepExport.run(ablation: ablation, profile: profile, model: model.lowercased(), seed: seed,
                                        dataDir: data, threads: threads ?? ProcessInfo.processInfo.activeProcessorCount,
                                        out: out, checkpoint: checkpoint, trajectorySteps: steps, log: { FileHandle.standardError.write(($0 + "\n").data(using: .utf8)!) })
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys]
            print(String(decoding: try enc.encode(f), as: UTF8.self))
        } else {
            print("first step of \(model) seed \(seed)\(checkpoint.map { " from the checkpoint of \($0)" } ?? ""): loss \(f.total) (focal \(f.focal), huber \(f.huber)), "
                  + "grad norm \(f.gradNorm) (\(f.gradNormWithDecay) with weight decay), \(f.positives) positive anchors -> \(out)")
        }
    }
}
