/// A network as the engine receives it: primitive ops on numbered nodes, each after its inputs. Models lowers
/// a plan into one (Models/LayerPlan.swift, `engineOp`); the fusion planner (`FusionPlan`) decides which nodes
/// run as one fused op, and `Tape.run` walks the nodes, running each group at its anchor and every other node
/// as its primitive. Fusion changes how values are computed, never which: run unfused, the same graph gives the
/// same values to float rounding (README, "Adding a fused pattern").
public struct Graph {
    public enum Op {
        case input
        case conv(Conv2D)
        case batchNorm(BatchNorm)
        case activation(Activation)
        /// Sum of the inputs (the first scaled per example where `Tape.run` is given drop-path factors).
        case add
        case maxPool3x3s2
        /// Any other op, named for whoever inspects a graph. The planner does not look inside it, so a new op
        /// needs no case here.
        case primitive(String, (Tape, [Var]) -> Var)
    }

    public struct Node {
        public let op: Op
        public let inputs: [Int]
    }

    public private(set) var nodes: [Node] = []
    /// The nodes reading each node, once per input slot that reads it.
    public private(set) var readers: [[Int]] = []
    /// How often each node is read from outside the graph (a level or an output).
    public private(set) var outsideReads: [Int] = []

    public init() {}

    @discardableResult
    public mutating func append(_ op: Op, _ inputs: [Int]) -> Int {
        let id = nodes.count
        precondition(inputs.allSatisfy { $0 < id }, "Graph: node \(id) reads a later node \(inputs)")
        nodes.append(Node(op: op, inputs: inputs))
        readers.append([])
        outsideReads.append(0)
        for i in inputs { readers[i].append(id) }
        return id
    }

    /// Marks a node as read from outside (a level or an output), so no fused group hides its value.
    public mutating func readOutside(_ id: Int) { outsideReads[id] += 1 }

    /// Nodes, levels and outputs reading node `id`.
    public func readCount(_ id: Int) -> Int { readers[id].count + outsideReads[id] }

    /// The node that alone reads `id` (nothing else, inside or outside, reads it).
    func soleReader(_ id: Int) -> Int? { readCount(id) == 1 ? readers[id].first : nil }

    /// The activation that alone reads `id`.
    func soleActivation(after id: Int) -> Int? {
        guard let a = soleReader(id), case .activation = nodes[a].op else { return nil }
        return a
    }

    /// The ReLU that alone reads `id`: a fused kernel can apply it in the same pass.
    func soleRelu(after id: Int) -> Int? {
        guard let a = soleActivation(after: id), case .activation(.relu) = nodes[a].op else { return nil }
        return a
    }

    func conv(_ id: Int) -> Conv2D? { if case .conv(let c) = nodes[id].op { c } else { nil } }
    func batchNorm(_ id: Int) -> BatchNorm? { if case .batchNorm(let b) = nodes[id].op { b } else { nil } }
    func isAdd(_ id: Int) -> Bool { if case .add = nodes[id].op { true } else { false } }
}

/// A graph part way through a run: the values made so far (nil inside fused groups and for nodes not yet
/// reached).
struct GraphRun {
    let graph: Graph
    let tape: Tape
    /// Add node -> per-example factors for its first input (stochastic depth's drop path).
    let dropPath: [Int: [Float]]
    var values: [Var?]

    /// The value of input `k` of node `id`.
    func input(_ id: Int, _ k: Int = 0) -> Var {
        guard let v = values[graph.nodes[id].inputs[k]] else { preconditionFailure("Graph: node \(id) reads a hidden node") }
        return v
    }

    /// The terms of add node `id` (`replacing` an input node's value by one a fused kernel made), the first scaled
    /// per example where drop path applies.
    func terms(_ id: Int, replacing given: [Int: Var] = [:]) -> [Var] {
        var xs = graph.nodes[id].inputs.enumerated().map { k, i in given[i] ?? input(id, k) }
        if let factors = dropPath[id] { xs[0] = tape.scalePerExample(xs[0], factors) }
        return xs
    }

    /// Node `id` as its own primitive op: the reference every fused kernel is checked against.
    func primitive(_ id: Int) -> Var {
        let node = graph.nodes[id]
        switch node.op {
        case .input: preconditionFailure("Graph: input node \(id) has no value")
        case .conv(let layer): return layer(input(id), on: tape)
        case .batchNorm(let layer): return layer(input(id), on: tape)
        case .activation(let a): return tape.activation(input(id), a)
        case .add: return tape.add(terms(id))
        case .maxPool3x3s2: return tape.maxPool3x3s2(input(id))
        case .primitive(_, let op): return op(tape, node.inputs.indices.map { input(id, $0) })
        }
    }
}

extension Tape {
    /// Runs `graph` on `inputs` (one per input node, in order). With a `plan`, its groups run as fused kernels,
    /// each when the walk reaches its anchor; without, every node runs as its primitive. `dropPath`: add node ->
    /// per-example factors for its first input. Returns every node's value, nil for nodes inside a fused group.
    public func run(_ graph: Graph, inputs: [Var], plan: FusionPlan?, dropPath: [Int: [Float]] = [:]) -> [Var?] {
        var run = GraphRun(graph: graph, tape: self, dropPath: dropPath, values: Array(repeating: nil, count: graph.nodes.count))
        var given = inputs.makeIterator()
        let groups = plan?.groups ?? []
        var at: [Int: Int] = [:], covered = Set<Int>()
        for (k, group) in groups.enumerated() {
            at[group.anchor] = k
            covered.formUnion(group.nodes)
        }
        for id in graph.nodes.indices {
            if case .input = graph.nodes[id].op {
                guard let x = given.next() else { preconditionFailure("Graph: fewer inputs than input nodes") }
                run.values[id] = x
            } else if let k = at[id] {
                groups[k].run(&run)
            } else if !covered.contains(id) {
                run.values[id] = run.primitive(id)
            }
        }
        return run.values
    }
}
