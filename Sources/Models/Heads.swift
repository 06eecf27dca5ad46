import Engine

/// Which head to put on the L3..L7 features.
public enum HeadConfig: Equatable, Sendable {
    case none
    /// RetinaNet (docs/paper-facts.md §8): per subnet `convs` 3x3 convs with bias shared across levels, BN per level,
    /// act; then a shared 3x3 prediction conv with bias (classes x anchors and 4 x anchors outputs).
    case retinaNet(filters: Int, convs: Int, classes: Int, anchors: Int)
    /// Classification (docs/paper-facts.md §8, §14). On a scale-permuted backbone: upsample P4..P7 to P3's size
    /// (nearest), average the five maps, global average pool, dense (softmax in the loss). On a ResNet: the plain
    /// ResNet classifier the paper compares against, global average pool of C5 and dense (no FPN is built).
    case classification(classes: Int)
}

/// The RetinaNet head's outputs as the plan names them: the one definition of that naming, used by the head builder
/// and by `Network.Outputs.retinaNet`, so no other module spells a key.
public enum RetinaNetOutputs {
    static let classSubnet = "class", boxSubnet = "box"
    /// The feature levels the head predicts from (docs/paper-facts.md §8: L3..L7), in the anchor order of
    /// Detection's `AnchorSet` (lowest level first).
    public static let levels = 3...7

    static func key(_ subnet: String, level: Int) -> String { "\(subnet)/\(level)" }
}

extension Network.Outputs {
    /// A RetinaNet head's per-level outputs, lowest level first: class logits [N,H,W,A*K] and box deltas
    /// [N,H,W,A*4], for Detection's `RetinaNet` to flatten.
    public var retinaNet: (classes: [Var], boxes: [Var]) {
        (RetinaNetOutputs.levels.map { outputs[RetinaNetOutputs.key(RetinaNetOutputs.classSubnet, level: $0)]! },
         RetinaNetOutputs.levels.map { outputs[RetinaNetOutputs.key(RetinaNetOutputs.boxSubnet, level: $0)]! })
    }
}

extension GraphBuilder {
    func retinaNetHead(_ levels: [Int: Int], filters: Int, convs: Int, classes: Int, anchors: Int) -> [String: Int] {
        var outputs: [String: Int] = [:]
        for (subnet, predicted) in [(RetinaNetOutputs.classSubnet, classes * anchors), (RetinaNetOutputs.boxSubnet, 4 * anchors)] {
            for l in RetinaNetOutputs.levels {
                var x = levels[l]!
                for i in 0..<convs {
                    let name = "head/\(subnet)/conv\(i)"
                    x = conv(x, "\(name)/l\(l)", out: filters, kernel: 3, bias: true, key: name)
                    x = batchNorm(x, "\(name)/bn/l\(l)")
                    x = activation(x, "\(name)/act/l\(l)")
                }
                outputs[RetinaNetOutputs.key(subnet, level: l)] = conv(x, "head/\(subnet)/predict/l\(l)", out: predicted, kernel: 3, bias: true,
                                                 key: "head/\(subnet)/predict")
            }
        }
        return outputs
    }

    func classificationHead(_ levels: [Int: Int], classes: Int) -> [String: Int] {
        let target = shape(levels[3]!)
        var maps = [levels[3]!]
        for l in 4...7 {
            maps.append(upsample(levels[l]!, "head/up\(l)", factor: 1 << (l - 3), to: target))
        }
        let pooled = globalAvgPool(mean(maps, "head/mean"), "head/pool")
        return ["logits": dense(pooled, "head/dense", out: classes)]
    }

    /// The plain ResNet classifier: global average pool of the top level (C5), then dense.
    func pooledClassificationHead(_ levels: [Int: Int], classes: Int) -> [String: Int] {
        let top = levels[levels.keys.max()!]!
        return ["logits": dense(globalAvgPool(top, "head/pool"), "head/dense", out: classes)]
    }
}
