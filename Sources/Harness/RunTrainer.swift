import Common
import Datasets
import Detection
import Engine
import Foundation
import Models

/// Trains one run with the profile's recipe (protocol A by default: SGD with momentum, L2 weight
/// decay off BN, linear warmup, steps x0.1 / x0.01, flips and scale jitter), checkpoints after every epoch, resumes from the last
/// checkpoint, evaluates on the val split and returns the run's record. What is trained and how it is scored is the
/// run's `RunTask`: a RetinaNet detector (`DetectionTask`, below) or a classifier (`ClassificationTask`).
public final class RunTrainer {
    public let config: RunConfig
    let datasetPath: String
    let runDir: String
    let threads: Int
    let progress: Progress
    let label: String
    /// Test hook: stop (as a kill would) right after this many epochs are checkpointed.
    var interruptAfterEpochs: Int?
    /// The architecture to train when it is not in the spec library (a search candidate); nil looks
    /// `config.model` up there.
    public var spec: ModelSpec?
    /// Ignore any checkpoint and train from the first step (`--force`: a forced re-run must re-train, not
    /// re-evaluate the last checkpoint).
    public var fromScratch = false

    /// A loss above this (or NaN) stops the run with a failure record.
    static let explodingLoss = 1e4

    public init(config: RunConfig, datasetPath: String, runsDir: String, threads: Int, progress: Progress, label: String) {
        self.config = config
        self.datasetPath = datasetPath
        self.runDir = runsDir + "/" + config.name
        self.threads = threads
        self.progress = progress
        self.label = label
    }

    /// Trains (or resumes) and evaluates the run. A loss that turns NaN or explodes ends it early with a record
    /// whose status is `failed` and whose `failure` says where; every other problem throws.
    public func run() throws -> ResultRecord {
        let p = config.profile
        Threads.set(threads)
        DurableFile.removeStaleTemporaries(in: runDir)
        let context = try RunContext(config: config, spec: spec, file: try DatasetFile.open(datasetPath))
        try RunManifest(config: config, datasetPath: datasetPath, datasetChecksum: context.file.checksum).write(to: runDir)
        let train = try context.loader("train", training: true), val = try context.loader("val", training: false)
        let network = context.network, task = context.task()

        let stepsPerEpoch = train.batchesPerEpoch
        guard stepsPerEpoch > 0 else {
            throw HarnessError.badConfig(file: datasetPath, field: "train",
                                         expected: "at least one batch of \(p.batch) images")
        }
        let totalSteps = stepsPerEpoch * p.epochs
        let schedule = p.learningRates(totalSteps: totalSteps)
        let sgd = p.optimizer(for: network.parameters)

        var state = TrainingState()
        if !fromScratch, let saved = try Checkpoint.latest(in: runDir, configHash: config.trainingHash) {
            try saved.restore(into: network, optimizer: sgd)
            state = saved.state
            progress.log("\(label): resuming from the checkpoint after epoch \(state.epochsDone)")
        }
        let resumedFrom = state.epochsDone
        let window = max(1, stepsPerEpoch / 4)
        let started = Date()
        var trainedImages = 0
        func training(steps: Int) -> ResultRecord.Training {
            .init(epochs: p.epochs, steps: steps, batch: p.batch, input: p.input, trainImages: train.imageCount,
                  valImages: val.imageCount, lossCurve: state.lossCurve, lossWindow: window,
                  finalLoss: state.lossCurve.last, resumedFromEpoch: resumedFrom)
        }
        func measured(evalSeconds: Double) -> ResultRecord.Measured {
            let trainSeconds = Date().timeIntervalSince(started) - evalSeconds
            return .init(trainSeconds: trainSeconds, evalSeconds: evalSeconds,
                         trainImagesPerSecond: Double(trainedImages) / max(trainSeconds, 1e-9))
        }

        for epoch in state.epochsDone..<p.epochs {
            train.start(epoch: epoch)
            var windowSum = 0.0, windowCount = 0
            while let batch = try train.next() {
                let step = epoch * stepsPerEpoch + batch.index
                let loss = try task.step(batch, optimizer: sgd, learningRate: schedule.rate(at: step))
                guard loss.isFinite, loss < Self.explodingLoss else {
                    let why = "\(config.name): loss became \(loss) at step \(step); the run stopped (learning rate too high?)"
                    return context.record(status: .failed, failure: why, threads: threads, metrics: Metrics(), areaScale: 0,
                                          training: training(steps: step), measured: measured(evalSeconds: 0))
                }
                windowSum += loss
                windowCount += 1
                if windowCount == window || batch.index == stepsPerEpoch - 1 {
                    state.lossCurve.append(windowSum / Double(windowCount))
                    windowSum = 0
                    windowCount = 0
                }
                trainedImages += batch.batchSize
                let elapsed = Date().timeIntervalSince(started)
                let rate = Double(trainedImages) / max(elapsed, 1e-9)
                let left = Double((totalSteps - step - 1) * p.batch) / max(rate, 1e-9)
                progress.update(run: label, epoch: epoch + 1, epochs: p.epochs, step: step + 1, steps: totalSteps,
                                loss: loss, imagesPerSecond: rate, secondsLeft: left)
            }
            state.epochsDone = epoch + 1
            state.steps = state.epochsDone * stepsPerEpoch
            try Checkpoint(state: state).write(to: runDir, configHash: config.trainingHash, detector: network, optimizer: sgd)
            if let stop = interruptAfterEpochs, state.epochsDone >= stop { throw HarnessError.interrupted(run: config.name) }
        }

        let evalStart = Date()
        let evaluation = try task.evaluate(val, file: context.file, runDir: runDir)
        return context.record(status: .ok, failure: nil, threads: threads, metrics: evaluation.metrics,
                              areaScale: evaluation.areaScale, training: training(steps: totalSteps),
                              measured: measured(evalSeconds: Date().timeIntervalSince(evalStart)))
    }
}

extension DetectionTask {
    /// One SGD step of a detector on a batch; returns the total loss and the batch's positive anchors (the
    /// first-step export records both).
    static func step(_ batch: Batch, detector: Network, retinaNet: RetinaNet, optimizer: SGD,
                     learningRate: Float) throws -> (loss: Double, positives: Int) {
        let targets = try retinaNet.targets(boxes: batch.boxes, labels: batch.labels.map { $0.map(Int.init) })
        let tape = Tape(training: true)
        let images = tape.input(Tensor(shape: [batch.batchSize, batch.height, batch.width, batch.channels], data: batch.images))
        let loss = retinaNet.loss(detector(images, on: tape).retinaNet, targets: targets, on: tape)
        return (descend(loss, on: tape, optimizer: optimizer, learningRate: learningRate), targets.numPositives)
    }
}

/// The loss's value; when finite, also backward and one SGD update (which leaves the gradients zero).
func descend(_ loss: Var, on tape: Tape, optimizer: SGD, learningRate: Float) -> Double {
    let value = Double(tape.value(loss).data[0])
    guard value.isFinite else { return value }
    tape.backward(loss)
    optimizer.step(learningRate: learningRate)
    return value
}

/// The task-specific half of a run: one training step, and the scores on the val split. `RunTrainer` owns
/// everything else (data, schedule, optimiser, checkpoints and resume, the record).
protocol RunTask {
    /// One SGD step on a batch; returns the batch's training loss (the optimiser leaves the gradients zero).
    func step(_ batch: Batch, optimizer: SGD, learningRate: Float) throws -> Double
    /// The record's metrics and its `areaScale` (0 where no size classes apply).
    func evaluate(_ val: DetectionLoader, file: DatasetFile, runDir: String) throws -> (metrics: Metrics, areaScale: Double)
}

/// RetinaNet detection: focal + Huber loss against anchor targets; COCO box metrics, with the val split's
/// ground truth and detections written in the COCO formats to the run folder.
struct DetectionTask: RunTask {
    let network: Network
    let profile: AblationDefinition.Profile
    let retinaNet: RetinaNet

    init(network: Network, numClasses: Int, profile p: AblationDefinition.Profile) {
        (self.network, self.profile) = (network, p)
        retinaNet = RetinaNet(profile: p, numClasses: numClasses)
    }

    func step(_ batch: Batch, optimizer: SGD, learningRate: Float) throws -> Double {
        try Self.step(batch, detector: network, retinaNet: retinaNet, optimizer: optimizer, learningRate: learningRate).loss
    }

    func evaluate(_ val: DetectionLoader, file: DatasetFile, runDir: String) throws -> (metrics: Metrics, areaScale: Double) {
        let e = try DetectorEvaluation.run(detector: network, retinaNet: retinaNet, loader: val, split: try file.split("val"),
                                           classNames: file.classNames, areaScale: profile.areaScale,
                                           batchStatistics: profile.evalBatchNorm == .batch, writeTo: runDir)
        return (e.metrics, e.areaScale)
    }
}

/// Progress through training, saved in every checkpoint.
struct TrainingState: Codable, Equatable {
    var epochsDone = 0
    var steps = 0
    var lossCurve: [Double] = []
}

extension AblationDefinition.Profile {
    /// The profile's learning-rate schedule over a run of `totalSteps`.
    func learningRates(totalSteps: Int) -> LearningRateSchedule {
        LearningRateSchedule(base: Float(learningRate), warmupSteps: Int(warmupFraction * Double(totalSteps)),
                             totalSteps: totalSteps, warmupStartFactor: Float(warmupStart),
                             decayFractions: decayPoints, cosine: schedule == .cosine)
    }

    /// The profile's optimiser (momentum, weight decay, clipping) over `parameters`.
    func optimizer(for parameters: [Parameter]) -> SGD {
        SGD(parameters: parameters, momentum: Float(momentum), weightDecay: Float(weightDecay),
            clipNorm: clipNorm.map(Float.init))
    }
}
