import Foundation

/// What `spinebench describe` prints: counts, levels and the resolved block list of one built model.
public struct ModelSummary: Codable, Equatable, Sendable {
    public struct Level: Codable, Equatable, Sendable {
        public let level: Int, height: Int, width: Int, channels: Int
    }
    public struct Block: Codable, Equatable, Sendable {
        public let index: Int, level: Int, type: String, inputs: [Int], output: Bool
    }

    public let model: String
    public let provenance: String
    public let note: String
    public let input: Int
    public let params: Int
    public let macs: Int
    public let backboneParams: Int
    public let backboneMACs: Int
    public let headParams: Int
    public let headMACs: Int
    public let levels: [Level]
    public let stemBlocks: [Int]
    public let blocks: [Block]

    enum CodingKeys: String, CodingKey {
        case model, provenance, note, input, params, macs, levels, blocks
        case backboneParams = "backbone_params", backboneMACs = "backbone_macs"
        case headParams = "head_params", headMACs = "head_macs", stemBlocks = "stem_blocks"
    }

    public init(spec: ModelSpec, plan: ModelPlan) {
        let c = plan.counts
        model = spec.name
        provenance = spec.provenance.rawValue
        note = spec.note
        input = plan.inputSize
        params = c.params; macs = c.macs
        backboneParams = c.backboneParams; backboneMACs = c.backboneMACs
        headParams = c.params - c.backboneParams; headMACs = c.macs - c.backboneMACs
        levels = plan.levels.keys.sorted().map { l in
            let s = plan.shape(ofLevel: l)!
            return Level(level: l, height: s.h, width: s.w, channels: s.c)
        }
        stemBlocks = spec.stem.blocks
        blocks = spec.blocks.enumerated().map { k, b in
            Block(index: spec.index(ofBlock: k), level: b.level, type: b.type.rawValue, inputs: b.inputs ?? [], output: b.output)
        }
    }

    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(data: try! encoder.encode(self), encoding: .utf8)!
    }

    public var text: String {
        func m(_ n: Int) -> String { String(format: "%.2fM", Double(n) / 1e6) }
        func b(_ n: Int) -> String { String(format: "%.2fB", Double(n) / 1e9) }
        var lines = [
            "\(model) [\(provenance)] input \(input)x\(input)",
            "  \(note)",
            "params  \(m(params).padding(toLength: 9, withPad: " ", startingAt: 0)) backbone \(m(backboneParams))  head \(m(headParams))",
            "MACs    \(b(macs).padding(toLength: 9, withPad: " ", startingAt: 0)) backbone \(b(backboneMACs))  head \(b(headMACs))",
            "levels  " + levels.map { "L\($0.level) \($0.height)x\($0.width)x\($0.channels)" }.joined(separator: "  "),
            "stem    bottleneck blocks per level L2..L5: \(stemBlocks) (feature indices 0..<\(stemBlocks.reduce(0, +)))",
        ]
        if !blocks.isEmpty {
            lines.append("blocks  index level type        inputs    output")
            for blk in blocks {
                let inputs = "(" + blk.inputs.map(String.init).joined(separator: ",") + ")"
                lines.append("        " + String(blk.index).padding(toLength: 6, withPad: " ", startingAt: 0)
                    + "L\(blk.level)    " + blk.type.padding(toLength: 12, withPad: " ", startingAt: 0)
                    + inputs.padding(toLength: 10, withPad: " ", startingAt: 0) + (blk.output ? "yes" : ""))
            }
        }
        return lines.joined(separator: "\n")
    }
}
