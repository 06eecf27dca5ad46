import Foundation
import Harness
import Models
import Yams

/// One search as written in `ablations/search/NAME.yaml`: the space (stem, block allocation or a fixed
/// order, which parts are searched), the proxy task that scores a candidate, the algorithm, seed and budget.
/// See ablations/search/README.md for the fields.
public struct SpaceDefinition: Codable, Sendable {
    /// Names the search; its logs go to `results/search/NAME/`.
    public var name: String
    /// The spec the best candidate is written as (`ablations/specs/WRITES.yaml`) and its aliases.
    public var writes: String
    public var aliases: [String]
    /// Where the space comes from (goes into the written spec's note).
    public var note: String
    /// Stem bottleneck blocks per level L2..L5 (StemSpec).
    public var stem: [Int]
    /// Permuted blocks per level L2..L7 (Table 1); required when the order is searched.
    public var allocation: [Int]?
    /// The fixed order (levels in build order); required when the order is not searched.
    public var order: FixedOrder?
    public var search: Parts
    public var proxy: ProxySettings
    public var algorithm: Algorithm
    public var seed: UInt64
    /// Candidates to evaluate over all shards (`--budget` overrides it).
    public var budget: Int

    public struct FixedOrder: Codable, Sendable, Hashable {
        public var intermediate: [Int]
        public var outputs: [Int]
    }

    public struct Parts: Codable, Sendable, Hashable {
        /// Permute intermediate blocks and output blocks (separately).
        public var order: Bool
        /// Pick each block's two parents; false connects by ConnectionRule.
        public var connections: Bool
        /// SpineNet-49's block adjustments: intermediate level shift in {-1,0,1,2}, bottleneck or residual.
        public var adjustments: Bool
    }

    public struct Algorithm: Codable, Sendable, Hashable {
        /// `evolution` (regularized evolution, Real et al. 2019), `random` (random search) or `halving`
        /// (successive halving over training length, SuccessiveHalving).
        public var kind: String
        /// Evolution: population size P (also the number of random candidates it starts from).
        public var population: Int?
        /// Evolution: tournament sample size S.
        public var sample: Int?
        /// Halving: the fraction 1/eta of a rung goes on to the next.
        public var eta: Int?
        /// Halving: training length of each rung in epochs, increasing, the last one `proxy.epochs`.
        public var rungs: [Int]?
        /// Halving: seeds of the last rung (its mean reward decides).
        public var finalSeeds: Int?

        public init(kind: String, population: Int? = nil, sample: Int? = nil, eta: Int? = nil, rungs: [Int]? = nil,
                    finalSeeds: Int? = nil) {
            self.kind = kind; self.population = population; self.sample = sample
            self.eta = eta; self.rungs = rungs; self.finalSeeds = finalSeeds
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case kind, population, sample, eta, rungs, finalSeeds = "final_seeds"
        }

        /// How summaries and specs name it.
        public var description: String {
            switch kind {
            case "evolution": return "regularized evolution (P \(population ?? 0), S \(sample ?? 0))"
            case "halving":
                return "successive halving (eta \(eta ?? 0), epochs \((rungs ?? []).map(String.init).joined(separator: "->")), "
                    + "\(finalSeeds ?? 1) seed(s) at the last rung)"
            default: return "random search"
            }
        }
    }

    /// The proxy task (the paper's NAS proxy, scaled down): data drawn from the train split only, a part of it
    /// held out for scoring, short training at width `scale`, resampling `alpha`, a small head.
    public struct ProxySettings: Codable, Sendable, Hashable {
        public var dataset: Data
        /// Fraction of the drawn train images held out for the reward (never trained on).
        public var heldOut: Double
        /// The reward: a COCO metric key (`AP`, the paper's) of the held-out images.
        public var metric: String
        public var input: Int
        public var scale: Double
        public var alpha: Double
        public var endpoints: Int
        public var headFilters: Int
        public var headConvs: Int
        public var anchorSize: Double
        public var epochs: Int
        public var batch: Int
        public var learningRate: Double
        public var warmupFraction: Double
        public var weightDecay: Double

        public struct Data: Codable, Sendable, Hashable {
            public var kind: String
            public var fallback: String?
            public var seed: UInt64
            public var size: Int
            /// Images drawn from the builder's train split (held-out part included).
            public var images: Int
            public var maxObjects: Int
            /// Object sides in pixels, log-uniform (as the ablations' `dataset.min_side` / `max_side`).
            public var minSide: Int
            public var maxSide: Int
            enum CodingKeys: String, CodingKey {
                case kind, fallback, seed, size, images, maxObjects = "max_objects", minSide = "min_side", maxSide = "max_side"
            }
        }

        enum CodingKeys: String, CodingKey {
            case dataset, metric, input, scale, alpha, endpoints, epochs, batch
            case heldOut = "held_out", headFilters = "head_filters", headConvs = "head_convs"
            case anchorSize = "anchor_size", learningRate = "learning_rate"
            case warmupFraction = "warmup_fraction", weightDecay = "weight_decay"
        }

        public var heldOutImages: Int { Int((Double(dataset.images) * heldOut).rounded()) }

        /// The training settings in the harness's form (its `dataset` sizes are the held-out file's splits).
        public var profile: AblationDefinition.Profile {
            AblationDefinition.Profile(
                dataset: .init(size: dataset.size, train: dataset.images - heldOutImages, val: heldOutImages,
                               maxObjects: dataset.maxObjects, minSide: dataset.minSide, maxSide: dataset.maxSide),
                input: input, scale: scale, alpha: alpha, endpoints: endpoints, headFilters: headFilters,
                headConvs: headConvs, epochs: epochs, batch: batch, learningRate: learningRate,
                warmupFraction: warmupFraction, weightDecay: weightDecay, seeds: 1, anchorSize: anchorSize)
        }

        /// The data choice in the harness's form.
        public var datasetChoice: AblationDefinition.DatasetChoice {
            AblationDefinition.DatasetChoice(kind: dataset.kind, fallback: dataset.fallback, seed: dataset.seed)
        }
    }

    /// Levels of the intermediate blocks (before any order search) and of the output blocks.
    public var intermediateLevels: [Int] {
        if let order { return order.intermediate }
        let alloc = allocation ?? []
        return (2...7).flatMap { l in Array(repeating: l, count: alloc[l - 2] - (l >= 3 ? 1 : 0)) }
    }

    public var outputLevels: [Int] { order?.outputs ?? [3, 4, 5, 6, 7] }

    public var stemBlockCount: Int { stem.reduce(0, +) }

    /// Identifies everything that decides a candidate's reward and the search's path (not the budget),
    /// so logs of a changed space are never mixed with the new one.
    public var hash: String {
        struct Key: Encodable {
            var stem: [Int]; var allocation: [Int]?; var order: FixedOrder?; var search: Parts
            var proxy: ProxySettings; var algorithm: Algorithm; var seed: UInt64
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let key = Key(stem: stem, allocation: allocation, order: order, search: search, proxy: proxy,
                      algorithm: algorithm, seed: seed)
        return stableHash((try? encoder.encode(key)) ?? Data())
    }

    /// Reads and checks a space file; errors name the file and the field.
    public static func load(_ path: String) throws -> SpaceDefinition {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw SearchError.badSpace(file: path, field: "(file)", expected: "a readable YAML file")
        }
        return try parse(yaml: text, file: path)
    }

    public static func parse(yaml: String, file: String) throws -> SpaceDefinition {
        let space: SpaceDefinition
        do {
            space = try YAMLDecoder().decode(SpaceDefinition.self, from: yaml)
        } catch let error as DecodingError {
            throw SearchError.badSpace(file: file, field: error.fieldPath, expected: error.plainDescription)
        } catch {
            throw SearchError.badSpace(file: file, field: "(file)", expected: "valid YAML (\(error))")
        }
        try space.validate(file: file)
        return space
    }

    func validate(file: String) throws {
        func fail(_ field: String, _ expected: String) -> SearchError { .badSpace(file: file, field: field, expected: expected) }
        if stem.count != 4 || stem.contains(where: { $0 < 0 }) || stem[0] < 1 {
            throw fail("stem", "4 block counts for L2..L5 with at least one L2 block, got \(stem)")
        }
        if stemBlockCount < 2 { throw fail("stem", "at least 2 stem blocks (the first block needs two parents)") }
        if search.order {
            guard let alloc = allocation else { throw fail("allocation", "blocks per level L2..L7 (the order is searched)") }
            if alloc.count != 6 || alloc.contains(where: { $0 < 0 }) || alloc[1...].contains(0) {
                throw fail("allocation", "6 counts for L2..L7 with at least one block at each of L3..L7, got \(alloc)")
            }
            if order != nil { throw fail("order", "no fixed order when search.order is true (give allocation only)") }
        } else {
            guard let order else { throw fail("order", "intermediate and output levels (search.order is false)") }
            if order.outputs.sorted() != [3, 4, 5, 6, 7] {
                throw fail("order.outputs", "the levels 3..7 once each, got \(order.outputs)")
            }
            if order.intermediate.contains(where: { !(2...7).contains($0) }) {
                throw fail("order.intermediate", "levels in 2...7, got \(order.intermediate)")
            }
            if allocation != nil { throw fail("allocation", "no allocation when the order is fixed (it follows from order)") }
        }
        if !search.order && !search.connections && !search.adjustments {
            throw fail("search", "at least one of order, connections, adjustments to be true")
        }
        let a = algorithm
        switch a.kind {
        case "evolution", "random":
            guard let p = a.population, let k = a.sample, p >= 2, k >= 1, k <= p else {
                throw fail("algorithm", "population >= 2 and 1 <= sample <= population")
            }
            if a.eta != nil || a.rungs != nil || a.finalSeeds != nil {
                throw fail("algorithm", "eta, rungs and final_seeds only with kind: halving")
            }
        case "halving":
            guard let eta = a.eta, eta >= 2 else { throw fail("algorithm.eta", "an integer >= 2") }
            guard let rungs = a.rungs, !rungs.isEmpty, rungs.first! >= 1, zip(rungs, rungs.dropFirst()).allSatisfy({ $0 < $1 }),
                  rungs.last! == proxy.epochs else {
                throw fail("algorithm.rungs", "increasing epoch counts >= 1 ending at proxy.epochs (\(proxy.epochs))")
            }
            guard let seeds = a.finalSeeds, seeds >= 1 else { throw fail("algorithm.final_seeds", "an integer >= 1") }
            _ = (eta, seeds)
            if a.population != nil || a.sample != nil { throw fail("algorithm", "population and sample only with evolution or random") }
        default:
            throw fail("algorithm.kind", "evolution, random or halving")
        }
        if budget < 1 { throw fail("budget", "at least 1 candidate") }
        let p = proxy
        if !(p.heldOut > 0 && p.heldOut < 1) || p.heldOutImages < 1 || p.dataset.images - p.heldOutImages < p.batch {
            throw fail("proxy.held_out", "a fraction in (0, 1) leaving >= 1 held-out image and >= one batch to train on")
        }
        if p.epochs < 1 || p.batch < 1 || p.input < 32 { throw fail("proxy", "epochs, batch >= 1 and input >= 32") }
    }
}
