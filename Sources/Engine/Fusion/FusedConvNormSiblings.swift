/// Sibling conv1x1 -> batch norm (-> ReLU) pairs: pairs whose convs read the same node and whose outputs go the
/// same way (all through a ReLU, all through another activation, or none), as one node
/// (`Tape.conv1x1BatchNorms`, Kernels/ConvBatchNorm.swift). Their kernels side by side are one conv and batch
/// norm works per channel anyway, so the shared input is read once in forward and once in backward instead of
/// once per pair (SpineNet's resampling units and RetinaNet's level inputs).
struct FusedConvNormSiblings: FusedPattern {
    /// Each pair's conv, norm and fused ReLU, in node order.
    let members: [(conv: Int, norm: Int, relu: Int?)]

    var relu: Bool { members[0].relu != nil }
    var name: String { relu ? "conv1x1+bn+relu siblings" : "conv1x1+bn siblings" }
    var nodes: [Int] { members.flatMap { [$0.conv, $0.norm] + ($0.relu.map { [$0] } ?? []) } }
    var anchor: Int { members[0].norm }

    /// Groups of two or more pairs (batch-norm node -> conv node) on the same input, going the same way.
    static func find(in g: Graph, pairs: [Int: Int]) -> [FusedConvNormSiblings] {
        var byInput: [[Int]: [Int]] = [:]
        for (norm, conv) in pairs {
            let way = g.soleRelu(after: norm) != nil ? 1 : g.soleActivation(after: norm) != nil ? 2 : 0
            byInput[[g.nodes[conv].inputs[0], way], default: []].append(norm)
        }
        return byInput.values.filter { $0.count > 1 }.map { norms in
            FusedConvNormSiblings(members: norms.sorted().map { (conv: pairs[$0]!, norm: $0, relu: g.soleRelu(after: $0)) })
        }.sorted { $0.anchor < $1.anchor }
    }

    func run(_ run: inout GraphRun) {
        let g = run.graph
        let units = members.map { (conv: g.conv($0.conv)!, bn: g.batchNorm($0.norm)!) }
        let ys = run.tape.conv1x1BatchNorms(run.input(members[0].conv), units, relu: relu)
        for (m, y) in zip(members, ys) { run.values[m.relu ?? m.norm] = y }
    }
}
