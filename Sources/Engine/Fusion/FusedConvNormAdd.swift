/// conv1x1 -> batch norm -> + shortcut (-> ReLU): a bottleneck's last unit and its residual sum, as one training
/// node. The sum is taken in the pass that normalises (`Tape.conv1x1BatchNorm` with a residual,
/// Kernels/ConvBatchNorm.swift), so the batch norm's own output is never written and read back; a widening unit's
/// backward also skips the conv output (Kernels/WideningUnit.swift).
struct FusedConvNormAdd: FusedPattern {
    let conv: Int, norm: Int, add: Int, relu: Int?

    var name: String { relu == nil ? "conv1x1+bn+add" : "conv1x1+bn+add+relu" }
    var nodes: [Int] { [conv, norm, add] + (relu.map { [$0] } ?? []) }
    var anchor: Int { add }

    /// Two-input adds of two different nodes, one of them (the first such) a conv + batch norm pair's norm that
    /// only the add reads.
    static func find(in g: Graph, pairs: [Int: Int]) -> [FusedConvNormAdd] {
        g.nodes.indices.compactMap { id in
            let xs = g.nodes[id].inputs
            guard g.isAdd(id), xs.count == 2, xs[0] != xs[1],
                  let norm = xs.first(where: { pairs[$0] != nil && g.readCount($0) == 1 }) else { return nil }
            return FusedConvNormAdd(conv: pairs[norm]!, norm: norm, add: id, relu: g.soleRelu(after: id))
        }
    }

    func run(_ run: inout GraphRun) {
        let g = run.graph, tape = run.tape
        let x = run.input(conv), layer = g.conv(conv)!, bn = g.batchNorm(norm)!
        if run.dropPath[add] != nil {
            // a branch that drop path scales cannot take the shortcut in its pass: the pair alone, then the sum
            let branch = tape.conv1x1BatchNorm(x, layer, bn, relu: false)
            let terms = run.terms(add, replacing: [norm: branch])
            run.values[relu ?? add] = relu != nil ? tape.add(terms, activation: .relu) : tape.add(terms)
        } else {
            let shortcut = g.nodes[add].inputs.first { $0 != norm }!
            run.values[relu ?? add] = tape.conv1x1BatchNorm(x, layer, bn, relu: relu != nil, residual: run.values[shortcut]!)
        }
    }
}
