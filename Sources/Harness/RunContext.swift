import Datasets
import Engine
import Models
import Foundation

/// What training a run, re-scoring it (`spinebench evaluate`) and writing its record all start from: the run's
/// config, its dataset opened, and its network built at the profile's setting and checked against the
/// architecture the config was made for. One place, so the three cannot drift apart.
struct RunContext {
    let config: RunConfig
    let file: DatasetFile
    let built: BuiltDetector

    /// `spec` is a search candidate's architecture (nil looks `config.model` up in the spec library).
    init(config: RunConfig, spec: ModelSpec?, file: DatasetFile) throws {
        self.config = config
        self.file = file
        built = try DetectorFactory.build(model: config.model, spec: spec, profile: config.profile,
                                          numClasses: file.classNames.count, seed: UInt64(config.seed))
        try config.checkModel(built.modelHash)
    }

    var network: Network { built.network }

    /// A split in the profile's batches at its input size: shuffled and augmented (flips, scale jitter) for
    /// training, in order and unaugmented otherwise.
    func loader(_ split: String, training: Bool) throws -> DetectionLoader {
        let p = config.profile, seed = UInt64(config.seed)
        let options = training
            ? LoaderOptions(batchSize: p.batch, outputSize: p.input, training: true, seed: seed,
                            jitter: p.scaleJitter[0]...p.scaleJitter[1], flipProbability: p.flipProbability)
            : LoaderOptions(batchSize: p.batch, outputSize: p.input, training: false, seed: seed)
        return try DetectionLoader(file: file, split: split, options: options)
    }

    /// What the run trains and how it is scored. `evalBatchNorm` overrides the profile's `eval_batch_norm`.
    func task(evalBatchNorm: AblationDefinition.Profile.EvalBatchNorm? = nil) -> RunTask {
        var p = config.profile
        if let evalBatchNorm { p.evalBatchNorm = evalBatchNorm }
        let classes = file.classNames.count
        return config.isClassification
            ? ClassificationTask(network: network, numClasses: classes, labelSmoothing: Float(p.labelSmoothing ?? 0),
                                 batchStatistics: p.evalBatchNorm == .batch)
            : DetectionTask(network: network, numClasses: classes, profile: p)
    }

    /// The run's record, whatever the outcome: what was run, on which data, by which code, and what it scored.
    func record(status: RunStatus, failure: String?, threads: Int, metrics: Metrics, areaScale: Double,
                training: ResultRecord.Training, measured: ResultRecord.Measured) -> ResultRecord {
        ResultRecord(
            ablation: config.ablation, model: config.model, profile: config.profileName, seed: config.seed,
            config: config, status: status, failure: failure,
            architecture: .init(displayName: built.displayName, provenance: built.provenance),
            metrics: metrics, areaScale: areaScale, size: built.size, training: training, measured: measured,
            provenance: .init(commit: ProvenanceProbe.commit(), sourceTree: ProvenanceProbe.sourceTree(),
                              dirty: ProvenanceProbe.dirty(), configHash: config.hash,
                              datasetChecksum: file.checksum, datasetSource: "\(file.builder): \(file.source)",
                              toolchain: ProvenanceProbe.toolchain, openblas: Threads.blasConfig, threads: threads),
            determinism: Self.determinismNote)
    }

    static let determinismNote = """
        Bit-identical for the same commit, config, seed, OpenBLAS build and CPU kind, except `measured` \
        (wall-clock); the thread count does not matter (work is split by shape alone). A different OpenBLAS \
        version or kernel set (the core named in `openblas`, chosen from the CPU or by OPENBLAS_CORETYPE), \
        `Convolution.winograd` off, fusion off (`--no-fusion`: the fused kernels sum in other orders), or a resume \
        with a different build can change the last bits and, through training, the metrics.
        """
}
