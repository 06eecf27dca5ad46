import Datasets
import Models

/// The one-step changes regularized evolution makes to a parent (Real et al. 2019 mutate one thing).
/// Every kind keeps the candidate inside its space: swaps exchange what two positions build (level,
/// shift, type) and keep the parents by position, so the window rules still hold; a re-picked parent
/// comes from the block's allowed choices.
public enum MutationKind: String, Codable, Sendable, CaseIterable {
    case swapIntermediate = "swap-intermediate"
    case swapOutputs = "swap-outputs"
    case repickParent = "repick-parent"
    case shiftLevel = "shift-level"
    case flipType = "flip-type"
}

extension SpaceDefinition {
    /// The kinds that can change this candidate in this space.
    func mutationKinds(for c: Candidate) -> [MutationKind] {
        var kinds: [MutationKind] = []
        let inter = c.genes.filter { !$0.output }
        if search.order && Set(inter.map { [$0.level, $0.shift, $0.type == .bottleneck ? 0 : 1] }).count > 1 {
            kinds.append(.swapIntermediate)
        }
        if search.order { kinds.append(.swapOutputs) }
        if search.connections && !repickable(c).isEmpty { kinds.append(.repickParent) }
        if search.adjustments {
            if !inter.isEmpty { kinds.append(.shiftLevel) }
            kinds.append(.flipType)
        }
        return kinds
    }

    /// Blocks with at least one allowed parent they do not already have.
    func repickable(_ c: Candidate) -> [Int] {
        c.genes.indices.filter { parentChoices(forBlock: $0, output: c.genes[$0].output).count > 2 }
    }

    /// One random mutation that changes the candidate and leaves no block dead (nil when none is found).
    public func mutate(_ parent: Candidate, _ rng: inout SplitMix64) throws -> (Candidate, MutationKind)? {
        let kinds = mutationKinds(for: parent)
        guard !kinds.isEmpty else { return nil }
        for _ in 0..<100 {
            let kind = kinds[rng.below(kinds.count)]
            var c = parent
            apply(kind, to: &c, &rng)
            if !search.connections { c = try ruleConnected(c) }
            if c != parent && isLive(c) { return (c, kind) }
        }
        return nil
    }

    private func apply(_ kind: MutationKind, to c: inout Candidate, _ rng: inout SplitMix64) {
        let interCount = c.genes.count - 5
        func swapBlocks(_ i: Int, _ j: Int) {
            let a = c.genes[i], b = c.genes[j]
            (c.genes[i].level, c.genes[i].shift, c.genes[i].type) = (b.level, b.shift, b.type)
            (c.genes[j].level, c.genes[j].shift, c.genes[j].type) = (a.level, a.shift, a.type)
        }
        switch kind {
        case .swapIntermediate:
            let p = rng.permutation(interCount)
            swapBlocks(p[0], p[1])
        case .swapOutputs:
            let p = rng.permutation(5)
            swapBlocks(interCount + p[0], interCount + p[1])
        case .repickParent:
            let blocks = repickable(c)
            let k = blocks[rng.below(blocks.count)]
            let slot = rng.below(2)
            let others = parentChoices(forBlock: k, output: c.genes[k].output).filter { !c.genes[k].inputs.contains($0) }
            c.genes[k].inputs[slot] = others[rng.below(others.count)]
            c.genes[k].inputs.sort()
        case .shiftLevel:
            let k = rng.below(interCount)
            let shifts = allowedShifts(level: c.genes[k].level).filter { $0 != c.genes[k].shift }
            if !shifts.isEmpty { c.genes[k].shift = shifts[rng.below(shifts.count)] }
        case .flipType:
            let k = rng.below(c.genes.count)
            c.genes[k].type = c.genes[k].type == .bottleneck ? .residual : .bottleneck
        }
    }
}
