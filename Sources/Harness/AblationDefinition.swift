import Foundation
import Datasets
import Models
import Yams

/// One ablation study as written in `ablations/NAME.yaml`: which models, on which data,
/// trained how (per profile), and the paper's numbers to print beside ours.
public struct AblationDefinition: Codable, Sendable {
    public var name: String
    public var title: String
    /// What the runs train: RetinaNet detectors (the default), or classifiers (`task: classification`).
    public var task: Task = .detection
    /// The dataset of every table; in a classification ablation a table may name its own (`tables[].dataset`),
    /// and this is then the first table's when the file gives none at the top.
    public var dataset: DatasetChoice
    public var tables: [TableDefinition]
    public var profiles: [String: Profile]
    /// What `spinebench tables` makes of the records: per-profile tables, or one calibration report across
    /// profiles (whose points are the profiles themselves, so per-profile tables would say nothing).
    public var report: Report = .tables

    public enum Report: String, Codable, Sendable {
        case tables, calibration
        /// The fidelity comparison with the reference implementation (`ablations/fidelity.yaml`): its records live
        /// under RESULTS/fidelity and `make fidelity` writes its report, so `spinebench tables` makes no table of it.
        case fidelity
    }

    public enum Task: String, Codable, Sendable, Hashable {
        case detection, classification
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case name, title, task, dataset, tables, profiles, report }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        title = try c.decode(String.self, forKey: .title)
        task = try c.decodeIfPresent(Task.self, forKey: .task) ?? .detection
        tables = try c.decode([TableDefinition].self, forKey: .tables)
        // A classification table may bring its own dataset; the top-level one is then needed only by tables without.
        if task == .classification, !c.contains(.dataset), let first = tables.first?.dataset,
           tables.allSatisfy({ $0.dataset != nil }) {
            dataset = first
        } else {
            dataset = try c.decode(DatasetChoice.self, forKey: .dataset)
        }
        profiles = try c.decode([String: Profile].self, forKey: .profiles)
        report = try c.decodeIfPresent(Report.self, forKey: .report) ?? .tables
    }

    /// The dataset a table's runs train on.
    public func dataset(of table: TableDefinition) -> DatasetChoice { table.dataset ?? dataset }

    /// One model on one dataset: what a record stands for. A detection ablation has one dataset, so its units are
    /// its models; a classification ablation trains each model once per dataset of its tables.
    public struct Unit: Sendable, Hashable {
        public var model: String
        public var dataset: DatasetChoice
    }

    /// Every unit, in table order, each once.
    public var units: [Unit] {
        var seen = Set<Unit>()
        return tables.flatMap { t in t.rows.map { Unit(model: $0.model, dataset: dataset(of: t)) } }
            .filter { seen.insert($0).inserted }
    }

    public struct DatasetChoice: Codable, Sendable, Hashable {
        /// Builder kind: `fmnist-det` or `shapes`.
        public var kind: String
        /// Kind to use when the first one's source files are not installed.
        public var fallback: String?
        public var seed: UInt64
        /// fine-shapes only: how strongly its class marks stand out, in (0, 1] (1 when absent; FineGrained.swift).
        public var markContrast: Double?

        public init(kind: String, fallback: String?, seed: UInt64, markContrast: Double? = nil) {
            self.kind = kind
            self.fallback = fallback
            self.seed = seed
            self.markContrast = markContrast
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case kind, fallback, seed, markContrast = "mark_contrast" }

        public init(from decoder: Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            kind = try c.decode(String.self, forKey: .kind)
            fallback = try c.decodeIfPresent(String.self, forKey: .fallback)
            seed = try c.decode(UInt64.self, forKey: .seed)
            markContrast = try c.decodeIfPresent(Double.self, forKey: .markContrast)
        }
    }

    public struct TableDefinition: Codable, Sendable {
        public var id: String
        public var title: String
        /// Classification ablations only: this table's own dataset (the file's `dataset` otherwise).
        public var dataset: DatasetChoice?
        public var baseline: String
        public var rows: [Row]
        public var claims: [Claim]

        enum CodingKeys: String, CodingKey, CaseIterable { case id, title, dataset, baseline, rows, claims }

        public init(from decoder: Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            id = try c.decode(String.self, forKey: .id)
            title = try c.decode(String.self, forKey: .title)
            dataset = try c.decodeIfPresent(DatasetChoice.self, forKey: .dataset)
            baseline = try c.decode(String.self, forKey: .baseline)
            rows = try c.decode([Row].self, forKey: .rows)
            claims = try c.decode([Claim].self, forKey: .claims)
        }

        public struct Row: Codable, Sendable {
            public var model: String
            /// How the paper names the row (e.g. "(1) short removed"); the model's name otherwise.
            public var label: String?
            public var paperAP: Double?
            /// Classification rows: the paper's top-1 and top-5 accuracy (%) for this model on the dataset the
            /// table stands for (docs/paper-facts.md §14).
            public var paperTop1: Double?
            public var paperTop5: Double?
            /// The paper's figure could not be checked against the PDF (docs/paper-facts.md §10 marks it).
            public var paperUnverified: Bool?
            enum CodingKeys: String, CodingKey, CaseIterable {
                case model, label, paperAP = "paper_ap", paperTop1 = "paper_top1", paperTop5 = "paper_top5"
                case paperUnverified = "paper_unverified"
            }

            public init(from decoder: Decoder) throws {
                try decoder.rejectUnknownKeys(CodingKeys.self)
                let c = try decoder.container(keyedBy: CodingKeys.self)
                model = try c.decode(String.self, forKey: .model)
                label = try c.decodeIfPresent(String.self, forKey: .label)
                paperAP = try c.decodeIfPresent(Double.self, forKey: .paperAP)
                paperTop1 = try c.decodeIfPresent(Double.self, forKey: .paperTop1)
                paperTop5 = try c.decodeIfPresent(Double.self, forKey: .paperTop5)
                paperUnverified = try c.decodeIfPresent(Bool.self, forKey: .paperUnverified)
            }
        }
        /// A claim of the paper about a table's rows. Four kinds:
        /// - `{ better: A, worse: B }` (the default kind, `kind: better` may be written): A has higher AP than B,
        ///   tested paired by seed;
        /// - `{ kind: curve_above, family: F, against: G }`: at matched multiply-adds (trained size) the AP of the
        ///   rows whose spec family is F lies above the curve of the rows of family G, linearly interpolated in log
        ///   multiply-adds; one test per F row inside G's range (`TableWriter.claims`). F and G are the `family`
        ///   values of ablations/specs (`scale_permuted`, `resnet_fpn`);
        /// - `{ kind: above_median, model: A, of: [R1, R2, ...] }`: A has higher AP than the median of the rows
        ///   R (e.g. random members of A's search space), tested paired by seed: per seed, A minus the median of
        ///   the R trained with that seed (seeds where any of them is missing are dropped).
        /// - `{ kind: not_worse, better: A, worse: B, margin: M }` (classification): A's top-1 is not more than M
        ///   points below B's, a non-inferiority claim for the paper's "matches at fewer FLOPs": the paired test is
        ///   on (A - B + M), so "supported" means the 95% CI of A - B lies above -M.
        /// Keys of another kind are errors, as unknown keys are.
        public enum Claim: Codable, Sendable, Equatable {
            case better(String, than: String)
            case curveAbove(family: Family, against: Family)
            case aboveMedian(String, of: [String])
            case notWorse(String, than: String, margin: Double)

            public enum Kind: String, Codable, Sendable, CaseIterable {
                case better
                case curveAbove = "curve_above"
                case aboveMedian = "above_median"
                case notWorse = "not_worse"
            }

            enum CodingKeys: String, CodingKey, CaseIterable { case kind, better, worse, family, against, model, of, margin }

            public init(from decoder: Decoder) throws {
                try decoder.rejectUnknownKeys(CodingKeys.self)
                let c = try decoder.container(keyedBy: CodingKeys.self)
                let kind = try c.decodeIfPresent(Kind.self, forKey: .kind) ?? .better
                func reject(_ keys: [CodingKeys]) throws {
                    for key in keys where c.contains(key) {
                        throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [key], debugDescription:
                            "no '\(key.stringValue)' in a claim of kind \(kind.rawValue) (better: better, worse; "
                            + "curve_above: family, against; above_median: model, of; not_worse: better, worse, margin)"))
                    }
                }
                switch kind {
                case .better:
                    try reject([.family, .against, .model, .of, .margin])
                    self = .better(try c.decode(String.self, forKey: .better), than: try c.decode(String.self, forKey: .worse))
                case .notWorse:
                    try reject([.family, .against, .model, .of])
                    let margin = try c.decode(Double.self, forKey: .margin)
                    guard margin >= 0, margin.isFinite else {
                        throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [CodingKeys.margin],
                            debugDescription: "a margin >= 0 (points of top-1 accuracy)"))
                    }
                    self = .notWorse(try c.decode(String.self, forKey: .better), than: try c.decode(String.self, forKey: .worse),
                                     margin: margin)
                case .curveAbove:
                    try reject([.better, .worse, .model, .of, .margin])
                    let family = try c.decode(Family.self, forKey: .family)
                    let against = try c.decode(Family.self, forKey: .against)
                    guard family != against else {
                        throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [CodingKeys.against],
                            debugDescription: "a family other than the claim's own (\(family.rawValue))"))
                    }
                    self = .curveAbove(family: family, against: against)
                case .aboveMedian:
                    try reject([.better, .worse, .family, .against, .margin])
                    let model = try c.decode(String.self, forKey: .model)
                    let others = try c.decode([String].self, forKey: .of)
                    guard others.count >= 2, Set(others).count == others.count, !others.contains(model) else {
                        throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [CodingKeys.of],
                            debugDescription: "at least two distinct models other than '\(model)'"))
                    }
                    self = .aboveMedian(model, of: others)
                }
            }

            public func encode(to encoder: Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                switch self {
                case let .better(better, worse):
                    try c.encode(better, forKey: .better)
                    try c.encode(worse, forKey: .worse)
                case let .curveAbove(family, against):
                    try c.encode(Kind.curveAbove, forKey: .kind)
                    try c.encode(family, forKey: .family)
                    try c.encode(against, forKey: .against)
                case let .aboveMedian(model, others):
                    try c.encode(Kind.aboveMedian, forKey: .kind)
                    try c.encode(model, forKey: .model)
                    try c.encode(others, forKey: .of)
                case let .notWorse(better, worse, margin):
                    try c.encode(Kind.notWorse, forKey: .kind)
                    try c.encode(better, forKey: .better)
                    try c.encode(worse, forKey: .worse)
                    try c.encode(margin, forKey: .margin)
                }
            }
        }
    }

    /// Everything one profile (smoke, quick, paper...) trains with: the data, the proxy architecture
    /// settings and the whole recipe. Every field is required in the file and unknown keys are errors, so
    /// every number that can change a result is in the file, in the config hash and in each record.
    public struct Profile: Codable, Sendable, Hashable {
        public var dataset: DatasetSize
        public var input: Int
        public var scale: Double
        public var alpha: Double
        public var endpoints: Int
        public var headFilters: Int
        public var headConvs: Int
        /// Anchor base size in units of the level's stride (3 in the paper at 640 px). With it the COCO
        /// size classes are placed in the anchor pyramid (see `areaScale`).
        public var anchorSize: Double
        /// Batch-norm moving-average momentum (0.99 in the paper's code).
        public var bnMomentum: Double
        public var epochs: Int
        public var batch: Int
        public var seeds: Int
        public var learningRate: Double
        public var warmupFraction: Double
        /// The warmup starts at this fraction of the learning rate.
        public var warmupStart: Double
        public var schedule: Schedule
        /// Step schedule: fractions of training after which the rate is multiplied by 0.1 each.
        public var decayPoints: [Double]
        public var momentum: Double
        public var weightDecay: Double
        /// Global gradient-norm clip; nil (`null` in the file) means none.
        public var clipNorm: Double?
        public var focalAlpha: Double
        public var focalGamma: Double
        public var huberDelta: Double
        public var boxWeight: Double
        public var flipProbability: Double
        /// Training scale jitter [low, high] on top of fitting the image to the input.
        public var scaleJitter: [Double]
        /// Which statistics batch norm uses at evaluation: `moving` (the moving averages, as the paper's code)
        /// or `batch` (each evaluation batch's own, as in training). At 96 px the L6/L7 maps are 2x2 and 1x1,
        /// so training normalises them over 16-64 values per batch and the moving averages describe inputs the
        /// network never saw normalised that way; docs/geometry.md §11 has the measurements.
        public var evalBatchNorm: EvalBatchNorm
        /// Classification profiles only (and required there): the label smoothing of the softmax cross-entropy
        /// (0.1 in the paper's classification recipe, docs/paper-facts.md §14). Its presence makes the profile a
        /// classification one: the detection-only keys (`head_filters`, `head_convs`, `anchor_size`, `focal_*`,
        /// `huber_delta`, `box_weight`, and `max_objects`, `min_side`, `max_side` of `dataset`) are then errors,
        /// hold 0 in memory and are neither hashed nor recorded.
        public var labelSmoothing: Double?

        /// A classification profile (it has `label_smoothing`).
        public var isClassification: Bool { labelSmoothing != nil }

        public enum EvalBatchNorm: String, Codable, Sendable, Hashable {
            case moving, batch
        }

        public enum Schedule: String, Codable, Sendable, Hashable {
            /// x0.1 at each of `decayPoints` (protocol A).
            case step
            /// Half-cosine from the base rate to zero after the warmup.
            case cosine
        }

        public struct DatasetSize: Codable, Sendable, Hashable {
            public var size: Int
            public var train: Int
            public var val: Int
            public var maxObjects: Int
            /// Object sides (square root of the drawn area, in pixels) are log-uniform in [minSide, maxSide]:
            /// equal shares per octave, so per pyramid level.
            public var minSide: Int
            public var maxSide: Int
            /// False for a classification dataset: one labelled image each, no objects, so `max_objects`, `min_side`
            /// and `max_side` are not keys of it (they hold 0 and are not encoded).
            public var hasObjects = true
            enum CodingKeys: String, CodingKey, CaseIterable {
                case size, train, val, maxObjects = "max_objects", minSide = "min_side", maxSide = "max_side"
            }

            public init(size: Int, train: Int, val: Int, maxObjects: Int, minSide: Int, maxSide: Int) {
                (self.size, self.train, self.val, self.maxObjects) = (size, train, val, maxObjects)
                (self.minSide, self.maxSide) = (minSide, maxSide)
            }

            /// A classification dataset's size: images of `size` px, `train` / `val` of them.
            public init(size: Int, train: Int, val: Int) {
                (self.size, self.train, self.val) = (size, train, val)
                (maxObjects, minSide, maxSide, hasObjects) = (0, 0, 0, false)
            }

            /// All three object keys, or none of them (a classification dataset; `Profile` checks which it needs).
            public init(from decoder: Decoder) throws {
                try decoder.rejectUnknownKeys(CodingKeys.self)
                let c = try decoder.container(keyedBy: CodingKeys.self)
                size = try c.decode(Int.self, forKey: .size)
                train = try c.decode(Int.self, forKey: .train)
                val = try c.decode(Int.self, forKey: .val)
                hasObjects = [CodingKeys.maxObjects, .minSide, .maxSide].contains { c.contains($0) }
                if hasObjects {
                    maxObjects = try c.decode(Int.self, forKey: .maxObjects)
                    minSide = try c.decode(Int.self, forKey: .minSide)
                    maxSide = try c.decode(Int.self, forKey: .maxSide)
                } else {
                    (maxObjects, minSide, maxSide) = (0, 0, 0)
                }
            }

            public func encode(to encoder: Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(size, forKey: .size)
                try c.encode(train, forKey: .train)
                try c.encode(val, forKey: .val)
                if hasObjects {
                    try c.encode(maxObjects, forKey: .maxObjects)
                    try c.encode(minSide, forKey: .minSide)
                    try c.encode(maxSide, forKey: .maxSide)
                }
            }
        }

        /// The memberwise form; recipe arguments default to protocol A as docs/paper-facts.md §11 states it
        /// for callers that build a profile in code (tests, the search proxy).
        public init(dataset: DatasetSize, input: Int, scale: Double, alpha: Double, endpoints: Int, headFilters: Int,
                    headConvs: Int, epochs: Int, batch: Int, learningRate: Double, warmupFraction: Double,
                    weightDecay: Double, seeds: Int, anchorSize: Double, bnMomentum: Double = 0.99,
                    warmupStart: Double = 0.1, schedule: Schedule = .step, decayPoints: [Double] = [0.75, 0.9],
                    momentum: Double = 0.9, clipNorm: Double? = 10, focalAlpha: Double = 0.25, focalGamma: Double = 1.5,
                    huberDelta: Double = 0.1, boxWeight: Double = 50, flipProbability: Double = 0.5,
                    scaleJitter: [Double] = [0.8, 1.2], evalBatchNorm: EvalBatchNorm = .batch, labelSmoothing: Double? = nil) {
            self.dataset = dataset
            self.input = input
            self.scale = scale
            self.alpha = alpha
            self.endpoints = endpoints
            self.headFilters = headFilters
            self.headConvs = headConvs
            self.anchorSize = anchorSize
            self.bnMomentum = bnMomentum
            self.epochs = epochs
            self.batch = batch
            self.seeds = seeds
            self.learningRate = learningRate
            self.warmupFraction = warmupFraction
            self.warmupStart = warmupStart
            self.schedule = schedule
            self.decayPoints = decayPoints
            self.momentum = momentum
            self.weightDecay = weightDecay
            self.clipNorm = clipNorm
            self.focalAlpha = focalAlpha
            self.focalGamma = focalGamma
            self.huberDelta = huberDelta
            self.boxWeight = boxWeight
            self.flipProbability = flipProbability
            self.scaleJitter = scaleJitter
            self.evalBatchNorm = evalBatchNorm
            self.labelSmoothing = labelSmoothing
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case dataset, input, scale, alpha, endpoints, epochs, batch, seeds, schedule, momentum
            case headFilters = "head_filters", headConvs = "head_convs", anchorSize = "anchor_size"
            case bnMomentum = "bn_momentum", learningRate = "learning_rate", warmupFraction = "warmup_fraction"
            case warmupStart = "warmup_start", decayPoints = "decay_points", weightDecay = "weight_decay"
            case clipNorm = "clip_norm", focalAlpha = "focal_alpha", focalGamma = "focal_gamma"
            case huberDelta = "huber_delta", boxWeight = "box_weight", flipProbability = "flip_probability"
            case scaleJitter = "scale_jitter", evalBatchNorm = "eval_batch_norm", labelSmoothing = "label_smoothing"
        }

        /// The keys only a detection profile has.
        static let detectionKeys: [CodingKeys] = [.headFilters, .headConvs, .anchorSize, .focalAlpha, .focalGamma,
                                                  .huberDelta, .boxWeight]

        /// Every key is required (`clip_norm: null` says "no clipping" explicitly); unknown keys are errors.
        /// A classification profile (with `label_smoothing`) has every key but the detection-only ones, which are
        /// errors there.
        public init(from decoder: Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            labelSmoothing = try c.decodeIfPresent(Double.self, forKey: .labelSmoothing)
            let classifying = labelSmoothing != nil
            dataset = try c.decode(DatasetSize.self, forKey: .dataset)
            if classifying {
                for key in Self.detectionKeys where c.contains(key) {
                    throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [key], debugDescription:
                        "no '\(key.stringValue)' in a classification profile (one with label_smoothing): it has no detection head"))
                }
                if dataset.hasObjects {
                    throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [CodingKeys.dataset], debugDescription:
                        "only size, train and val in a classification profile's dataset (no max_objects, min_side, max_side)"))
                }
            } else if !dataset.hasObjects {
                throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [CodingKeys.dataset], debugDescription:
                    "max_objects, min_side and max_side in a detection profile's dataset (a classification profile, whose "
                    + "images have no objects, sets label_smoothing)"))
            }
            input = try c.decode(Int.self, forKey: .input)
            scale = try c.decode(Double.self, forKey: .scale)
            alpha = try c.decode(Double.self, forKey: .alpha)
            endpoints = try c.decode(Int.self, forKey: .endpoints)
            headFilters = classifying ? 0 : try c.decode(Int.self, forKey: .headFilters)
            headConvs = classifying ? 0 : try c.decode(Int.self, forKey: .headConvs)
            anchorSize = classifying ? 0 : try c.decode(Double.self, forKey: .anchorSize)
            bnMomentum = try c.decode(Double.self, forKey: .bnMomentum)
            epochs = try c.decode(Int.self, forKey: .epochs)
            batch = try c.decode(Int.self, forKey: .batch)
            seeds = try c.decode(Int.self, forKey: .seeds)
            learningRate = try c.decode(Double.self, forKey: .learningRate)
            warmupFraction = try c.decode(Double.self, forKey: .warmupFraction)
            warmupStart = try c.decode(Double.self, forKey: .warmupStart)
            schedule = try c.decode(Schedule.self, forKey: .schedule)
            decayPoints = try c.decode([Double].self, forKey: .decayPoints)
            momentum = try c.decode(Double.self, forKey: .momentum)
            weightDecay = try c.decode(Double.self, forKey: .weightDecay)
            guard c.contains(.clipNorm) else {
                throw DecodingError.keyNotFound(CodingKeys.clipNorm, .init(codingPath: c.codingPath,
                                                                           debugDescription: "clip_norm"))
            }
            clipNorm = try c.decodeIfPresent(Double.self, forKey: .clipNorm)
            focalAlpha = classifying ? 0 : try c.decode(Double.self, forKey: .focalAlpha)
            focalGamma = classifying ? 0 : try c.decode(Double.self, forKey: .focalGamma)
            huberDelta = classifying ? 0 : try c.decode(Double.self, forKey: .huberDelta)
            boxWeight = classifying ? 0 : try c.decode(Double.self, forKey: .boxWeight)
            flipProbability = try c.decode(Double.self, forKey: .flipProbability)
            scaleJitter = try c.decode([Double].self, forKey: .scaleJitter)
            evalBatchNorm = try c.decode(EvalBatchNorm.self, forKey: .evalBatchNorm)
        }

        /// Keys that change only how a trained network is scored: left out of the training hash, so that a
        /// checkpoint is re-scored, not re-trained, when only they change.
        static let evaluationKeys: Set<CodingKeys> = [.evalBatchNorm]

        /// The same keys and values as the synthesized form; without `evaluationKeys` when the encoder's
        /// userInfo has `trainingOnly` (RunConfig.trainingHash).
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            let trainingOnly = encoder.userInfo[.trainingOnly] as? Bool ?? false
            let detecting = !isClassification
            try c.encode(dataset, forKey: .dataset)
            try c.encode(input, forKey: .input)
            try c.encode(scale, forKey: .scale)
            try c.encode(alpha, forKey: .alpha)
            try c.encode(endpoints, forKey: .endpoints)
            if detecting {
                try c.encode(headFilters, forKey: .headFilters)
                try c.encode(headConvs, forKey: .headConvs)
                try c.encode(anchorSize, forKey: .anchorSize)
            }
            try c.encode(bnMomentum, forKey: .bnMomentum)
            try c.encode(epochs, forKey: .epochs)
            try c.encode(batch, forKey: .batch)
            try c.encode(seeds, forKey: .seeds)
            try c.encode(learningRate, forKey: .learningRate)
            try c.encode(warmupFraction, forKey: .warmupFraction)
            try c.encode(warmupStart, forKey: .warmupStart)
            try c.encode(schedule, forKey: .schedule)
            try c.encode(decayPoints, forKey: .decayPoints)
            try c.encode(momentum, forKey: .momentum)
            try c.encode(weightDecay, forKey: .weightDecay)
            try c.encodeIfPresent(clipNorm, forKey: .clipNorm)
            if detecting {
                try c.encode(focalAlpha, forKey: .focalAlpha)
                try c.encode(focalGamma, forKey: .focalGamma)
                try c.encode(huberDelta, forKey: .huberDelta)
                try c.encode(boxWeight, forKey: .boxWeight)
            }
            try c.encodeIfPresent(labelSmoothing, forKey: .labelSmoothing)
            try c.encode(flipProbability, forKey: .flipProbability)
            try c.encode(scaleJitter, forKey: .scaleJitter)
            if !trainingOnly { try c.encode(evalBatchNorm, forKey: .evalBatchNorm) }
        }

        /// The first rule this profile breaks, as (field, what was expected), or nil when it is sound.
        public func problem() -> (field: String, expected: String)? {
            let d = dataset
            if let e = labelSmoothing {
                let checks: [(Bool, String, String)] = [
                    (e >= 0 && e < 1, "label_smoothing", "in [0, 1)"),
                    (d.size >= 8 && d.train >= 1 && d.val >= 1, "dataset", "size >= 8, train, val >= 1"),
                ]
                if let bad = checks.first(where: { !$0.0 }) { return (bad.1, bad.2) }
            }
            var checks: [(Bool, String, String)] = [
                (epochs >= 1, "epochs", "an integer >= 1"), (batch >= 1, "batch", "an integer >= 1"),
                (seeds >= 1, "seeds", "an integer >= 1"), (input >= 32, "input", "an integer >= 32"),
                (scale > 0, "scale", "a width scale > 0"), (alpha > 0, "alpha", "a resampling alpha > 0"),
                (endpoints >= 1, "endpoints", ">= 1"), (headFilters >= 1, "head_filters", ">= 1"),
                (headConvs >= 0, "head_convs", ">= 0"), (anchorSize > 0, "anchor_size", "> 0"),
                (bnMomentum >= 0 && bnMomentum < 1, "bn_momentum", "in [0, 1)"),
                (learningRate > 0 && learningRate.isFinite, "learning_rate", "a rate > 0"),
                (warmupFraction >= 0 && warmupFraction < 1, "warmup_fraction", "in [0, 1)"),
                (warmupStart > 0 && warmupStart <= 1, "warmup_start", "in (0, 1]"),
                (decayPoints.allSatisfy { $0 > 0 && $0 < 1 } && decayPoints == decayPoints.sorted(), "decay_points",
                 "increasing fractions in (0, 1)"),
                (momentum >= 0 && momentum < 1, "momentum", "in [0, 1)"), (weightDecay >= 0, "weight_decay", ">= 0"),
                ((clipNorm ?? 1) > 0, "clip_norm", "a norm > 0, or null for no clipping"),
                (focalAlpha > 0 && focalAlpha < 1, "focal_alpha", "in (0, 1)"), (focalGamma >= 0, "focal_gamma", ">= 0"),
                (huberDelta > 0, "huber_delta", "> 0"), (boxWeight >= 0, "box_weight", ">= 0"),
                (flipProbability >= 0 && flipProbability <= 1, "flip_probability", "in [0, 1]"),
                (scaleJitter.count == 2 && scaleJitter[0] > 0 && scaleJitter[0] <= scaleJitter[1], "scale_jitter",
                 "[low, high] with 0 < low <= high"),
                (d.size >= 8 && d.train >= 1 && d.val >= 1 && d.maxObjects >= 1, "dataset",
                 "size >= 8, train, val, max_objects >= 1"),
                (d.minSide >= 2 && d.minSide <= d.maxSide && Double(d.maxSide) <= 0.9 * Double(d.size), "dataset.min_side",
                 "2 <= min_side <= max_side <= 0.9 x size"),
            ]
            if isClassification {
                // The detection-only keys are absent (0 in memory): only the shared ones are checked.
                let detectionOnly: Set<String> = ["head_filters", "head_convs", "anchor_size", "focal_alpha", "focal_gamma",
                                                  "huber_delta", "box_weight", "dataset", "dataset.min_side"]
                checks.removeAll { detectionOnly.contains($0.1) }
            }
            return checks.first { !$0.0 }.map { ($0.1, $0.2) }
        }

        /// COCO's small / medium / large bounds (32^2, 96^2 px at 640 px with anchor size 3) sit at fixed
        /// places in the anchor pyramid: 32 px is 4/3 of L3's base anchor, 96 px is L5's. Scaling the areas by
        /// (anchor_size / 3)^2 keeps those places, so APs / APm / APl mean "objects at L3 / L4 / L5 and up"
        /// here as in the paper, whatever the input size.
        public var areaScale: Double { (anchorSize / 3) * (anchorSize / 3) }
    }

    /// Every model the ablation trains, in table order, each once.
    public var models: [String] {
        var seen = Set<String>()
        return tables.flatMap { $0.rows.map(\.model) }.filter { seen.insert($0).inserted }
    }

    public func profile(_ name: String, file: String) throws -> Profile {
        guard let p = profiles[name] else {
            throw HarnessError.badConfig(file: file, field: "profiles.\(name)",
                                         expected: "one of \(profiles.keys.sorted().joined(separator: ", "))")
        }
        return p
    }

    /// Reads and checks an ablation file; errors name the file, the field and its line.
    public static func load(_ path: String) throws -> AblationDefinition {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw HarnessError.badConfig(file: path, field: "(file)", expected: "a readable YAML file")
        }
        let def = try StrictYAML.decode(AblationDefinition.self, from: text, file: path)
        try def.checkTask(file: path)
        for table in def.tables where !table.rows.contains(where: { $0.model == table.baseline }) {
            throw HarnessError.badConfig(file: path, field: "tables.\(table.id).baseline",
                                         expected: "one of the table's row models")
        }
        for (name, p) in def.profiles.sorted(by: { $0.key < $1.key }) {
            if p.isClassification != (def.task == .classification) {
                throw HarnessError.badConfig(file: path, field: "profiles.\(name).label_smoothing", expected: def.task == .classification
                    ? "present: a classification ablation's profiles set label_smoothing (0 for none)"
                    : "absent: only a classification ablation (task: classification) has label_smoothing")
            }
            if let (field, expected) = p.problem() {
                throw HarnessError.badConfig(file: path, field: "profiles.\(name).\(field)", expected: expected)
            }
        }
        return def
    }
}

extension AblationDefinition {
    /// The task agrees with the dataset kinds, the tables' own datasets and the claim kinds.
    func checkTask(file path: String) throws {
        let classifying = task == .classification
        func check(_ choice: DatasetChoice, field: String) throws {
            for kind in [choice.kind] + (choice.fallback.map { [$0] } ?? []) {
                guard let k = DatasetKind(rawValue: kind) else {
                    throw HarnessError.badConfig(file: path, field: field, expected: DatasetKind.allCases.map(\.rawValue).joined(separator: ", "))
                }
                guard k.isClassification == classifying else {
                    let kinds = DatasetKind.allCases.filter { $0.isClassification == classifying }.map(\.rawValue)
                    throw HarnessError.badConfig(file: path, field: field, expected:
                        "a \(task.rawValue) dataset kind (\(kinds.joined(separator: ", "))), not '\(kind)'")
                }
            }
            if let m = choice.markContrast {
                let markField = field.replacingOccurrences(of: ".kind", with: ".mark_contrast")
                guard choice.kind == DatasetKind.fineShapes.rawValue, choice.fallback == nil else {
                    throw HarnessError.badConfig(file: path, field: markField, expected: "no mark_contrast: it applies to fine-shapes only")
                }
                guard m > 0, m <= 1 else {
                    throw HarnessError.badConfig(file: path, field: markField, expected: "a value in (0, 1], not \(m)")
                }
            }
        }
        // A classification file whose tables all bring their own dataset has no top-level one of its own (it holds
        // the first table's), so errors name the table.
        if !classifying || tables.contains(where: { $0.dataset == nil }) { try check(dataset, field: "dataset.kind") }
        for t in tables {
            if let own = t.dataset {
                guard classifying else {
                    throw HarnessError.badConfig(file: path, field: "tables.\(t.id).dataset", expected:
                        "no dataset of its own: the tables of a detection ablation share the file's `dataset`")
                }
                try check(own, field: "tables.\(t.id).dataset.kind")
            }
            for claim in t.claims {
                switch claim {
                case .curveAbove where classifying, .aboveMedian where classifying:
                    throw HarnessError.badConfig(file: path, field: "tables.\(t.id).claims", expected: "better or not_worse claims "
                        + "in a classification ablation (curve_above and above_median are AP claims of detection)")
                case .notWorse where !classifying:
                    throw HarnessError.badConfig(file: path, field: "tables.\(t.id).claims", expected: "better, curve_above or "
                        + "above_median claims in a detection ablation (not_worse is a top-1 non-inferiority claim)")
                default: break
                }
            }
        }
    }
}

extension DecodingError {
    /// The dotted path of the field a YAML/JSON decode failed on.
    public var fieldPath: String {
        let s = codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        return s.isEmpty ? "(root)" : s
    }

    public var plainDescription: String {
        switch self {
        case .keyNotFound: return "this field to be present"
        case .typeMismatch(let type, _): return "a value of type \(type)"
        case .valueNotFound(let type, _): return "a value of type \(type)"
        case .dataCorrupted(let c): return c.debugDescription
        @unknown default: return "valid content"
        }
    }
}

extension Family {
    /// How tables and plots name a family's curve.
    public var label: String { self == .scalePermuted ? "scale-permuted" : "ResNet-FPN" }
}
