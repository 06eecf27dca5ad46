/// Which nodes of a graph run as one fused op, and the switch that turns fusion off.
///
/// At the ablations' narrow widths training is bound by memory, not multiplies: a fused kernel makes one pass
/// over memory where its primitives make several. Each pattern lives in its own file here, with how it is found
/// and which kernel runs it; its reference is its nodes run as primitives (`GraphRun.primitive`), which
/// `--no-fusion` runs and the tests compare against (README, "Adding a fused pattern"). Patterns are taken in a
/// fixed order, each from the nodes the earlier ones left, because they compete for nodes: a pointwise conv
/// and its batch norm may close a residual sum, join siblings on the same input, or stand alone.
public struct FusionPlan {
    /// Off: every node runs as its primitive. The results are the same to float rounding (the fused kernels
    /// sum in other orders), so it is not part of a run's config; records say it can change the last bits.
    nonisolated(unsafe) public static var enabled = true

    let groups: [any FusedPattern]

    public init(_ graph: Graph) {
        let pairs = FusedConvNorm.pairs(in: graph)
        let sums = FusedConvNormAdd.find(in: graph, pairs: pairs)
        let inSums = Set(sums.map(\.norm))
        let siblings = FusedConvNormSiblings.find(in: graph, pairs: pairs.filter { !inSums.contains($0.key) })
        let pools = FusedNormPool.find(in: graph, pairs: pairs)
        var taken = Set(sums.flatMap(\.nodes) + siblings.flatMap(\.nodes) + pools.flatMap(\.nodes))
        let alone = FusedConvNorm.find(in: graph, pairs: pairs, taken: taken)
        taken.formUnion(alone.flatMap(\.nodes))
        let found: [[any FusedPattern]] = [sums, siblings, pools, alone, FusedNormRelu.find(in: graph, taken: taken),
                                           FusedAddRelu.find(in: graph, taken: taken)]
        groups = found.flatMap { $0 }
        let all = groups.flatMap(\.nodes)
        precondition(Set(all).count == all.count, "FusionPlan: a node is in two fused groups")
    }

    /// Each group as its pattern's name and the nodes it covers, ordered by where they run.
    public var summary: [(pattern: String, nodes: [Int])] {
        groups.sorted { $0.anchor < $1.anchor }.map { ($0.name, $0.nodes) }
    }

    /// How many groups of each pattern.
    public var counts: [String: Int] { groups.reduce(into: [:]) { $0[$1.name, default: 0] += 1 } }
}

/// A fused group found in a graph: the nodes it covers and the kernel that runs them as one op.
protocol FusedPattern {
    /// The pattern's name in counts and tests ("conv1x1+bn+relu").
    var name: String { get }
    /// Every node the group covers.
    var nodes: [Int] { get }
    /// The node at which the walk runs the kernel (the same place for any graph, so the tape's order, and with
    /// it the order gradients are summed in, is fixed).
    var anchor: Int { get }
    /// Runs the kernel and sets the values of the covered nodes that anything else reads.
    func run(_ run: inout GraphRun)
}
