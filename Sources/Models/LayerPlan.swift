import Engine

/// A model as plain data: a list of layer nodes with known shapes, in topological order.
/// Counting walks it; the Engine instantiation walks the same list, so the two cannot disagree.
/// A layer kind's shape (`GraphBuilder`), its counts and the engine op it runs as (`LayerNode`) all live in this
/// file, so a new kind is added here (README, "Contributing").

/// Output shape of a node at batch 1: height, width, channels (dense outputs are 1 x 1 x features).
public struct FeatureShape: Equatable, Hashable, Codable, Sendable, CustomStringConvertible {
    public var h: Int, w: Int, c: Int
    public init(h: Int, w: Int, c: Int) { self.h = h; self.w = w; self.c = c }
    public var description: String { "\(h)x\(w)x\(c)" }
}

/// The closed set of layer kinds. Only conv, batchNorm and dense own parameters.
public enum LayerOp: Equatable, Hashable, Sendable {
    case input
    /// TF "SAME" padding; output channels are the node's `shape.c`.
    case conv(kernel: Int, stride: Int, bias: Bool)
    case batchNorm
    /// The plan's activation (ReLU or swish, `ModelPlan.activation`).
    case activation
    /// 3x3 stride-2 max pool, SAME padding.
    case maxPool
    /// Nearest-neighbour upsampling by `factor`, then cropped to the node's shape (odd input sizes).
    case upsample(factor: Int)
    /// Element-wise sum of all inputs.
    case add
    /// Element-wise mean of all inputs.
    case mean
    /// [H, W, C] -> [1, 1, C].
    case globalAvgPool
    case dense(bias: Bool)
}

/// Which part of the detector a node belongs to, for backbone-only counts.
public enum ModelPart: String, Codable, Sendable { case backbone, head }

public struct LayerNode: Equatable, Sendable {
    public let id: Int
    /// Unique, path-like name ("block3/conv2"); parameter names derive from it.
    public let name: String
    public let op: LayerOp
    public let inputs: [Int]
    public let shape: FeatureShape
    public let part: ModelPart
    /// Nodes with the same key share one set of parameters (RetinaNet convs shared across levels).
    public let weightKey: String
    /// Set on the add that closes a residual unit of scale-permuted block k: its first input is the residual
    /// branch, which stochastic depth may drop.
    public let residualBlock: Int?
}

extension LayerNode {
    /// Trainable parameters this node owns (before sharing is taken into account).
    public func parameterCount(inputChannels cin: Int) -> Int {
        switch op {
        case let .conv(k, _, bias): return k * k * cin * shape.c + (bias ? shape.c : 0)
        case .batchNorm: return 2 * shape.c
        case let .dense(bias): return cin * shape.c + (bias ? shape.c : 0)
        default: return 0
        }
    }

    /// Multiply-adds at batch 1.
    public func macs(inputChannels cin: Int) -> Int {
        switch op {
        case let .conv(k, _, _): return shape.h * shape.w * k * k * cin * shape.c
        case .dense: return cin * shape.c
        default: return 0
        }
    }

    /// The layer holding this node's weights, made once per weight key by `Network.init` (`rng`: the key's own
    /// stream); nil for kinds without weights.
    func makeLayer(inputChannels cin: Int, bnMomentum: Float,
                   initializers: (LayerNode) -> (kernel: Initializer, bias: Initializer), rng: inout RNG) -> (any Layer)? {
        switch op {
        case let .conv(kernel, stride, bias):
            let (k, b) = initializers(self)
            return Conv2D(name: weightKey, inChannels: cin, outChannels: shape.c, kernel: kernel, stride: stride, bias: bias,
                          initializer: k, biasInitializer: b, rng: &rng)
        case .batchNorm: return BatchNorm(name: weightKey, channels: shape.c, momentum: bnMomentum)
        case let .dense(bias):
            let (k, b) = initializers(self)
            return Dense(name: weightKey, inFeatures: cin, outFeatures: shape.c, bias: bias, initializer: k,
                         biasInitializer: b, rng: &rng)
        default: return nil
        }
    }

    /// The engine op this node runs as (`net` holds the layers of nodes with weights). The engine's fusion
    /// planner sees conv, batch norm, activation, add and max pool nodes; every other kind is an opaque
    /// primitive, so adding one needs no change in the engine's graph.
    func engineOp(in net: Network) -> Graph.Op {
        switch op {
        case .input: return .input
        case .conv: return .conv(net.layers[weightKey] as! Conv2D)
        case .batchNorm: return .batchNorm(net.layers[weightKey] as! BatchNorm)
        case .activation: return .activation(net.plan.activation == .relu ? .relu : .swish)
        case .maxPool: return .maxPool3x3s2
        case let .upsample(factor):
            let (h, w) = (shape.h, shape.w)
            return .primitive("upsample") { tape, xs in
                tape.cropTopLeft(tape.upsampleNearest(xs[0], factor: factor), height: h, width: w)
            }
        case .add: return .add
        case .mean: return .primitive("mean") { tape, xs in tape.scale(tape.add(xs), 1 / Float(xs.count)) }
        case .globalAvgPool: return .primitive("globalAvgPool") { tape, xs in tape.globalAvgPool(xs[0]) }
        case .dense:
            let layer = net.layers[weightKey] as! Dense
            return .primitive("dense") { tape, xs in layer(xs[0], on: tape) }
        }
    }
}

public enum ActivationKind: String, Codable, Sendable { case relu, swish }

public struct ModelPlan: Sendable {
    public let name: String
    public let inputSize: Int
    public let activation: ActivationKind
    public let nodes: [LayerNode]
    /// Backbone feature levels (L3..L7) -> node id of the endpoint.
    public let levels: [Int: Int]
    /// Head outputs by name (a RetinaNet's named by `RetinaNetOutputs`, or "logits") -> node id.
    public let outputs: [String: Int]
    /// Number of scale-permuted blocks (stochastic depth rates are spread over them).
    public let blockCount: Int

    public func shape(ofLevel l: Int) -> FeatureShape? { levels[l].map { nodes[$0].shape } }
}

/// Appends nodes with shapes computed from their inputs; used by every builder.
final class GraphBuilder {
    private(set) var nodes: [LayerNode] = []
    var part: ModelPart = .backbone
    /// The scale-permuted block being emitted, if any (tags residual adds for stochastic depth).
    var currentBlock: Int?

    @discardableResult
    private func add(_ name: String, _ op: LayerOp, _ inputs: [Int], _ shape: FeatureShape, key: String? = nil,
                     residualBlock: Int? = nil) -> Int {
        precondition(!nodes.contains { $0.name == name }, "duplicate layer name \(name)")
        nodes.append(LayerNode(id: nodes.count, name: name, op: op, inputs: inputs, shape: shape, part: part,
                               weightKey: key ?? name, residualBlock: residualBlock))
        return nodes.count - 1
    }

    func shape(_ x: Int) -> FeatureShape { nodes[x].shape }

    func input(size: Int, channels: Int = 3) -> Int { add("image", .input, [], FeatureShape(h: size, w: size, c: channels)) }

    /// SAME padding: the output size is ceil(input / stride).
    func conv(_ x: Int, _ name: String, out: Int, kernel: Int, stride: Int = 1, bias: Bool = false, key: String? = nil) -> Int {
        let s = shape(x)
        return add(name, .conv(kernel: kernel, stride: stride, bias: bias), [x],
                   FeatureShape(h: ceilDiv(s.h, stride), w: ceilDiv(s.w, stride), c: out), key: key)
    }

    func batchNorm(_ x: Int, _ name: String, key: String? = nil) -> Int { add(name, .batchNorm, [x], shape(x), key: key) }

    func activation(_ x: Int, _ name: String) -> Int { add(name, .activation, [x], shape(x)) }

    /// conv, BN and (optionally) activation: the unit every block is made of.
    func convBN(_ x: Int, _ name: String, out: Int, kernel: Int, stride: Int = 1, act: Bool) -> Int {
        let y = batchNorm(conv(x, name + "/conv", out: out, kernel: kernel, stride: stride), name + "/bn")
        return act ? activation(y, name + "/act") : y
    }

    func maxPool(_ x: Int, _ name: String) -> Int {
        let s = shape(x)
        return add(name, .maxPool, [x], FeatureShape(h: ceilDiv(s.h, 2), w: ceilDiv(s.w, 2), c: s.c))
    }

    func upsample(_ x: Int, _ name: String, factor: Int, to target: FeatureShape) -> Int {
        let s = shape(x)
        precondition(s.h * factor >= target.h && s.w * factor >= target.w, "upsampling \(s) by \(factor) cannot reach \(target)")
        return add(name, .upsample(factor: factor), [x], FeatureShape(h: target.h, w: target.w, c: s.c))
    }

    func sum(_ xs: [Int], _ name: String) -> Int {
        precondition(Set(xs.map(shape)).count == 1, "adding unequal shapes at \(name): \(xs.map(shape))")
        return xs.count == 1 ? xs[0] : add(name, .add, xs, shape(xs[0]))
    }

    /// branch + shortcut closing a residual unit.
    func residualSum(_ branch: Int, _ shortcut: Int, _ name: String) -> Int {
        precondition(shape(branch) == shape(shortcut), "residual shapes differ at \(name)")
        return add(name, .add, [branch, shortcut], shape(branch), residualBlock: currentBlock)
    }

    func mean(_ xs: [Int], _ name: String) -> Int {
        precondition(Set(xs.map(shape)).count == 1, "averaging unequal shapes at \(name)")
        return add(name, .mean, xs, shape(xs[0]))
    }

    func globalAvgPool(_ x: Int, _ name: String) -> Int { add(name, .globalAvgPool, [x], FeatureShape(h: 1, w: 1, c: shape(x).c)) }

    func dense(_ x: Int, _ name: String, out: Int, bias: Bool = true) -> Int {
        add(name, .dense(bias: bias), [x], FeatureShape(h: 1, w: 1, c: out))
    }

    /// Keep only nodes that some output depends on (like a Keras functional model), renumbering ids.
    func plan(name: String, inputSize: Int, activation: ActivationKind, blockCount: Int,
              levels: [Int: Int], outputs: [String: Int]) -> ModelPlan {
        var live = Set<Int>()
        var stack = Array(levels.values) + Array(outputs.values)
        while let n = stack.popLast() {
            if live.insert(n).inserted { stack.append(contentsOf: nodes[n].inputs) }
        }
        var newID = [Int: Int]()
        var kept: [LayerNode] = []
        for node in nodes where live.contains(node.id) {
            newID[node.id] = kept.count
            kept.append(LayerNode(id: kept.count, name: node.name, op: node.op, inputs: node.inputs.map { newID[$0]! },
                                  shape: node.shape, part: node.part, weightKey: node.weightKey,
                                  residualBlock: node.residualBlock))
        }
        return ModelPlan(name: name, inputSize: inputSize, activation: activation, nodes: kept,
                         levels: levels.mapValues { newID[$0]! }, outputs: outputs.mapValues { newID[$0]! },
                         blockCount: blockCount)
    }
}

@inline(__always) func ceilDiv(_ a: Int, _ b: Int) -> Int { (a + b - 1) / b }
