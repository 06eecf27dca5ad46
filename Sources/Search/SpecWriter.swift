import Foundation
import Harness
import Models

/// Writes a candidate as a spec file in the style of ablations/specs (flow maps, one block a line).
/// The paper setting is SpineNet's (filter scale 1, alpha 0.5, 256 endpoints, RetinaNet 4 x 256 head),
/// as for every R[N]-SP[M] model; training profiles override it anyway.
enum SpecWriter {
    /// Where the search found the block list, written as a `search:` map (ignored by the spec loader,
    /// read by people and by `spinebench search` when it reports).
    struct SearchProvenance {
        var space: String
        var spaceHash: String
        var algorithm: String
        var budget: Int
        var shards: Int
        var seed: UInt64
        var reward: Double
        var metric: String
        var candidate: String
        var commit: String
        var log: String
    }

    /// `aliases` default to the space's (the names of the spec a search writes).
    static func yaml(of candidate: Candidate, in space: SpaceDefinition, name: String, aliases: [String]? = nil,
                     provenance: Provenance, note: String, header: String?, search: SearchProvenance? = nil) -> String {
        func quoted(_ s: String) -> String {
            "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        var lines: [String] = []
        if let header { lines += header.split(separator: "\n", omittingEmptySubsequences: false).map { "# " + $0 } }
        lines.append("name: \(name)")
        lines.append("aliases: [\((aliases ?? space.aliases).joined(separator: ", "))]")
        lines.append("family: scale_permuted")
        lines.append("provenance: \(provenance.rawValue)")
        lines.append("note: \(quoted(note))")
        if let s = search {
            lines.append("search: {space: \(s.space), space_hash: \(s.spaceHash), algorithm: \(s.algorithm), "
                         + "budget: \(s.budget), shards: \(s.shards), seed: \(s.seed), reward: \(String(format: "%.3f", s.reward)), "
                         + "metric: \(quoted(s.metric)), candidate: \(quoted(s.candidate)), commit: \(s.commit), log: \(s.log)}")
        }
        lines.append("stem: {blocks: [\(space.stem.map(String.init).joined(separator: ", "))]}")
        lines.append("scaling: {filter_size_scale: 1.0, resample_alpha: 0.5, endpoints_num_filters: 256, block_repeats: 1}")
        lines.append("paper: {input_size: 640, head_filters: 256, head_convs: 4, anchor_size: 3}")
        lines.append("blocks:")
        for g in candidate.genes {
            var fields = ["level: \(g.builtLevel)"]
            if g.type == .residual { fields.append("type: residual") }
            if !g.inputs.isEmpty { fields.append("inputs: [\(g.inputs.map(String.init).joined(separator: ", "))]") }
            if g.output { fields.append("output: true") }
            lines.append("  - {\(fields.joined(separator: ", "))}")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
