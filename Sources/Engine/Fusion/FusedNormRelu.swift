/// batch norm -> ReLU: one pass writes relu(x*a + b) and backward masks the gradient by it, so the normalised
/// tensor is never stored (`Tape.batchNorm(_:_:activation:)`, BatchNormOp.swift).
struct FusedNormRelu: FusedPattern {
    let norm: Int, relu: Int

    var name: String { "bn+relu" }
    var nodes: [Int] { [norm, relu] }
    var anchor: Int { norm }

    /// Batch norms no other pattern took, read only by a ReLU.
    static func find(in g: Graph, taken: Set<Int>) -> [FusedNormRelu] {
        g.nodes.indices.compactMap { id in
            guard g.batchNorm(id) != nil, !taken.contains(id), let a = g.soleRelu(after: id) else { return nil }
            return FusedNormRelu(norm: id, relu: a)
        }
    }

    func run(_ run: inout GraphRun) {
        run.values[relu] = run.tape.batchNorm(run.input(norm), run.graph.batchNorm(norm)!, activation: .relu)
    }
}
