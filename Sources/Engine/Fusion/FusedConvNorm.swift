/// conv1x1 -> batch norm (-> ReLU): a bias-free pointwise conv, the batch norm that alone reads it and the ReLU
/// that alone reads that, as one training node (`Tape.conv1x1BatchNorm`, Kernels/ConvBatchNorm.swift): the
/// moments are taken while each block of conv output is still in cache, and backward feeds batch norm's input
/// gradient straight into the conv's two products.
struct FusedConvNorm: FusedPattern {
    let conv: Int, norm: Int, relu: Int?

    var name: String { relu == nil ? "conv1x1+bn" : "conv1x1+bn+relu" }
    var nodes: [Int] { [conv, norm] + (relu.map { [$0] } ?? []) }
    var anchor: Int { norm }

    /// Batch-norm node -> the bias-free stride-1 pointwise conv that only it reads: the pairs every conv + batch
    /// norm pattern starts from.
    static func pairs(in g: Graph) -> [Int: Int] {
        var pairs: [Int: Int] = [:]
        for id in g.nodes.indices where g.batchNorm(id) != nil {
            let c = g.nodes[id].inputs[0]
            if let conv = g.conv(c), conv.kernelSize == 1, conv.stride == 1, conv.bias == nil, g.readCount(c) == 1 {
                pairs[id] = c
            }
        }
        return pairs
    }

    /// The pairs no other pattern took.
    static func find(in g: Graph, pairs: [Int: Int], taken: Set<Int>) -> [FusedConvNorm] {
        pairs.keys.sorted().filter { !taken.contains($0) }.map {
            FusedConvNorm(conv: pairs[$0]!, norm: $0, relu: g.soleRelu(after: $0))
        }
    }

    func run(_ run: inout GraphRun) {
        let g = run.graph
        run.values[relu ?? norm] = run.tape.conv1x1BatchNorm(run.input(conv), g.conv(conv)!, g.batchNorm(norm)!,
                                                             relu: relu != nil)
    }
}
