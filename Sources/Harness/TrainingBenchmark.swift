import Detection
import Engine
import Foundation
import Models

/// Times whole training steps (forward, backward, SGD update) of one model on synthetic batches:
/// the figure that decides how long an ablation takes. Used by `spinebench bench train`.
public struct TrainingBenchmark {
    public var model: String
    public var scale: Double
    public var alpha: Double = 0.25
    public var endpoints: Int
    public var input: Int
    public var batch: Int
    /// nil: backbone only, loss = mean of the L3..L7 features (TensorFlow reference setting).
    public var headFilters: Int?
    public var headConvs = 4
    public var classes = 91
    public var steps = 10
    public var warmup = 2

    public init(model: String, scale: Double, endpoints: Int, input: Int, batch: Int) {
        self.model = model
        self.scale = scale
        self.endpoints = endpoints
        self.input = input
        self.batch = batch
    }

    public struct Result {
        public var medianSeconds: Double
        public var imagesPerSecond: Double
        /// 3 x forward multiply-adds x 2 FLOPs per multiply-add, per second.
        public var gflops: Double
        public var macsPerImage: Int
        public var params: Int
        public var peakResidentMB: Double
        /// Per-op totals over the timed steps (empty unless `profile`).
        public var profile: [Profiler.Row] = []
        public var meanSeconds: Double = 0
    }

    /// Also collect a per-op profile of the timed steps (Result.profile).
    public var profile = false
    public var learningRate: Float = 1e-3

    /// The fixed set-up every measurement shares: network (seed 0), SGD, one synthetic batch and its targets.
    struct Session {
        let net: Network
        let sgd: SGD
        let step: () -> (loss: Float, gradNorm: Float)
    }

    func session() throws -> Session {
        let spec = try SpecLibrary.standard().spec(named: model)
        let anchors = ModelBuilder.anchorsPerLocation
        let head: HeadConfig = headFilters.map { .retinaNet(filters: $0, convs: headConvs, classes: classes, anchors: anchors) } ?? .none
        let plan = try ModelBuilder.build(spec, options: ModelOptions(
            inputSize: input, filterSizeScale: scale, resampleAlpha: alpha, endpointsNumFilters: endpoints, head: head))
        let net = Network(plan: plan, seed: 0)
        let sgd = SGD(parameters: net.parameters, momentum: 0.9, weightDecay: 4e-5)
        var rng = RNG(seed: 1)
        let images = Tensor(shape: [batch, input, input, 3], data: (0..<(batch * input * input * 3)).map { _ in rng.normal() })
        let retinaNet = RetinaNet(imageSize: input, numClasses: classes, loss: .paper)
        let s = Float(input) / 4
        let targets = try retinaNet.targets(boxes: Array(repeating: [Box(x1: s, y1: s, x2: 3 * s, y2: 2.5 * s)], count: batch),
                                            labels: Array(repeating: [1], count: batch))
        let withHead = headFilters != nil, lr = learningRate
        /// One training step; returns the loss before the update and the global gradient norm.
        func step() -> (loss: Float, gradNorm: Float) {
            let tape = Tape(training: true)
            let out = net(tape.input(images), on: tape)
            let loss: Var
            if withHead {
                loss = retinaNet.loss(out.retinaNet, targets: targets, on: tape)
            } else {
                loss = tape.add((3...7).map { tape.mean(out.levels[$0]!) })
            }
            let value = tape.value(loss).scalar
            tape.backward(loss)
            let norm = Profiler.measure("sgd step") { sgd.step(learningRate: lr) }   // (leaves the gradients zero)
            return (value, norm)
        }
        return Session(net: net, sgd: sgd, step: step)
    }

    /// Loss and gradient norm of `steps` training steps from the fixed start (known answers that
    /// optimisations must keep).
    public func losses(steps: Int) throws -> [(loss: Float, gradNorm: Float)] {
        let s = try session()
        return (0..<steps).map { _ in s.step() }
    }

    public func run() throws -> Result {
        let s = try session()
        for _ in 0..<warmup { _ = s.step() }
        var times: [Double] = []
        if profile { Profiler.set(enabled: true) }
        for _ in 0..<steps {
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = s.step()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        let rows = Profiler.enabled ? Profiler.report : []
        if profile { Profiler.set(enabled: false) }
        let median = times.sorted()[times.count / 2]
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let plan = s.net.plan
        let macs = plan.counts.macs
        return Result(medianSeconds: median, imagesPerSecond: Double(batch) / median,
                      gflops: Double(macs) * Double(batch) * 2 * 3 / median / 1e9, macsPerImage: macs,
                      params: plan.counts.params, peakResidentMB: Double(usage.ru_maxrss) / 1024,
                      profile: rows, meanSeconds: times.reduce(0, +) / Double(times.count))
    }
}

extension TrainingBenchmark {
    /// The per-op table of `bench train --per-op`: per step ms of forward and backward, share of the profiled
    /// time, and for convs the achieved GFLOP/s (forward and backward) with its fraction of the sgemm peak.
    public static func profileTable(_ rows: [Profiler.Row], steps: Int, sgemmPeak: Double) -> String {
        let per = 1000 / Double(max(steps, 1))
        let total = rows.reduce(0) { $0 + $1.seconds }
        let opWidth = max(18, rows.map(\.op.count).max() ?? 0)
        func cells(_ xs: [String]) -> String {
            zip(xs, [-opWidth, 6, 9, 9, 9, 7, 15, 15]).map { s, w in
                let pad = String(repeating: " ", count: max(0, abs(w) - s.count))
                return w < 0 ? s + pad : pad + s
            }.joined(separator: " ")
        }
        func rate(_ flops: Double, _ s: Double) -> String {
            guard flops > 0, s > 0 else { return "" }
            let g = flops / s / 1e9
            return String(format: "%.1f (%.2f)", g, g / sgemmPeak)
        }
        func ms(_ s: Double) -> String { String(format: "%.2f", s * per) }
        var lines = [cells(["op", "calls", "fwd ms", "bwd ms", "total ms", "share", "fwd GF/s(peak)", "bwd GF/s(peak)"])]
        for r in rows {
            lines.append(cells([r.op, String(format: "%.0f", Double(r.calls) / Double(max(steps, 1))),
                                ms(r.forwardSeconds), ms(r.backwardSeconds), ms(r.seconds),
                                String(format: "%.1f%%", 100 * r.seconds / max(total, 1e-12)),
                                rate(r.forwardFlops, r.forwardSeconds), rate(r.backwardFlops, r.backwardSeconds)]))
        }
        let fwd = rows.reduce(0) { $0 + $1.forwardSeconds }, bwd = rows.reduce(0) { $0 + $1.backwardSeconds }
        lines.append(cells(["total", "", ms(fwd), ms(bwd), ms(total), "100.0%"]))
        // all 3x3 convs together, forward + backward (the "fraction of sgemm peak on the 3x3 convs")
        let k3 = rows.filter { $0.op.hasPrefix("conv3x3") }
        let k3Flops = k3.reduce(0) { $0 + $1.forwardFlops + $1.backwardFlops }, k3Time = k3.reduce(0) { $0 + $1.seconds }
        if k3Time > 0 {
            lines.append("3x3 convs, forward + backward: " + rate(k3Flops, k3Time) + " GFLOP/s (fraction of sgemm peak)")
        }
        return lines.joined(separator: "\n")
    }
}
