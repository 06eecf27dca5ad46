import Common
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

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, writes, aliases, note, stem, allocation, order, search, proxy, algorithm, seed, budget
    }

    /// Every key the file may hold is known; an unknown one is an error (a misspelt setting would
    /// otherwise silently do nothing while the log claims it was used).
    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        writes = try c.decode(String.self, forKey: .writes)
        aliases = try c.decode([String].self, forKey: .aliases)
        note = try c.decode(String.self, forKey: .note)
        stem = try c.decode([Int].self, forKey: .stem)
        allocation = try c.decodeIfPresent([Int].self, forKey: .allocation)
        order = try c.decodeIfPresent(FixedOrder.self, forKey: .order)
        search = try c.decode(Parts.self, forKey: .search)
        proxy = try c.decode(ProxySettings.self, forKey: .proxy)
        algorithm = try c.decode(Algorithm.self, forKey: .algorithm)
        seed = try c.decode(UInt64.self, forKey: .seed)
        budget = try c.decode(Int.self, forKey: .budget)
    }

    public struct FixedOrder: Codable, Sendable, Hashable {
        public var intermediate: [Int]
        public var outputs: [Int]

        enum CodingKeys: String, CodingKey, CaseIterable { case intermediate, outputs }

        public init(from decoder: Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            intermediate = try c.decode([Int].self, forKey: .intermediate)
            outputs = try c.decode([Int].self, forKey: .outputs)
        }
    }

    public struct Parts: Codable, Sendable, Hashable {
        /// Permute intermediate blocks and output blocks (separately).
        public var order: Bool
        /// Pick each block's two parents; false connects by ConnectionRule.
        public var connections: Bool
        /// SpineNet-49's block adjustments: intermediate level shift in {-1,0,1,2}, bottleneck or residual.
        public var adjustments: Bool

        enum CodingKeys: String, CodingKey, CaseIterable { case order, connections, adjustments }

        public init(from decoder: Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            order = try c.decode(Bool.self, forKey: .order)
            connections = try c.decode(Bool.self, forKey: .connections)
            adjustments = try c.decode(Bool.self, forKey: .adjustments)
        }
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

        public init(from decoder: Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            kind = try c.decode(String.self, forKey: .kind)
            population = try c.decodeIfPresent(Int.self, forKey: .population)
            sample = try c.decodeIfPresent(Int.self, forKey: .sample)
            eta = try c.decodeIfPresent(Int.self, forKey: .eta)
            rungs = try c.decodeIfPresent([Int].self, forKey: .rungs)
            finalSeeds = try c.decodeIfPresent(Int.self, forKey: .finalSeeds)
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

    /// The proxy task (the paper's NAS proxy, scaled down): a training profile exactly as in ablations/*.yaml,
    /// so the whole recipe is data, on images drawn from the builder's train split only: the first
    /// `profile.dataset.train` train, the next `profile.dataset.val` are held out and give the reward.
    public struct ProxySettings: Codable, Sendable, Hashable {
        /// The builder (its train split only is read).
        public var dataset: AblationDefinition.DatasetChoice
        /// The reward: a COCO metric (`AP`, the paper's) of the held-out images.
        public var metric: Metric
        /// The recipe. `seeds` must be 1: a search trains each candidate once (halving's `final_seeds` and
        /// `--noise-seeds` add seeds where they are wanted).
        public var profile: AblationDefinition.Profile

        enum CodingKeys: String, CodingKey, CaseIterable { case dataset, metric, profile }

        public init(dataset: AblationDefinition.DatasetChoice, metric: Metric, profile: AblationDefinition.Profile) {
            (self.dataset, self.metric, self.profile) = (dataset, metric, profile)
        }

        public init(from decoder: Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            dataset = try c.decode(AblationDefinition.DatasetChoice.self, forKey: .dataset)
            metric = try c.decode(Metric.self, forKey: .metric)
            profile = try c.decode(AblationDefinition.Profile.self, forKey: .profile)
        }

        /// The proxy's full training length (the last rung of a halving search).
        public var epochs: Int { profile.epochs }
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
    public var hash: String { hash(algorithm: algorithm) }

    /// Identifies what decides one candidate's reward and the space's random members, but not the search's
    /// path: `hash` without the algorithm. The references and the noise measurement are keyed by it, so
    /// they stay valid when only the algorithm changes (e.g. evolution to halving).
    public var rewardHash: String { hash(algorithm: nil) }

    /// One key for both hashes: a nil algorithm is left out of the JSON, not written as null.
    private func hash(algorithm: Algorithm?) -> String {
        struct Key: Encodable {
            var stem: [Int]; var allocation: [Int]?; var order: FixedOrder?; var search: Parts
            var proxy: ProxySettings; var algorithm: Algorithm?; var seed: UInt64
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
            space = try StrictYAML.decode(SpaceDefinition.self, from: yaml, file: file)
        } catch HarnessError.badConfig(let file, let field, let expected) {
            throw SearchError.badSpace(file: file, field: field, expected: expected)
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
        if let (field, expected) = proxy.profile.problem() {
            throw fail("proxy.profile.\(field)", expected)
        }
        if proxy.profile.seeds != 1 {
            throw fail("proxy.profile.seeds", "1 (a search trains each candidate once; halving's final_seeds and --noise-seeds add seeds)")
        }
        if proxy.profile.dataset.train < proxy.profile.batch {
            throw fail("proxy.profile.dataset.train", "at least one batch (\(proxy.profile.batch)) of images to train on")
        }
    }
}
