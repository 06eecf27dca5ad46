import Foundation
import Yams

/// How a block computes: the two block kinds of SpineNet (docs/paper-facts.md §2).
public enum BlockType: String, Codable, Sendable {
    case bottleneck, residual

    public init(from decoder: Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        switch raw.lowercased() {
        case "bottleneck", "b": self = .bottleneck
        case "residual", "r": self = .residual
        default:
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                debugDescription: "block type '\(raw)' is not one of bottleneck (B) or residual (R)"))
        }
    }

    /// Output channels of a block of width `filters`.
    public func outputChannels(filters: Int) -> Int { self == .bottleneck ? 4 * filters : filters }
}

/// Where a block list comes from: the paper / reference code, our own deterministic construction, or a search.
/// Where a block list comes from; `random` marks a member drawn at random from a search space, the
/// baseline a searched spec has to beat (ablations/search/README.md).
public enum Provenance: String, Codable, Sendable { case official, reconstructed, searched, random }

/// Which builder expands the spec: the scale-permuted builder or ResNet + FPN.
public enum Family: String, Codable, Sendable {
    case scalePermuted = "scale_permuted"
    case resnetFPN = "resnet_fpn"
}

/// One entry of a block list. `inputs` index a list that starts with the stem blocks (see `StemSpec`);
/// entry k of `blocks` gets index `stemBlockCount + k`. Missing `inputs` are filled by `ConnectionRule`.
public struct BlockSpec: Codable, Equatable, Sendable {
    public var level: Int
    public var type: BlockType
    public var inputs: [Int]?
    public var output: Bool

    public init(level: Int, type: BlockType = .bottleneck, inputs: [Int]?, output: Bool = false) {
        self.level = level; self.type = type; self.inputs = inputs; self.output = output
    }

    enum CodingKeys: String, CodingKey { case level, type, inputs, output }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        level = try c.decode(Int.self, forKey: .level)
        type = try c.decodeIfPresent(BlockType.self, forKey: .type) ?? .bottleneck
        inputs = try c.decodeIfPresent([Int].self, forKey: .inputs)
        output = try c.decodeIfPresent(Bool.self, forKey: .output) ?? false
    }
}

/// The ResNet-style stem: 7x7/64 stride-2 conv (never width-scaled), BN, act, 3x3 stride-2 max pool, then
/// bottleneck groups per level L2..L5 (`blocks`, e.g. [2,0,0,0] for SpineNet, [3,4,6,3] for ResNet-50).
/// Every stem block is a candidate input of the permuted part, indexed 0..<n in build order
/// (all L2 blocks first, then L3, ...). The first block of L3..L5 has stride 2 in its 3x3 conv.
public struct StemSpec: Codable, Equatable, Sendable {
    public var blocks: [Int]
    public var levels: [Int] { blocks.enumerated().flatMap { Array(repeating: $0.offset + 2, count: $0.element) } }
    public var blockCount: Int { blocks.reduce(0, +) }
}

/// Width, resampling and depth multipliers (TFM's SCALING_MAP plus the FPN width for ResNet-FPN).
public struct Scaling: Codable, Equatable, Sendable {
    public var filterSizeScale: Double
    public var resampleAlpha: Double
    public var endpointsNumFilters: Int
    public var blockRepeats: Int
    /// Unscaled block widths for levels L1..L7 (SpineNet's map by default; ResNet-50 uses 512 at L5).
    public var levelFilters: [Int]

    public static let spineNetFilters = [32, 64, 128, 256, 256, 256, 256]

    enum CodingKeys: String, CodingKey {
        case filterSizeScale = "filter_size_scale", resampleAlpha = "resample_alpha"
        case endpointsNumFilters = "endpoints_num_filters", blockRepeats = "block_repeats"
        case levelFilters = "level_filters"
    }

    public init(filterSizeScale: Double, resampleAlpha: Double, endpointsNumFilters: Int, blockRepeats: Int,
                levelFilters: [Int] = Scaling.spineNetFilters) {
        self.filterSizeScale = filterSizeScale; self.resampleAlpha = resampleAlpha
        self.endpointsNumFilters = endpointsNumFilters; self.blockRepeats = blockRepeats; self.levelFilters = levelFilters
    }

    /// Block width at a level: the unscaled width times filter_size_scale, truncated like Python's int().
    public func filters(level: Int) -> Int { Int(Double(levelFilters[level - 1]) * filterSizeScale) }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        filterSizeScale = try c.decodeIfPresent(Double.self, forKey: .filterSizeScale) ?? 1
        resampleAlpha = try c.decodeIfPresent(Double.self, forKey: .resampleAlpha) ?? 0.5
        endpointsNumFilters = try c.decodeIfPresent(Int.self, forKey: .endpointsNumFilters) ?? 256
        blockRepeats = try c.decodeIfPresent(Int.self, forKey: .blockRepeats) ?? 1
        levelFilters = try c.decodeIfPresent([Int].self, forKey: .levelFilters) ?? Scaling.spineNetFilters
    }
}

/// The paper's detection head and input size for this model (defaults of `describe` and training).
public struct PaperSettings: Codable, Equatable, Sendable {
    public var inputSize: Int
    public var headFilters: Int
    public var headConvs: Int
    public var anchorSize: Double

    enum CodingKeys: String, CodingKey {
        case inputSize = "input_size", headFilters = "head_filters", headConvs = "head_convs"
        case anchorSize = "anchor_size"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        inputSize = try c.decodeIfPresent(Int.self, forKey: .inputSize) ?? 640
        headFilters = try c.decodeIfPresent(Int.self, forKey: .headFilters) ?? 256
        headConvs = try c.decodeIfPresent(Int.self, forKey: .headConvs) ?? 4
        anchorSize = try c.decodeIfPresent(Double.self, forKey: .anchorSize) ?? 3
    }
}

/// An architecture as data: one YAML file in ablations/specs. See ablations/specs/README.md.
public struct ModelSpec: Codable, Equatable, Sendable {
    public var name: String
    public var aliases: [String]
    public var family: Family
    public var provenance: Provenance
    public var note: String
    public var stem: StemSpec
    public var scaling: Scaling
    public var paper: PaperSettings
    public var blocks: [BlockSpec]
    /// Output-block rule (docs/paper-facts.md §3): add unconsumed same-level blocks to an output block's sum.
    /// The graph-damage transforms switch it off so removed paths stay removed.
    public var mergeUnconsumed: Bool

    enum CodingKeys: String, CodingKey {
        case name, aliases, family, provenance, note, stem, scaling, paper, blocks
        case mergeUnconsumed = "merge_unconsumed"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        aliases = try c.decodeIfPresent([String].self, forKey: .aliases) ?? []
        family = try c.decodeIfPresent(Family.self, forKey: .family) ?? .scalePermuted
        provenance = try c.decode(Provenance.self, forKey: .provenance)
        note = try c.decodeIfPresent(String.self, forKey: .note) ?? ""
        stem = try c.decode(StemSpec.self, forKey: .stem)
        scaling = try c.decode(Scaling.self, forKey: .scaling)
        paper = try c.decode(PaperSettings.self, forKey: .paper)
        blocks = try c.decodeIfPresent([BlockSpec].self, forKey: .blocks) ?? []
        mergeUnconsumed = try c.decodeIfPresent(Bool.self, forKey: .mergeUnconsumed) ?? true
    }

    /// Index of permuted block k in the feature list (stem blocks come first).
    public func index(ofBlock k: Int) -> Int { stem.blockCount + k }

    /// Level of any feature index (stem or permuted).
    public func level(ofFeature i: Int) -> Int {
        i < stem.blockCount ? stem.levels[i] : blocks[i - stem.blockCount].level
    }

    /// Parse one YAML document; `file` names the source in errors. Missing inputs are filled by the rule.
    public static func parse(yaml: String, file: String) throws -> ModelSpec {
        var spec: ModelSpec
        do {
            spec = try YAMLDecoder().decode(ModelSpec.self, from: yaml)
        } catch let error as DecodingError {
            throw SpecError(file: file, field: error.fieldPath, message: error.plainMessage)
        } catch {
            throw SpecError(file: file, field: "-", message: "not valid YAML: \(error)")
        }
        try spec.validate(file: file)
        if spec.blocks.contains(where: { $0.inputs == nil }) { spec = ConnectionRule.connect(spec) }
        return spec
    }

    /// Structural checks that every buildable spec must pass (search constraints are checked separately).
    public func validate(file: String) throws {
        func fail(_ field: String, _ message: String) -> SpecError { SpecError(file: file, field: field, message: message) }
        if stem.blocks.count != 4 || stem.blocks.contains(where: { $0 < 0 }) {
            throw fail("stem.blocks", "expected 4 non-negative counts for levels L2..L5, got \(stem.blocks)")
        }
        if stem.blocks[0] < 1 { throw fail("stem.blocks", "the stem needs at least one L2 block") }
        if let gap = (1..<4).first(where: { stem.blocks[$0] > 0 && stem.blocks[$0 - 1] == 0 }) {
            throw fail("stem.blocks", "level L\(gap + 2) has blocks but L\(gap + 1) has none; stem levels must be contiguous")
        }
        if scaling.filterSizeScale <= 0 || scaling.resampleAlpha <= 0 || scaling.endpointsNumFilters < 1
            || scaling.blockRepeats < 1 {
            throw fail("scaling", "filter_size_scale and resample_alpha must be > 0, endpoints_num_filters and block_repeats >= 1")
        }
        if scaling.levelFilters.count != 7 || scaling.levelFilters.contains(where: { $0 < 1 }) {
            throw fail("scaling.level_filters", "expected 7 positive widths for levels L1..L7, got \(scaling.levelFilters)")
        }
        if family == .resnetFPN {
            if !blocks.isEmpty { throw fail("blocks", "a resnet_fpn spec has no block list") }
            return
        }
        if blocks.isEmpty { throw fail("blocks", "a scale_permuted spec needs a block list") }
        var outputLevels = Set<Int>()
        for (k, b) in blocks.enumerated() {
            let field = "blocks[\(k)]"
            if !(2...7).contains(b.level) { throw fail(field + ".level", "expected a level in 2...7, got \(b.level)") }
            if let inputs = b.inputs {
                if inputs.count < 1 || inputs.count > 2 {
                    throw fail(field + ".inputs", "expected one or two parent indices, got \(inputs.count)")
                }
                let own = index(ofBlock: k)
                for p in inputs where p < 0 || p >= own {
                    throw fail(field + ".inputs", "parent \(p) must be an earlier feature (0..<\(own))")
                }
                if inputs.count == 2 && inputs[0] == inputs[1] {
                    throw fail(field + ".inputs", "the two parents must differ, got \(inputs)")
                }
            }
            if b.output {
                if !outputLevels.insert(b.level).inserted {
                    throw fail(field + ".output", "a second output block at level L\(b.level)")
                }
            }
        }
        for l in 3...7 where !outputLevels.contains(l) {
            throw fail("blocks", "no output block at level L\(l); outputs L3..L7 are required")
        }
    }
}

/// A bad spec: names the file, the field and what was expected.
public struct SpecError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let field: String
    public let message: String
    public var description: String { "\(file): \(field): \(message)" }
}

extension DecodingError {
    var fieldPath: String {
        let path: [CodingKey]
        switch self {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c): path = c.codingPath
        case .keyNotFound(let key, let c): path = c.codingPath + [key]
        @unknown default: path = []
        }
        if path.isEmpty { return "-" }
        return path.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            .replacingOccurrences(of: ".[", with: "[").trimmingCharacters(in: CharacterSet(charactersIn: "."))
    }

    var plainMessage: String {
        switch self {
        case .typeMismatch(let type, let c): return "expected \(type): \(c.debugDescription)"
        case .valueNotFound(let type, let c): return "missing \(type): \(c.debugDescription)"
        case .keyNotFound(let key, _): return "required field '\(key.stringValue)' is missing"
        case .dataCorrupted(let c): return c.debugDescription
        @unknown default: return "\(self)"
        }
    }
}
