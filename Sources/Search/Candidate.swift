import Foundation
import Harness
import Models

/// One permuted block of a candidate: its level from the allocation, the adjustment the search chose
/// (level shift, type), its two parents (feature indices, ascending; the stem blocks come first) and
/// whether it is an output block.
public struct Gene: Codable, Hashable, Sendable {
    public var level: Int
    public var shift: Int
    public var type: BlockType
    public var inputs: [Int]
    public var output: Bool

    public init(level: Int, shift: Int = 0, type: BlockType = .bottleneck, inputs: [Int], output: Bool) {
        self.level = level; self.shift = shift; self.type = type; self.inputs = inputs; self.output = output
    }

    /// The level the block is built at.
    public var builtLevel: Int { level + shift }

    /// "4B(0,1)", "3R+1(2,5)", outputs end in "*".
    public var text: String {
        let shiftText = shift == 0 ? "" : (shift > 0 ? "+\(shift)" : "\(shift)")
        return "\(level)\(type == .bottleneck ? "B" : "R")\(shiftText)(\(inputs.map(String.init).joined(separator: ",")))"
            + (output ? "*" : "")
    }
}

/// A point of the search space: the permuted blocks in build order, intermediate blocks first, then the
/// five output blocks.
public struct Candidate: Codable, Hashable, Sendable {
    public var genes: [Gene]

    public init(genes: [Gene]) { self.genes = genes }

    /// A spec's permuted blocks as a candidate (parents sorted; levels taken as built, no shift), e.g. to
    /// score a hand-made block list in a space's proxy task.
    public init(spec: ModelSpec) {
        genes = spec.blocks.map { Gene(level: $0.level, type: $0.type, inputs: ($0.inputs ?? []).sorted(), output: $0.output) }
    }

    public var text: String { genes.map(\.text).joined(separator: " ") }

    /// A short stable id (FNV-1a of the text) for run folders and logs.
    public var id: String { String(stableHash(Data(text.utf8)).prefix(8)) }

    /// The architecture as a spec of the space, at the paper's setting (SpineNet scaling, RetinaNet 256x4).
    public func spec(in space: SpaceDefinition, name: String? = nil, provenance: Provenance = .searched,
                     note: String = "") throws -> ModelSpec {
        try ModelSpec.parse(yaml: SpecWriter.yaml(of: self, in: space, name: name ?? space.writes, provenance: provenance,
                                                  note: note, header: nil), file: "candidate \(text)")
    }
}
