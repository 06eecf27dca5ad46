import Foundation
import Yams

/// One ablation study as written in `ablations/NAME.yaml`: which models, on which data,
/// trained how (per profile), and the paper's numbers to print beside ours.
public struct AblationDefinition: Codable, Sendable {
    public var name: String
    public var title: String
    public var dataset: DatasetChoice
    public var tables: [TableDefinition]
    public var profiles: [String: Profile]

    public struct DatasetChoice: Codable, Sendable {
        /// Builder kind: `fmnist-det` or `shapes`.
        public var kind: String
        /// Kind to use when the first one's source files are not installed.
        public var fallback: String?
        public var seed: UInt64

        public init(kind: String, fallback: String?, seed: UInt64) {
            self.kind = kind
            self.fallback = fallback
            self.seed = seed
        }
    }

    public struct TableDefinition: Codable, Sendable {
        public var id: String
        public var title: String
        public var baseline: String
        public var rows: [Row]
        public var claims: [Claim]

        public struct Row: Codable, Sendable {
            public var model: String
            /// How the paper names the row (e.g. "(1) short removed"); the model's name otherwise.
            public var label: String?
            public var paperAP: Double?
            /// The paper's figure could not be checked against the PDF (SPINENET.md marks it).
            public var paperUnverified: Bool?
            enum CodingKeys: String, CodingKey {
                case model, label, paperAP = "paper_ap", paperUnverified = "paper_unverified"
            }
        }
        /// A claim of the paper: `better` has higher AP than `worse`.
        public struct Claim: Codable, Sendable {
            public var better: String
            public var worse: String
        }
    }

    /// Training and data settings of one profile (smoke, quick, paper).
    public struct Profile: Codable, Sendable, Hashable {
        public var dataset: DatasetSize
        public var input: Int
        public var scale: Double
        public var alpha: Double
        public var endpoints: Int
        public var headFilters: Int
        public var headConvs: Int
        public var epochs: Int
        public var batch: Int
        public var learningRate: Double
        public var warmupFraction: Double
        public var weightDecay: Double
        public var seeds: Int
        /// Anchor base size in units of the level's stride (SPINENET.md: 3 at COCO's 640 px). Small
        /// images with COCO-like relative object sizes need smaller anchors; nil means 3.
        public var anchorSize: Double?

        public struct DatasetSize: Codable, Sendable, Hashable {
            public var size: Int
            public var train: Int
            public var val: Int
            public var maxObjects: Int
            enum CodingKeys: String, CodingKey {
                case size, train, val, maxObjects = "max_objects"
            }

            public init(size: Int, train: Int, val: Int, maxObjects: Int) {
                (self.size, self.train, self.val, self.maxObjects) = (size, train, val, maxObjects)
            }
        }

        public init(dataset: DatasetSize, input: Int, scale: Double, alpha: Double, endpoints: Int, headFilters: Int,
                    headConvs: Int, epochs: Int, batch: Int, learningRate: Double, warmupFraction: Double,
                    weightDecay: Double, seeds: Int, anchorSize: Double?) {
            self.dataset = dataset
            self.input = input
            self.scale = scale
            self.alpha = alpha
            self.endpoints = endpoints
            self.headFilters = headFilters
            self.headConvs = headConvs
            self.epochs = epochs
            self.batch = batch
            self.learningRate = learningRate
            self.warmupFraction = warmupFraction
            self.weightDecay = weightDecay
            self.seeds = seeds
            self.anchorSize = anchorSize
        }
        enum CodingKeys: String, CodingKey {
            case dataset, input, scale, alpha, endpoints, epochs, batch, seeds
            case headFilters = "head_filters", headConvs = "head_convs"
            case learningRate = "learning_rate", warmupFraction = "warmup_fraction"
            case weightDecay = "weight_decay", anchorSize = "anchor_size"
        }
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

    /// Reads and checks an ablation file; errors name the file and the field.
    public static func load(_ path: String) throws -> AblationDefinition {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw HarnessError.badConfig(file: path, field: "(file)", expected: "a readable YAML file")
        }
        let def: AblationDefinition
        do {
            def = try YAMLDecoder().decode(AblationDefinition.self, from: text)
        } catch let error as DecodingError {
            throw HarnessError.badConfig(file: path, field: error.fieldPath, expected: error.plainDescription)
        }
        for table in def.tables where !table.rows.contains(where: { $0.model == table.baseline }) {
            throw HarnessError.badConfig(file: path, field: "tables.\(table.id).baseline",
                                         expected: "one of the table's row models")
        }
        for (name, p) in def.profiles where p.epochs < 1 || p.batch < 1 || p.seeds < 1 || p.input < 32 {
            throw HarnessError.badConfig(file: path, field: "profiles.\(name)",
                                         expected: "epochs, batch, seeds >= 1 and input >= 32")
        }
        return def
    }
}

extension DecodingError {
    /// The dotted path of the field a YAML/JSON decode failed on.
    public var fieldPath: String {
        let path: [CodingKey]
        switch self {
        case .keyNotFound(let key, let c): path = c.codingPath + [key]
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c): path = c.codingPath
        @unknown default: path = []
        }
        let s = path.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
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
