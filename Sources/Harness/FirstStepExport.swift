import Common
import Datasets
import Detection
import Engine
import Foundation
import Models

/// The first training step of a run, written down so that another implementation can repeat it on the same
/// initial weights and the same batch (issue #21, `make fidelity`, `bench/tensorflow/fidelity_step.py`).
///
/// The file (HDF5) holds:
/// Parameter names are paths ("stem/conv7/conv/kernel"); in the file their slashes become colons, so every
/// dataset sits directly in its group.
/// - `/params/NAME`: every trainable parameter before the step, in our layout (conv kernels [kh, kw, cin, cout],
///   i.e. HWIO; BN gamma and beta [C]); attribute `order` on `/params` lists the names in plan order;
/// - `/grads/NAME`: the gradient of the loss (without weight decay) for every parameter;
/// - `/moving/NAME:mean`, `/moving/NAME:variance`: every batch norm's moving statistics before the step;
/// - `/batch/images` float32 [N, H, W, C] (normalised, as the network sees them), `/batch/boxes` float32 [M, 4]
///   (x1, y1, x2, y2 in input pixels), `/batch/labels` int32 [M], `/batch/box_offsets` int64 [N + 1]: the first
///   training batch of epoch 0 of the run's seed, augmented;
/// - `/targets/anchor_classes` int32 [N x anchors] (class, -1 negative, -2 ignored), `/targets/box_targets`
///   float32 [N x anchors, 4] (dx, dy, dw, dh), `/anchors` float32 [anchors, 4] (x1, y1, x2, y2);
/// - root attributes: the figures of `Figures` and the profile's settings the other side needs; and, after the
///   first update as training makes it (learning rate `first_learning_rate`), the loss of the second training
///   batch (`second_loss_total`, `_focal`, `_huber`, `second_positives`);
/// - with `trajectorySteps` K > 0, `/trajectory/*` [K]: the first K steps of training as RunTrainer takes them
///   (the same weights again, the run's batches in order, its schedule and optimiser): per step the loss, the
///   positives, the learning rate, the gradient norm before clipping, and a fingerprint of the batch (sum of its
///   pixels, of its box coordinates, and its box count), so the other side can replay the steps and find the
///   first one where the two part.
public enum FirstStepExport {
    public struct Figures: Codable, Equatable, Sendable {
        /// focal + box_weight x huber, as training reports it.
        public var total: Double
        public var focal: Double
        /// The Huber loss before the box weight.
        public var huber: Double
        /// Global norm of the loss gradient over every parameter, without weight decay.
        public var gradNorm: Double
        /// The same with the weight-decay term added (what SGD clips and reports).
        public var gradNormWithDecay: Double
        /// Positive anchors in the batch; the losses are divided by max(1, positives).
        public var positives: Int
    }

    /// Builds `model` of `ablation` at `profile` with `seed` (the weights its run starts from), takes the first
    /// batch the run would train on, computes the loss and its gradient, and writes everything to `out`.
    /// With `checkpoint` (a run folder), the weights and batch-norm statistics are that run's last checkpoint
    /// instead: the same comparison at a trained state, where the losses' and layers' gradients work in the
    /// regimes training reaches (confident logits, large activations) rather than at initialisation.
    public static func run(ablation: String, profile profileName: String, model: String, seed: Int, dataDir: String,
                           threads: Int, out: String, checkpoint: String? = nil, trajectorySteps: Int = 0,
                           log: @escaping (String) -> Void) throws -> Figures {
        Threads.set(threads)
        let def = try AblationDefinition.load(ablation)
        let p = try def.profile(profileName, file: ablation)
        let datasetPath = try DatasetCache.ensure(def.dataset, size: p.dataset, dataDir: dataDir, log: log)
        let file = try DatasetFile.open(datasetPath)
        let loader = try DetectionLoader(file: file, split: "train", options: LoaderOptions(
            batchSize: p.batch, outputSize: p.input, training: true, seed: UInt64(seed),
            jitter: p.scaleJitter[0]...p.scaleJitter[1], flipProbability: p.flipProbability))
        let batch = try loader.makeBatch(epoch: 0, index: 0)
        let numClasses = file.classNames.count
        func startingNetwork() throws -> Network {
            let net = try DetectorFactory.build(model: model, profile: p, numClasses: numClasses, seed: UInt64(seed)).network
            if let checkpoint {
                try Checkpoint.read(runDir: checkpoint).restore(into: net, optimizer: p.optimizer(for: net.parameters))
            }
            return net
        }
        let net = try startingNetwork()
        let retinaNet = RetinaNet(profile: p, numClasses: numClasses)
        let anchors = retinaNet.anchors

        let h5 = try H5File.createInMemory(name: out)
        defer { h5.close() }
        try h5.createGroup("params")
        try h5.createGroup("grads")
        try h5.createGroup("moving")
        try h5.createGroup("batch")
        try h5.createGroup("targets")
        // Weights and moving statistics before anything runs (a training forward updates the statistics).
        for param in net.parameters {
            try h5.writeDataset("params/" + flat(param.name), shape: param.value.shape, data: param.value.data)
        }
        try h5.setAttribute("order", net.parameters.map(\.name), on: "params")
        for bn in net.batchNorms {
            try h5.writeDataset("moving/\(flat(bn.name)):mean", shape: [bn.channels], data: bn.runningMean.data)
            try h5.writeDataset("moving/\(flat(bn.name)):variance", shape: [bn.channels], data: bn.runningVar.data)
        }

        let targets = try retinaNet.targets(boxes: batch.boxes, labels: batch.labels.map { $0.map(Int.init) })
        let tape = Tape(training: true)
        let images = tape.input(Tensor(shape: [batch.batchSize, batch.height, batch.width, batch.channels], data: batch.images))
        let parts = retinaNet.lossParts(net(images, on: tape).retinaNet, targets: targets, on: tape)
        let value = { (v: Var) in Double(tape.value(v).data[0]) }
        let (total, focal, huber) = (value(parts.total), value(parts.focal), value(parts.huber))
        tape.backward(parts.total)
        var plain = 0.0, decayed = 0.0
        let wd = Float(p.weightDecay)
        for param in net.parameters {
            let g = param.grad.data, w = param.value.data
            for j in g.indices {
                plain += Double(g[j]) * Double(g[j])
                let d = param.decays ? g[j] + wd * w[j] : g[j]
                decayed += Double(d) * Double(d)
            }
            try h5.writeDataset("grads/" + flat(param.name), shape: param.grad.shape, data: g)
        }
        let figures = Figures(total: total, focal: focal, huber: huber, gradNorm: plain.squareRoot(),
                              gradNormWithDecay: decayed.squareRoot(), positives: targets.numPositives)

        // The update as RunTrainer makes it (the schedule's first rate, momentum, weight decay, clipping), then the
        // loss of the second batch: the other side checks its optimiser against ours with it.
        let schedule = p.learningRates(totalSteps: loader.batchesPerEpoch * p.epochs)
        let rate = schedule.rate(at: 0)
        p.optimizer(for: net.parameters).step(learningRate: rate)
        let second = try loader.makeBatch(epoch: 0, index: 1)
        let targets2 = try retinaNet.targets(boxes: second.boxes, labels: second.labels.map { $0.map(Int.init) })
        let tape2 = Tape(training: true)
        let images2 = tape2.input(Tensor(shape: [second.batchSize, second.height, second.width, second.channels],
                                         data: second.images))
        let parts2 = retinaNet.lossParts(net(images2, on: tape2).retinaNet, targets: targets2, on: tape2)
        for (key, v) in [("second_loss_total", parts2.total), ("second_loss_focal", parts2.focal),
                         ("second_loss_huber", parts2.huber)] {
            try h5.setAttribute(key, Double(tape2.value(v).data[0]))
        }
        try h5.setAttribute("second_positives", Int64(targets2.numPositives))
        try h5.setAttribute("first_learning_rate", Double(rate))
        if let c = p.clipNorm { try h5.setAttribute("clip_norm", c) }
        try h5.setAttribute("momentum", p.momentum)

        try h5.writeDataset("batch/images", shape: [batch.batchSize, batch.height, batch.width, batch.channels], data: batch.images)
        let boxes = batch.boxes.flatMap { $0 }
        try h5.writeDataset("batch/boxes", shape: [boxes.count, 4], data: boxes.flatMap { [$0.x1, $0.y1, $0.x2, $0.y2] })
        try h5.writeDataset("batch/labels", shape: [boxes.count], data: batch.labels.flatMap { $0 })
        var offsets: [Int64] = [0]
        for b in batch.boxes { offsets.append(offsets.last! + Int64(b.count)) }
        try h5.writeDataset("batch/box_offsets", shape: [offsets.count], data: offsets)
        try h5.writeDataset("batch/image_ids", shape: [batch.imageIds.count], data: batch.imageIds.map(Int64.init))
        try h5.writeDataset("targets/anchor_classes", shape: [targets.anchorClasses.count], data: targets.anchorClasses)
        try h5.writeDataset("targets/box_targets", shape: [targets.anchorClasses.count, 4], data: targets.boxTargets)
        try h5.writeDataset("anchors", shape: [anchors.count, 4], data: anchors.boxes.flatMap { [$0.x1, $0.y1, $0.x2, $0.y2] })

        for (key, v) in [("loss_total", total), ("loss_focal", focal), ("loss_huber", huber), ("grad_norm", figures.gradNorm),
                         ("grad_norm_with_decay", figures.gradNormWithDecay), ("normalizer", Double(targets.normalizer)),
                         ("scale", p.scale), ("alpha", p.alpha), ("weight_decay", p.weightDecay),
                         ("focal_alpha", p.focalAlpha), ("focal_gamma", p.focalGamma), ("huber_delta", p.huberDelta),
                         ("box_weight", p.boxWeight), ("bn_momentum", p.bnMomentum), ("anchor_size", p.anchorSize)] {
            try h5.setAttribute(key, v)
        }
        for (key, v) in [("positives", targets.numPositives), ("input", p.input), ("endpoints", p.endpoints),
                         ("head_filters", p.headFilters), ("head_convs", p.headConvs), ("num_classes", numClasses),
                         ("seed", seed), ("batch_size", batch.batchSize)] {
            try h5.setAttribute(key, Int64(v))
        }
        if trajectorySteps > 0 {
            try writeTrajectory(steps: trajectorySteps, network: try startingNetwork(), retinaNet: retinaNet, loader: loader,
                                profile: p, schedule: schedule, into: h5, log: log)
        }
        try h5.setAttribute("ablation", ablation)
        try h5.setAttribute("model", model)
        try h5.setAttribute("weights", checkpoint.map { "checkpoint of \($0)" } ?? "initial")
        try h5.setAttribute("profile", profileName)
        try h5.setAttribute("dataset", datasetPath)
        try h5.setAttribute("class_names", file.classNames)
        try DurableFile.write(try h5.image(), to: out)
        return figures
    }

    /// The first `steps` training steps as RunTrainer takes them, per step into `/trajectory/*` (see the type's doc).
    static func writeTrajectory(steps: Int, network: Network, retinaNet: RetinaNet, loader: DetectionLoader,
                                profile p: AblationDefinition.Profile, schedule: LearningRateSchedule, into h5: H5File,
                                log: (String) -> Void) throws {
        let sgd = p.optimizer(for: network.parameters), perEpoch = loader.batchesPerEpoch
        var loss = [Double](), positives = [Int64](), rates = [Double](), norms = [Double]()
        var pixelSums = [Double](), boxSums = [Double](), boxCounts = [Int64]()
        for step in 0..<steps {
            let batch = try loader.makeBatch(epoch: step / perEpoch, index: step % perEpoch)
            let rate = schedule.rate(at: step)
            let taken = try DetectionTask.step(batch, detector: network, retinaNet: retinaNet, optimizer: sgd, learningRate: rate)
            loss.append(taken.loss)
            positives.append(Int64(taken.positives))
            rates.append(Double(rate))
            norms.append(Double(sgd.lastGradNorm))
            pixelSums.append(batch.images.reduce(0.0) { $0 + Double($1) })
            let boxes = batch.boxes.flatMap { $0 }
            boxSums.append(boxes.reduce(0.0) { $0 + Double($1.x1) + Double($1.y1) + Double($1.x2) + Double($1.y2) })
            boxCounts.append(Int64(boxes.count))
            if (step + 1) % 50 == 0 { log("trajectory: step \(step + 1)/\(steps), loss \(loss.last!)") }
        }
        try h5.createGroup("trajectory")
        for (name, v) in [("loss", loss), ("learning_rate", rates), ("grad_norm", norms), ("pixel_sum", pixelSums),
                          ("box_sum", boxSums)] {
            try h5.writeDataset("trajectory/" + name, shape: [steps], data: v)
        }
        for (name, v) in [("positives", positives), ("box_count", boxCounts)] {
            try h5.writeDataset("trajectory/" + name, shape: [steps], data: v)
        }
    }

    /// A parameter or layer name as a dataset name in one group.
    static func flat(_ name: String) -> String { name.replacingOccurrences(of: "/", with: ":") }
}
