/// add -> ReLU: one pass writes max(sum, 0) and backward masks the gradient by that output, so the sum itself
/// is never stored (`Tape.add(_:activation:)`, Ops.swift).
struct FusedAddRelu: FusedPattern {
    let add: Int, relu: Int

    var name: String { "add+relu" }
    var nodes: [Int] { [add, relu] }
    var anchor: Int { add }

    /// Adds no other pattern took, read only by a ReLU.
    static func find(in g: Graph, taken: Set<Int>) -> [FusedAddRelu] {
        g.nodes.indices.compactMap { id in
            guard g.isAdd(id), !taken.contains(id), let a = g.soleRelu(after: id) else { return nil }
            return FusedAddRelu(add: id, relu: a)
        }
    }

    func run(_ run: inout GraphRun) { run.values[relu] = run.tape.add(run.terms(add), activation: .relu) }
}
