import Datasets
import Foundation
import Harness
import Models

/// The baseline a search has to beat: live members of its space drawn at random, always the same ones for a
/// space file (their own stream, which no search step uses). The reward-noise measurement scores the first
/// of them, and `spinebench search --random-specs K` writes the first K as specs
/// (`ablations/specs/random/SPACE-random-K.yaml`), which `ablations/search-vs-random.yaml` trains at the tables'
/// profile beside the searched spec (ablations/search/README.md, "Search against random").
public enum RandomBaseline {
    /// The first `count` random live members of `space`, none of them in `excluding`.
    public static func members(of space: SpaceDefinition, count: Int, excluding: Set<Candidate> = []) throws -> [Candidate] {
        var rng = SplitMix64(seed: space.seed, 0x7261_6E64_6F6D)   // "random"
        var seen = excluding, drawn: [Candidate] = []
        for _ in 0..<count {
            let c = try Evolution(space: space).drawRandom(&rng, seen: seen)
            seen.insert(c)
            drawn.append(c)
        }
        return drawn
    }

    public static func specName(_ space: SpaceDefinition, _ k: Int) -> String { "\(space.name)-random-\(k + 1)" }

    /// Writes the first `count` members as specs into `folder`; returns their paths. Each file is parsed back
    /// before it is written, so the library can always read what this writes.
    @discardableResult
    public static func writeSpecs(of space: SpaceDefinition, spacePath: String, count: Int, to folder: String) throws -> [String] {
        try FileSystem.createDirectory(folder)
        return try members(of: space, count: count).enumerated().map { k, candidate in
            let name = specName(space, k)
            let header = """
                \(name): random member \(k + 1) of the space \(spacePath) (seed \(space.seed)), the baseline its searched
                spec \(space.writes) has to beat; written by `spinebench search \(spacePath) --random-specs \(count)`.
                """
            let text = SpecWriter.yaml(of: candidate, in: space, name: name, aliases: [], provenance: .random,
                                       note: "Drawn at random (live members only) from the space of \(space.writes). " + space.note,
                                       header: header)
            let path = "\(folder)/\(name).yaml"
            _ = try ModelSpec.parse(yaml: text, file: path)
            try FileSystem.writeAtomically(text, to: path)
            return path
        }
    }
}
