import Datasets
import Models

/// The rules a candidate of a space must obey (paper section 3.1, docs/paper-facts.md §5), beyond
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
        problems += SearchSpace.violations(of: spec)
        for k in Self.deadBlocks(of: spec) {
            problems.append("block \(k) feeds no output (it would be pruned, wasting Table 1's allocation)")
        }
        return problems
    }

    /// Blocks the builder prunes because no path leads from them to an output (after the output-block
    /// rule has merged unconsumed same-level blocks). The paper's published lists have none, and a dead
    /// block would make e.g. "R35-SP18" a 16-block model, so the space excludes them.
    static func deadBlocks(of spec: ModelSpec) -> [Int] {
        guard let plan = try? ModelBuilder.build(spec, options: ModelOptions(
            inputSize: 64, filterSizeScale: 0.25, resampleAlpha: 0.25, endpointsNumFilters: 8, head: HeadConfig.none)) else {
            return Array(spec.blocks.indices)
        }
        let names = Set(plan.nodes.map(\.name))
        return spec.blocks.indices.filter { !names.contains("block\($0)/conv1/conv") }
    }

    /// Whether no block of the candidate is dead, worked out on the block list itself (the sampler asks
    /// this for every draw; building a plan each time was far too slow). Mirrors the builder: each
    /// output block also takes every earlier block that feeds nothing yet and has its level and type
    /// (same channels); of the stem only the last block starts out feeding nothing. Tests check it
    /// against `deadBlocks(of:)`, which asks the builder.
    func isLive(_ c: Candidate) -> Bool {
        let stem = stemBlockCount
        var levels = self.stem.enumerated().flatMap { Array(repeating: $0.offset + 2, count: $0.element) }
        var types = Array(repeating: BlockType.bottleneck, count: stem)
        var consumed = (0..<stem).map { $0 < stem - 1 }
        var parents: [[Int]] = []
        for g in c.genes {
            var ps = g.inputs
            for p in g.inputs { consumed[p] = true }
            if g.output {
                for j in levels.indices where !consumed[j] && levels[j] == g.builtLevel && types[j] == g.type {
                    ps.append(j)
                    consumed[j] = true
                }
            }
            parents.append(ps)
            levels.append(g.builtLevel)
            types.append(g.type)
            consumed.append(false)
        }
        var live = Set<Int>()
        for k in c.genes.indices.reversed() where c.genes[k].output || live.contains(stem + k) {
            live.insert(stem + k)
            for p in parents[k] { live.insert(p) }
        }
        return c.genes.indices.allSatisfy { live.contains(stem + $0) }
    }

    /// The candidate with ConnectionRule's parents (used when the space does not search connections).
    func ruleConnected(_ c: Candidate) throws -> Candidate {
        var bare = c
        for k in bare.genes.indices { bare.genes[k].inputs = [] }
        let spec = try bare.spec(in: self)
        for (k, block) in spec.blocks.enumerated() { bare.genes[k].inputs = block.inputs ?? [] }
        return bare
    }

    /// A uniformly random member of the space (uniform over the draws that leave no block dead): orders (if searched) are random permutations, parents random
    /// pairs of the allowed choices, adjustments (if searched) random shifts and types.
    public func randomCandidate(_ rng: inout SplitMix64) throws -> Candidate {
        var c = try drawCandidate(&rng)
        for _ in 0..<1000 where !isLive(c) { c = try drawCandidate(&rng) }
        return c
    }

    /// One draw of the rules above; `randomCandidate` redraws until no block is dead.
    private func drawCandidate(_ rng: inout SplitMix64) throws -> Candidate {
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
