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
    }

    public func run() throws -> Result {
        let spec = try SpecLibrary.standard().spec(named: model)
        let anchors = ModelBuilder.anchorsPerLocation
        let head: HeadConfig = headFilters.map { .retinaNet(filters: $0, convs: headConvs, classes: classes, anchors: anchors) } ?? .none
        let plan = try ModelBuilder.build(spec, options: Models.BuildOptions(
            inputSize: input, filterSizeScale: scale, resampleAlpha: alpha, endpointsNumFilters: endpoints, head: head))
        let net = Network(plan: plan, seed: 0)
        let sgd = SGD(parameters: net.parameters, momentum: 0.9, weightDecay: 4e-5)
        var rng = RNG(seed: 1)
        let images = Tensor(shape: [batch, input, input, 3], data: (0..<(batch * input * input * 3)).map { _ in rng.normal() })
        let anchorSet = AnchorSet(config: AnchorConfig(), imageHeight: input, imageWidth: input)
        let targets = DetectionTargets.batch(try (0..<batch).map { _ in
            let s = Float(input) / 4
            return try assignTargets(anchors: anchorSet, boxes: [Box(x1: s, y1: s, x2: 3 * s, y2: 2.5 * s)], labels: [1],
                                     numClasses: classes)
        })

        func step() {
            let tape = Tape(training: true)
            let out = net(tape.input(images), on: tape)
            let loss: Var
            if headFilters != nil {
                let (cls, box) = DetectorOutputs.flatten(out, on: tape, numClasses: classes)
                let f = tape.sigmoidFocalLoss(cls, targets: Tensor(shape: cls.shape, data: targets.classTargets),
                                              weights: Tensor(shape: cls.shape, data: targets.classWeights),
                                              alpha: 0.25, gamma: 1.5, normalizer: targets.normalizer)
                let h = tape.huberLoss(box, targets: Tensor(shape: box.shape, data: targets.boxTargets),
                                       weights: Tensor(shape: box.shape, data: targets.boxWeights),
                                       delta: 0.1, normalizer: 4 * targets.normalizer)
                loss = tape.add([f, tape.scale(h, 50)])
            } else {
                loss = tape.add((3...7).map { tape.mean(out.levels[$0]!) })
            }
            tape.backward(loss)
            sgd.step(learningRate: 1e-3)
            sgd.zeroGrad()
        }
        for _ in 0..<warmup { step() }
        var times: [Double] = []
        for _ in 0..<steps {
            let t0 = DispatchTime.now().uptimeNanoseconds
            step()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        let median = times.sorted()[times.count / 2]
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let macs = plan.counts.macs
        return Result(medianSeconds: median, imagesPerSecond: Double(batch) / median,
                      gflops: Double(macs) * Double(batch) * 2 * 3 / median / 1e9, macsPerImage: macs,
                      params: plan.counts.params, peakResidentMB: Double(usage.ru_maxrss) / 1024)
    }
}
