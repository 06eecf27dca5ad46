import Common
import Foundation
import Engine

/// A `ModelPlan` instantiated into Engine layers: one Conv2D / BatchNorm / Dense per weight key, so shared
/// RetinaNet convs are one layer called on five levels while their BNs stay per level. The forward pass hands the
/// engine the same node list that counting walks, one primitive op per node (`graph`); which nodes run fused is
/// the engine's choice (`FusionPlan`). `parameterCount` equals `plan.counts.params` by construction (and a test
/// checks it).
public final class Network {
    public let plan: ModelPlan
    /// Every layer by weight key: a Conv2D, BatchNorm or Dense per key, so a shared conv is one layer.
    public private(set) var layers: [String: any Layer] = [:]
    /// Every trainable parameter once, in plan order (stable across runs: checkpoints key on names).
    public private(set) var parameters: [Parameter] = []
    /// Every BatchNorm once, in plan order (for running statistics in checkpoints).
    public private(set) var batchNorms: [BatchNorm] = []
    /// The plan as the engine runs it: one primitive op per plan node, with the same ids.
    public private(set) var graph = Graph()
    /// Which of those nodes run fused (planned once, on first use).
    public private(set) lazy var fusionPlan: FusionPlan = FusionPlan(graph)

    /// What a forward pass returns: the backbone levels L3..L7 and the head outputs by plan name.
    public struct Outputs {
        public let levels: [Int: Var]
        public let outputs: [String: Var]
    }

    /// `seed` fixes every initial weight; each layer draws from its own stream (a hash of its name), so adding
    /// or removing a layer does not change the others' initial values.
    /// `bnMomentum` is every batch norm's moving-average momentum (the profile's `bn_momentum`).
    public init(plan: ModelPlan, seed: UInt64, bnMomentum: Float = 0.99,
                initializers: (LayerNode) -> (kernel: Initializer, bias: Initializer) = Network.defaultInitializers) {
        self.plan = plan
        let root = RNG(seed: seed)
        for node in plan.nodes where layers[node.weightKey] == nil {
            var rng = root.fork(Network.stream(node.weightKey))
            guard let layer = node.makeLayer(inputChannels: plan.inputChannels(of: node), bnMomentum: bnMomentum,
                                             initializers: initializers, rng: &rng) else { continue }
            layers[node.weightKey] = layer
            parameters += layer.parameters
            if let bn = layer as? BatchNorm { batchNorms.append(bn) }
        }
        for node in plan.nodes { graph.append(node.engineOp(in: self), node.inputs) }
        for id in Array(plan.levels.values) + Array(plan.outputs.values) { graph.readOutside(id) }
    }

    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    /// docs/paper-facts.md §2 and §8: variance scaling for the backbone; N(0, 0.01) for head tower convs, N(0, 1e-5)
    /// for prediction convs, class-prediction bias -log((1 - 0.01) / 0.01) so every anchor starts at p = 0.01.
    public static func defaultInitializers(_ node: LayerNode) -> (kernel: Initializer, bias: Initializer) {
        guard node.part == .head, case .conv = node.op else { return (.varianceScaling(), .constant(0)) }
        if node.weightKey.hasSuffix("/predict") {
            let prior: Float = 0.01
            let bias: Float = node.weightKey.hasPrefix("head/class") ? -Float(log((1 - Double(prior)) / Double(prior))) : 0
            return (.normal(sigma: 1e-5), .constant(bias))
        }
        return (.normal(sigma: 0.01), .constant(0))
    }

    /// Runs the plan on `image` ([N, H, W, C] with H = W = plan.inputSize, C = 3). With `stochasticDepth` on a
    /// training tape, the residual branch of permuted block k is dropped per example (docs/paper-facts.md §3,
    /// protocol C). `fusion` false runs every node as its primitive op (the same values to float rounding).
    public func callAsFunction(_ image: Var, on tape: Tape, stochasticDepth: StochasticDepth? = nil,
                               fusion: Bool = FusionPlan.enabled) -> Outputs {
        let input = plan.nodes[0].shape
        precondition(image.shape.count == 4 && image.shape[1] == input.h && image.shape[2] == input.w && image.shape[3] == input.c,
                     "Network \(plan.name): expects images [N, \(input.h), \(input.w), \(input.c)], got \(image.shape)")
        var dropPath: [Int: [Float]] = [:]
        if let sd = stochasticDepth, tape.training {
            for node in plan.nodes {
                if let k = node.residualBlock { dropPath[node.id] = sd.factors(block: k, of: plan.blockCount, batch: image.shape[0]) }
            }
        }
        let v = tape.run(graph, inputs: [image], plan: fusion ? fusionPlan : nil, dropPath: dropPath)
        return Outputs(levels: plan.levels.mapValues { v[$0]! }, outputs: plan.outputs.mapValues { v[$0]! })
    }

    /// FNV-1a of a layer name: its RNG stream.
    static func stream(_ name: String) -> UInt64 { FNV1a64.of(name) }
}

/// Drop-path for the residual branches of the scale-permuted blocks: block k of n is dropped with probability
/// `maxRate * (k + 1) / n`; kept branches are scaled by 1 / keep so the expectation is unchanged.
public final class StochasticDepth {
    public let maxRate: Float
    public var rng: RNG

    public init(maxRate: Float = 0.2, rng: RNG) {
        self.maxRate = maxRate
        self.rng = rng
    }

    public func rate(block k: Int, of n: Int) -> Float { maxRate * Float(k + 1) / Float(max(n, 1)) }

    func factors(block k: Int, of n: Int, batch: Int) -> [Float] {
        let keep = 1 - rate(block: k, of: n)
        return (0..<batch).map { _ in rng.uniform() < keep ? 1 / keep : 0 }
    }
}
