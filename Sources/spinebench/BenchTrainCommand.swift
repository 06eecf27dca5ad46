import ArgumentParser
import Engine
import Harness

/// `spinebench bench train`: median training-step time of one model, images/s, achieved GFLOP/s and
/// that as a fraction of this machine's sgemm peak measured in the same run, and peak memory.
struct BenchTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "Time training steps (forward, backward, SGD) of one model on synthetic batches.")

    @Option(help: "Model name.") var model = "spinenet-49"
    @Option(help: "filter_size_scale (width).") var scale = 0.25
    @Option(help: "resample_alpha.") var alpha = 0.25
    @Option(help: "Endpoint filters.") var endpoints = 64
    @Option(help: "Input size.") var input = 128
    @Option(help: "Batch size.") var batch = 16
    @Option(help: "Head: none (backbone, mean-of-features loss) or retinanet.") var head = "none"
    @Option(help: "RetinaNet head filters.") var headFilters = 64
    @Option(help: "RetinaNet head convs.") var headConvs = 4
    @Option(help: "Classes of the RetinaNet head.") var classes = 91
    @Option(help: "Timed steps (after 2 warm-up steps).") var steps = 10
    @Flag(name: .customLong("per-op"), help: "Also print a per-op breakdown (forward / backward ms per step) of the timed steps.")
    var perOp = false
    @Flag(name: .customLong("per-op-shapes"), help: "With --per-op, one row per op and output shape.") var perOpShapes = false
    @Option(help: "Instead of timing, print loss and gradient norm of this many steps from the fixed start.")
    var losses: Int?
    @Option(help: "Learning rate of the SGD steps.") var learningRate: Float = 1e-3
    @OptionGroup var options: BenchOptions

    func run() throws {
        try options.apply()
        guard ["none", "retinanet"].contains(head) else { throw ValidationError("--head: expected none or retinanet, got \(head)") }
        var bench = TrainingBenchmark(model: model, scale: scale, endpoints: endpoints, input: input, batch: batch)
        bench.alpha = alpha
        bench.headFilters = head == "retinanet" ? headFilters : nil
        bench.headConvs = headConvs
        bench.classes = classes
        bench.steps = steps
        bench.profile = perOp || perOpShapes
        Profiler.byShape = perOpShapes
        bench.learningRate = learningRate
        if let losses {
            for (i, l) in try bench.losses(steps: losses).enumerated() {
                print("step \(i) loss \(l.loss) grad norm \(l.gradNorm)")
            }
            return
        }
        // The peak is the better of two measurements around the run: other load on the machine lowers either.
        let before = Benchmark.sgemm("square 512", m: 512, n: 512, k: 512, repeats: 5).gflops
        let r = try bench.run()
        let peak = max(before, Benchmark.sgemm("square 512", m: 512, n: 512, k: 512, repeats: 5).gflops)
        print("\(model) scale \(scale) alpha \(alpha) endpoints \(endpoints) input \(input) batch \(batch) head \(head)")
        print(String(format: "params %.3fM  MACs/image %.3fG", Double(r.params) / 1e6, Double(r.macsPerImage) / 1e9))
        print(String(format: "median step %.1f ms  %.1f images/s  %.1f GFLOP/s = %.2f of sgemm peak (%.1f GFLOP/s)  peak RSS %.0f MB",
                     r.medianSeconds * 1000, r.imagesPerSecond, r.gflops, r.gflops / peak, peak, r.peakResidentMB))
        if bench.profile {
            print(String(format: "per-op profile, ms per step averaged over %d steps (mean step %.1f ms; profiled steps are timed too)",
                         steps, r.meanSeconds * 1000))
            print(TrainingBenchmark.profileTable(r.profile, steps: steps, sgemmPeak: peak))
        }
    }
}
