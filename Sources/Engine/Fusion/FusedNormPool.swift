/// (conv ->) batch norm -> ReLU -> 3x3 stride-2 max pool: the stem, as one node (Kernels/NormPool.swift). The
/// pool normalises each window on the fly, so the step's largest tensor, the normalised map, is never written;
/// with the stem's bias-free conv of the image, the conv also hands over batch norm's moments block by block.
struct FusedNormPool: FusedPattern {
    let conv: Int?, norm: Int, relu: Int, pool: Int

    var name: String { conv == nil ? "bn+relu+maxpool" : "conv+bn+relu+maxpool" }
    var nodes: [Int] { (conv.map { [$0] } ?? []) + [norm, relu, pool] }
    var anchor: Int { pool }

    /// Max pools reading a ReLU that only they read, of a batch norm (not a pair's) that only the ReLU reads; with
    /// the conv that only the norm reads when it is bias-free and reads an input node.
    static func find(in g: Graph, pairs: [Int: Int]) -> [FusedNormPool] {
        g.nodes.indices.compactMap { id in
            guard case .maxPool3x3s2 = g.nodes[id].op else { return nil }
            let a = g.nodes[id].inputs[0]
            guard case .activation(.relu) = g.nodes[a].op, g.readCount(a) == 1 else { return nil }
            let norm = g.nodes[a].inputs[0]
            guard g.batchNorm(norm) != nil, g.soleRelu(after: norm) == a, pairs[norm] == nil else { return nil }
            let c = g.nodes[norm].inputs[0]
            var stem: Int?
            if let layer = g.conv(c), layer.bias == nil, g.readCount(c) == 1, case .input = g.nodes[g.nodes[c].inputs[0]].op {
                stem = c
            }
            return FusedNormPool(conv: stem, norm: norm, relu: a, pool: id)
        }
    }

    func run(_ run: inout GraphRun) {
        let g = run.graph, tape = run.tape, bn = g.batchNorm(norm)!
        if let conv {
            run.values[pool] = tape.convBatchNormReluMaxPool(run.input(conv), g.conv(conv)!, bn)
        } else {
            run.values[pool] = tape.batchNormReluMaxPool(run.input(norm), bn)
        }
    }
}
