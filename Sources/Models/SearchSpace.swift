/// The paper's search constraints on a scale-permuted block list (docs/paper-facts.md §5), as a checker, so that
/// official, reconstructed and user specs can all be held to them.
public enum SearchSpace {
    /// Intermediate blocks take their parents from the stem or the last `window` blocks built.
    public static let window = 5

    /// Human-readable violations; empty when the spec is inside the search space.
    public static func violations(of spec: ModelSpec) -> [String] {
        guard spec.family == .scalePermuted else { return [] }
        var problems: [String] = []
        let stem = spec.stem.blockCount
        if let firstOutput = spec.blocks.firstIndex(where: \.output),
           spec.blocks[firstOutput...].contains(where: { !$0.output }) {
            problems.append("output blocks must come last")
        }
        let outputLevels = spec.blocks.filter(\.output).map(\.level).sorted()
        if outputLevels != [3, 4, 5, 6, 7] {
            problems.append("expected one output block per level L3..L7, got levels \(outputLevels)")
        }
        for (k, block) in spec.blocks.enumerated() {
            let own = spec.index(ofBlock: k)
            let inputs = block.inputs ?? []
            if inputs.count != 2 { problems.append("blocks[\(k)]: expected two parents, got \(inputs)") }
            if !block.output {
                for p in inputs where p >= stem && p < own - window {
                    problems.append("blocks[\(k)]: parent \(p) is neither a stem block nor among the last \(window) built")
                }
            }
        }
        return problems
    }

    /// Blocks per level L2..L7 of the stem and of the permuted part (Table 1's allocation).
    public static func allocation(of spec: ModelSpec) -> (stem: [Int], permuted: [Int]) {
        (spec.stem.blocks, (2...7).map { l in spec.blocks.filter { $0.level == l }.count })
    }
}
