/// Parameter and multiply-add counts of a plan, by walking its nodes.
/// Params: trainable weights only (conv kernels and biases, BN gamma and beta, dense weights and biases;
/// BN moving statistics excluded), counted once per `weightKey`. MACs: conv and dense layers at batch 1.
public struct ModelCounts: Equatable, Sendable {
    public var params: Int
    public var macs: Int
    public var backboneParams: Int
    public var backboneMACs: Int
}

extension ModelPlan {
    public func inputChannels(of node: LayerNode) -> Int { node.inputs.first.map { nodes[$0].shape.c } ?? 0 }

    public var counts: ModelCounts {
        var result = ModelCounts(params: 0, macs: 0, backboneParams: 0, backboneMACs: 0)
        var seen = Set<String>()
        for node in nodes {
            let cin = inputChannels(of: node)
            let macs = node.macs(inputChannels: cin)
            let params = seen.insert(node.weightKey).inserted ? node.parameterCount(inputChannels: cin) : 0
            result.params += params
            result.macs += macs
            if node.part == .backbone {
                result.backboneParams += params
                result.backboneMACs += macs
            }
        }
        return result
    }
}
