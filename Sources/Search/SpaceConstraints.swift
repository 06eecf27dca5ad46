import Datasets
import Models

/// The rules a candidate of a space must obey (paper section 3.1, SPINENET.md 4), beyond
/// `SearchSpace.violations` which every spec is held to.
extension SpaceDefinition {
    /// Level shifts of SpineNet-49's block adjustments.
    static let shifts = [-1, 0, 1, 2]

    /// Feature indices block k (0-based in the permuted part) may take as a parent: the stem and the last
    /// `SearchSpace.window` blocks built for an intermediate block, any earlier block for an output block.
    public func parentChoices(forBlock k: Int, output: Bool) -> [Int] {
        let stem = stemBlockCount, own = stem + k
        if output { return Array(0..<own) }
        return Array(0..<stem) + Array(max(stem, own - SearchSpace.window)..<own)
    }

    /// Shifts allowed for an intermediate block at `level` (the built level stays in L2..L7).
    func allowedShifts(level: Int) -> [Int] { Self.shifts.filter { (2...7).contains(level + $0) } }

    /// Human-readable reasons the candidate is outside this space; empty when it is inside.
    public func violations(of c: Candidate) -> [String] {
        let inter = intermediateLevels, n = inter.count + 5
        guard c.genes.count == n else { return ["expected \(n) blocks (\(inter.count) intermediate + 5 outputs), got \(c.genes.count)"] }
        var problems: [String] = []
        let ig = Array(c.genes.prefix(inter.count)), og = Array(c.genes.suffix(5))
        if ig.contains(where: \.output) || og.contains(where: { !$0.output }) {
            problems.append("the last five blocks, and only they, must be outputs")
        }
        if search.order {
            if ig.map(\.level).sorted() != inter.sorted() {
                problems.append("intermediate levels \(ig.map(\.level)) are not a permutation of the allocation \(inter.sorted())")
            }
            if og.map(\.level).sorted() != [3, 4, 5, 6, 7] { problems.append("output levels \(og.map(\.level)) are not L3..L7 once each") }
        } else {
            if ig.map(\.level) != inter { problems.append("intermediate levels \(ig.map(\.level)) differ from the fixed order \(inter)") }
            if og.map(\.level) != outputLevels { problems.append("output levels \(og.map(\.level)) differ from the fixed order \(outputLevels)") }
        }
        for (k, g) in c.genes.enumerated() {
            if !search.adjustments && (g.shift != 0 || g.type != .bottleneck) {
                problems.append("block \(k): adjustments are not searched, so shift 0 and bottleneck, got \(g.text)")
            }
            if g.output && g.shift != 0 { problems.append("block \(k): output blocks keep their level, got shift \(g.shift)") }
            if !g.output && g.shift != 0 && !allowedShifts(level: g.level).contains(g.shift) {
                problems.append("block \(k): shift \(g.shift) of L\(g.level) is not in \(allowedShifts(level: g.level))")
            }
            let choices = Set(parentChoices(forBlock: k, output: g.output))
            if g.inputs.count != 2 || g.inputs[0] >= g.inputs[1] || !g.inputs.allSatisfy(choices.contains) {
                problems.append("block \(k): parents \(g.inputs) must be two different features of \(choices.sorted()), ascending")
            }
        }
        let spec: ModelSpec
        do { spec = try c.spec(in: self) } catch { return problems + ["does not form a spec: \(error)"] }
        if !search.connections, let rule = try? ruleConnected(c), rule != c {
            problems.append("connections are not searched, so they must be ConnectionRule's: \(rule.text)")
        }
        return problems + SearchSpace.violations(of: spec)
    }

    /// The candidate with ConnectionRule's parents (used when the space does not search connections).
    func ruleConnected(_ c: Candidate) throws -> Candidate {
        var bare = c
        for k in bare.genes.indices { bare.genes[k].inputs = [] }
        let spec = try bare.spec(in: self)
        for (k, block) in spec.blocks.enumerated() { bare.genes[k].inputs = block.inputs ?? [] }
        return bare
    }

    /// A uniformly random member of the space: orders (if searched) are random permutations, parents random
    /// pairs of the allowed choices, adjustments (if searched) random shifts and types.
    public func randomCandidate(_ rng: inout SplitMix64) throws -> Candidate {
        var inter = intermediateLevels, outs = outputLevels
        if search.order {
            inter = rng.permutation(inter.count).map { inter[$0] }
            outs = rng.permutation(outs.count).map { outs[$0] }
        }
        var genes = inter.map { Gene(level: $0, inputs: [], output: false) } + outs.map { Gene(level: $0, inputs: [], output: true) }
        for k in genes.indices {
            if search.adjustments {
                if !genes[k].output {
                    let shifts = allowedShifts(level: genes[k].level)
                    genes[k].shift = shifts[rng.below(shifts.count)]
                }
                genes[k].type = rng.coin() ? .bottleneck : .residual
            }
            if search.connections {
                let choices = parentChoices(forBlock: k, output: genes[k].output)
                let pick = rng.permutation(choices.count).prefix(2).map { choices[$0] }
                genes[k].inputs = pick.sorted()
            }
        }
        let c = Candidate(genes: genes)
        return search.connections ? c : try ruleConnected(c)
    }
}
