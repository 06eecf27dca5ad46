import Common
import Foundation
import Engine

/// A `ModelPlan` instantiated into Engine layers: one Conv2D / BatchNorm / Dense per weight key, so shared
/// RetinaNet convs are one layer called on five levels while their BNs stay per level. The forward pass walks
/// the same node list that counting walks; `parameterCount` equals `plan.counts.params` by construction
/// (and a test checks it).
public final class Network {
    public let plan: ModelPlan
    public private(set) var convs: [String: Conv2D] = [:]
    public private(set) var norms: [String: BatchNorm] = [:]
    public private(set) var denses: [String: Dense] = [:]
    /// Every trainable parameter once, in plan order (stable across runs: checkpoints key on names).
    public private(set) var parameters: [Parameter] = []
    /// Every BatchNorm once, in plan order (for running statistics in checkpoints).
    public private(set) var batchNorms: [BatchNorm] = []
    /// Activation node -> the batch-norm or add node it alone consumes: the pair runs as one fused engine op.
    let fusedActivations: [Int: Int]
    let fusedProducers: Set<Int>
    /// Batch-norm node -> the pointwise conv node only it reads: the pair runs as one engine op in training.
    let fusedConvs: [Int: Int]
    let fusedConvNodes: Set<Int>
    /// Add node -> the fused conv + batch-norm input it adds in the same pass (a bottleneck's last unit).
    let fusedSums: [Int: Int]
    let fusedNormsInSums: Set<Int>
    /// Batch-norm node of a fused conv + BN pair -> every pair of its group: pairs (without a residual sum) whose
    /// convs read the same node and whose outputs go the same way (through the activation or not) run as one op.
    let convGroups: [Int: [Int]]
    /// Max-pool node -> the batch norm whose fused ReLU alone feeds it (the stem): the three run as one op.
    let fusedPools: [Int: Int]
    /// Such a max-pool node -> the conv of the image that alone feeds that batch norm (the stem's): the conv
    /// runs in the same op, which takes the norm's moments from it block by block.
    let stemConvs: [Int: Int]
    let pooledNodes: Set<Int>

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
        fusedActivations = Network.fusablePairs(plan)
        fusedProducers = Set(fusedActivations.values)
        fusedConvs = Network.fusableConvs(plan)
        fusedConvNodes = Set(fusedConvs.values)
        fusedSums = Network.fusableSums(plan, fusedConvs: fusedConvs, fusedProducers: fusedProducers)
        fusedNormsInSums = Set(fusedSums.values)
        convGroups = Network.groupableConvs(plan, fusedConvs: fusedConvs, fusedNormsInSums: fusedNormsInSums,
                                            fusedProducers: fusedProducers)
        fusedPools = plan.activation == .relu
            ? Network.fusablePools(plan, fusedActivations: fusedActivations, fusedConvs: fusedConvs) : [:]
        stemConvs = Network.fusableStems(plan, fusedPools: fusedPools)
        pooledNodes = Set(fusedPools.values.flatMap { [$0] } + fusedPools.keys.map { plan.nodes[$0].inputs[0] } + stemConvs.values)
        let root = RNG(seed: seed)
        for node in plan.nodes {
            let key = node.weightKey
            let cin = plan.inputChannels(of: node)
            var rng = root.fork(Network.stream(key))
            switch node.op {
            case let .conv(kernel, stride, bias) where convs[key] == nil:
                let (k, b) = initializers(node)
                let layer = Conv2D(name: key, inChannels: cin, outChannels: node.shape.c, kernel: kernel, stride: stride,
                                   bias: bias, initializer: k, biasInitializer: b, rng: &rng)
                convs[key] = layer
                parameters += layer.parameters
            case .batchNorm where norms[key] == nil:
                let layer = BatchNorm(name: key, channels: node.shape.c, momentum: bnMomentum)
                norms[key] = layer
                batchNorms.append(layer)
                parameters += layer.parameters
            case let .dense(bias) where denses[key] == nil:
                let (k, b) = initializers(node)
                let layer = Dense(name: key, inFeatures: cin, outFeatures: node.shape.c, bias: bias, initializer: k,
                                  biasInitializer: b, rng: &rng)
                denses[key] = layer
                parameters += layer.parameters
            default: break
            }
        }
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
    /// training tape, the residual branch of permuted block k is dropped per example (docs/paper-facts.md §3, protocol C).
    public func callAsFunction(_ image: Var, on tape: Tape, stochasticDepth: StochasticDepth? = nil) -> Outputs {
        let input = plan.nodes[0].shape
        precondition(image.shape.count == 4 && image.shape[1] == input.h && image.shape[2] == input.w && image.shape[3] == input.c,
                     "Network \(plan.name): expects images [N, \(input.h), \(input.w), \(input.c)], got \(image.shape)")
        let act: Activation = plan.activation == .relu ? .relu : .swish
        var v: [Var] = []
        v.reserveCapacity(plan.nodes.count)
        var fused: [Int: Var] = [:]   // batch-norm or add node -> output of its fused activation
        var grouped: [Int: Var] = [:]   // batch-norm node -> its output, made with the first pair of its group
        // A fused group (conv + BN, conv + BN + sum, [conv +] BN + ReLU + pool; see the maps above) runs at its
        // last node; its earlier nodes get stand-ins that nothing reads. Pairs of a joint group run together at
        // the first of them.
        for node in plan.nodes {
            let xs = node.inputs.map { v[$0] }
            let y: Var
            switch node.op {
            case .input: y = image
            case .conv where fusedConvNodes.contains(node.id):
                y = xs[0]   // a stand-in: only its batch norm reads this node, and that runs the conv
            case .conv where pooledNodes.contains(node.id):
                y = xs[0]   // a stand-in: only the stem's batch norm reads this node, and the max pool runs the conv
            case .conv: y = convs[node.weightKey]!(xs[0], on: tape)
            case .batchNorm where pooledNodes.contains(node.id), .activation where pooledNodes.contains(node.id):
                y = xs[0]   // a stand-in: only the max pool reads it (through the ReLU), and that runs all three
            case .maxPool where fusedPools[node.id] != nil:
                let norm = plan.nodes[fusedPools[node.id]!]
                if let stem = stemConvs[node.id].map({ plan.nodes[$0] }) {
                    y = tape.convBatchNormReluMaxPool(v[stem.inputs[0]], convs[stem.weightKey]!, norms[norm.weightKey]!)
                } else {
                    y = tape.batchNormReluMaxPool(v[norm.inputs[0]], norms[norm.weightKey]!)
                }
            case .batchNorm where fusedNormsInSums.contains(node.id):
                y = xs[0]   // a stand-in: only its sum reads this node, and that runs the conv and the norm
            case .batchNorm where fusedConvs[node.id] != nil:
                let withAct = fusedProducers.contains(node.id)
                if let group = convGroups[node.id] {
                    if grouped[node.id] == nil {
                        let units = group.map { norm in
                            (conv: convs[plan.nodes[fusedConvs[norm]!].weightKey]!, bn: norms[plan.nodes[norm].weightKey]!)
                        }
                        let ys = tape.conv1x1BatchNorms(v[plan.nodes[fusedConvs[node.id]!].inputs[0]], units,
                                                        relu: withAct && act == .relu)
                        for (norm, out) in zip(group, ys) { grouped[norm] = out }
                    }
                    y = grouped.removeValue(forKey: node.id)!
                } else {
                    y = fusedConvNorm(node.id, v, on: tape, relu: withAct && act == .relu)
                }
                if withAct { fused[node.id] = act == .relu ? y : tape.swish(y) }
            case .batchNorm where fusedProducers.contains(node.id):
                // Only its activation reads this node: compute both now, the activation node takes the result.
                y = tape.batchNorm(xs[0], norms[node.weightKey]!, activation: act)
                fused[node.id] = y
            case .batchNorm: y = norms[node.weightKey]!(xs[0], on: tape)
            case .activation:
                if let producer = fusedActivations[node.id] { y = fused.removeValue(forKey: producer)! }
                else { y = tape.activation(xs[0], act) }
            case .maxPool: y = tape.maxPool3x3s2(xs[0])
            case let .upsample(factor):
                y = tape.cropTopLeft(tape.upsampleNearest(xs[0], factor: factor), height: node.shape.h, width: node.shape.w)
            case .add where fusedSums[node.id] != nil && !(node.residualBlock != nil && stochasticDepth != nil && tape.training):
                let norm = fusedSums[node.id]!, other = node.inputs[0] == norm ? node.inputs[1] : node.inputs[0]
                let withAct = fusedProducers.contains(node.id)
                y = fusedConvNorm(norm, v, on: tape, relu: withAct && act == .relu, residual: v[other])
                if withAct { fused[node.id] = act == .relu ? y : tape.swish(y) }
            case .add:
                var terms = xs
                if let norm = fusedSums[node.id] {   // the sum cannot take it (dropped paths): run the norm alone
                    terms[node.inputs.firstIndex(of: norm)!] = fusedConvNorm(norm, v, on: tape, relu: false)
                }
                if let k = node.residualBlock, let sd = stochasticDepth, tape.training {
                    let factors = sd.factors(block: k, of: plan.blockCount, batch: xs[0].shape[0])
                    terms = [tape.scalePerExample(terms[0], factors), terms[1]]
                }
                if fusedProducers.contains(node.id) {
                    y = tape.add(terms, activation: act)
                    fused[node.id] = y
                } else {
                    y = tape.add(terms)
                }
            case .mean: y = tape.scale(tape.add(xs), 1 / Float(xs.count))
            case .globalAvgPool: y = tape.globalAvgPool(xs[0])
            case .dense: y = denses[node.weightKey]!(xs[0], on: tape)
            }
            v.append(y)
        }
        return Outputs(levels: plan.levels.mapValues { v[$0] }, outputs: plan.outputs.mapValues { v[$0] })
    }

    /// The conv + batch norm pair ending at batch-norm node `norm`, run as one op (plus a residual sum).
    private func fusedConvNorm(_ norm: Int, _ v: [Var], on tape: Tape, relu: Bool, residual: Var? = nil) -> Var {
        let conv = plan.nodes[fusedConvs[norm]!]
        return tape.conv1x1BatchNorm(v[conv.inputs[0]], convs[conv.weightKey]!, norms[plan.nodes[norm].weightKey]!,
                                     relu: relu, residual: residual)
    }

    /// Two-input add nodes -> a fused conv + batch-norm input that nothing else reads (with no activation of
    /// its own): the sum is taken in the same pass that normalises.
    static func fusableSums(_ plan: ModelPlan, fusedConvs: [Int: Int], fusedProducers: Set<Int>) -> [Int: Int] {
        let readers = readerCounts(plan)
        var sums: [Int: Int] = [:]
        for node in plan.nodes where node.op == .add && node.inputs.count == 2 && node.inputs[0] != node.inputs[1] {
            if let norm = node.inputs.first(where: { fusedConvs[$0] != nil && readers[$0] == 1 && !fusedProducers.contains($0) }) {
                sums[node.id] = norm
            }
        }
        return sums
    }

    /// Groups of two or more fused conv + BN pairs (outside residual sums) on the same input that agree on taking
    /// the fused activation; each member maps to the whole group, in plan order.
    static func groupableConvs(_ plan: ModelPlan, fusedConvs: [Int: Int], fusedNormsInSums: Set<Int>,
                               fusedProducers: Set<Int>) -> [Int: [Int]] {
        var byInput: [[Int]: [Int]] = [:]
        for (norm, conv) in fusedConvs where !fusedNormsInSums.contains(norm) {
            byInput[[plan.nodes[conv].inputs[0], fusedProducers.contains(norm) ? 1 : 0], default: []].append(norm)
        }
        var groups: [Int: [Int]] = [:]
        for members in byInput.values where members.count > 1 {
            for norm in members { groups[norm] = members.sorted() }
        }
        return groups
    }

    /// Max-pool nodes whose input is a ReLU fused with a batch norm (not one fused with its conv), read by
    /// nothing else -> that batch norm.
    static func fusablePools(_ plan: ModelPlan, fusedActivations: [Int: Int], fusedConvs: [Int: Int]) -> [Int: Int] {
        let readers = readerCounts(plan)
        var pools: [Int: Int] = [:]
        for node in plan.nodes where node.op == .maxPool {
            let act = node.inputs[0]
            if let norm = fusedActivations[act], plan.nodes[norm].op == .batchNorm, fusedConvs[norm] == nil,
               readers[act] == 1 {
                pools[node.id] = norm
            }
        }
        return pools
    }

    /// Fused max-pool nodes whose batch norm reads a bias-free conv of the image that nothing else reads -> that conv.
    static func fusableStems(_ plan: ModelPlan, fusedPools: [Int: Int]) -> [Int: Int] {
        let readers = readerCounts(plan)
        var stems: [Int: Int] = [:]
        for (pool, norm) in fusedPools {
            let conv = plan.nodes[norm].inputs[0]
            if case .conv(_, _, false) = plan.nodes[conv].op, readers[conv] == 1,
               plan.nodes[plan.nodes[conv].inputs[0]].op == .input {
                stems[pool] = conv
            }
        }
        return stems
    }

    /// Batch-norm nodes whose input is a bias-free pointwise conv that nothing else reads.
    static func fusableConvs(_ plan: ModelPlan) -> [Int: Int] {
        let readers = readerCounts(plan)
        var pairs: [Int: Int] = [:]
        for node in plan.nodes where node.op == .batchNorm {
            let producer = node.inputs[0]
            if plan.nodes[producer].op == .conv(kernel: 1, stride: 1, bias: false) && readers[producer] == 1 {
                pairs[node.id] = producer
            }
        }
        return pairs
    }

    /// How many nodes, levels and outputs read each node.
    static func readerCounts(_ plan: ModelPlan) -> [Int] {
        var readers = [Int](repeating: 0, count: plan.nodes.count)
        for node in plan.nodes { for i in node.inputs { readers[i] += 1 } }
        for i in plan.levels.values { readers[i] += 1 }
        for i in plan.outputs.values { readers[i] += 1 }
        return readers
    }

    /// Activation nodes whose input is a batch norm or an add that nothing else reads (no other node, level or
    /// output).
    static func fusablePairs(_ plan: ModelPlan) -> [Int: Int] {
        let readers = readerCounts(plan)
        var pairs: [Int: Int] = [:]
        for node in plan.nodes where node.op == .activation && node.inputs.count == 1 {
            let producer = node.inputs[0]
            if [.batchNorm, .add].contains(plan.nodes[producer].op) && readers[producer] == 1 { pairs[node.id] = producer }
        }
        return pairs
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
