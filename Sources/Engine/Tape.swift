/// A node on a tape: its id and the shape of its value.
public struct Var: Sendable {
    public let id: Int
    public var shape: [Int]
}

/// Activation choice for layers and blocks.
public enum Activation: Sendable, Equatable {
    case relu, swish, none
}

/// A training step:
///     let tape = Tape(training: true)
///     let loss = model(tape.input(images), on: tape) ...    // ops compute values now
///     tape.backward(loss); opt.step(learningRate: schedule.rate(at: step))   // step leaves the gradients zero
/// Read any values you need (tape.value(v)) before backward: it frees them.
///
/// Reverse-mode autodiff over recorded nodes. Each op computes its value now and records a hand-written
/// backward closure; `backward` walks nodes newest-first and frees each node's value, gradient and
/// closure once it is done, so peak memory is the forward activations plus one gradient front.
/// A backward closure owns the gradient it is given (no other node holds it): it may overwrite it and pass it
/// on as its input's gradient (batch norm and the fused ReLUs do), so gradients handed to `accumulate` must be
/// tensors nobody else keeps.
public final class Tape {
    public let training: Bool
    var values: [Tensor?] = []
    var grads: [Tensor?] = []
    var backs: [((Tensor) -> Void)?] = []
    var needs: [Bool] = []
    var params: [Parameter?] = []
    /// Op name and backward FLOPs of each node, for the profiler.
    var ops: [StaticString] = []
    var backwardFlops: [Double] = []
    /// When the previous node was recorded (profiler on only).
    var mark: UInt64

    public init(training: Bool) {
        self.training = training
        mark = Profiler.enabled ? Profiler.now() : 0
    }

    /// Number of recorded nodes.
    public var nodeCount: Int { values.count }

    /// Appends a node. `op` names it in profiles (the calling op by default); `flops` are its forward and
    /// backward multiply-add FLOPs where known.
    func record(_ value: Tensor, needsGrad: Bool, param: Parameter? = nil, op: StaticString = #function,
                flops: (forward: Double, backward: Double) = (0, 0), back: ((Tensor) -> Void)? = nil) -> Var {
        if Profiler.enabled {
            let t = Profiler.now()
            Profiler.add(Profiler.name(op, shape: value.shape), forward: Double(t - mark) / 1e9, calls: 1, forwardFlops: flops.forward)
            mark = t
        }
        ops.append(op)
        backwardFlops.append(needsGrad ? flops.backward : 0)
        values.append(value)
        grads.append(nil)
        needs.append(needsGrad)
        backs.append(needsGrad ? back : nil)
        params.append(param)
        return Var(id: values.count - 1, shape: value.shape)
    }

    /// A constant: no gradient flows into it.
    public func input(_ t: Tensor) -> Var { record(t, needsGrad: false) }

    /// A trainable parameter: backward adds its gradient into p.grad.
    public func param(_ p: Parameter) -> Var { record(p.value, needsGrad: true, param: p) }

    public func value(_ v: Var) -> Tensor {
        guard let t = values[v.id] else { preconditionFailure("Tape.value: node \(v.id) was freed by backward") }
        return t
    }

    public func needsGrad(_ v: Var) -> Bool { needs[v.id] }

    /// Adds g into the gradient of v. Takes ownership of g (callers pass a tensor nobody else writes).
    func accumulate(_ v: Var, _ g: Tensor) {
        guard needs[v.id] else { return }
        precondition(g.shape == v.shape || g.count == v.shape.reduce(1, *),
                     "gradient shape \(g.shape) does not match node shape \(v.shape)")
        if let existing = grads[v.id] { existing.add(g.shape == existing.shape ? g : g.reshaped(existing.shape)) }
        else { grads[v.id] = g.shape == v.shape ? g : g.reshaped(v.shape) }
    }

    /// Where a kernel writes v's gradient in place, and the sgemm beta to write it with: the gradient v already
    /// has (beta 1: the kernel adds into it, saving the pass `accumulate` would make), or a new tensor that becomes
    /// it (beta 0: the kernel writes every element). nil when v needs no gradient.
    func gradientInPlace(_ v: Var) -> (tensor: Tensor, beta: Float)? {
        guard needs[v.id] else { return nil }
        if let g = grads[v.id] { return (g, 1) }
        let g = Tensor(uninitialized: v.shape)
        grads[v.id] = g
        return (g, 0)
    }

    /// Back-propagates from a scalar loss, adding into every reached Parameter.grad.
    public func backward(_ loss: Var) {
        precondition(loss.shape.reduce(1, *) == 1, "backward: loss must have one element, has shape \(loss.shape)")
        backward(loss, seed: Tensor(shape: loss.shape, repeating: 1))
    }

    /// Back-propagates a given output gradient (vector-Jacobian product), e.g. for gradient checks.
    public func backward(_ out: Var, seed: Tensor) {
        precondition(seed.shape == out.shape, "backward: seed shape \(seed.shape) does not match output \(out.shape)")
        guard needs[out.id] else { return }
        grads[out.id] = seed.copy()
        var i = out.id
        while i >= 0 {
            if let g = grads[i] {
                let t0 = Profiler.enabled ? Profiler.now() : 0
                if let p = params[i] {
                    // g is this node's own (see above), so a zeroed gradient can simply become it
                    if p.gradIsZero && g.shape == p.grad.shape { p.grad = g } else { p.grad.add(g) }
                    p.gradIsZero = false
                }
                else if let back = backs[i] { back(g) }
                if Profiler.enabled {
                    Profiler.add(params[i] != nil ? "param grad" : Profiler.name(ops[i], shape: g.shape),
                                 backward: Double(Profiler.now() - t0) / 1e9, backwardFlops: backwardFlops[i])
                }
            }
            grads[i] = nil
            backs[i] = nil
            values[i] = nil
            i -= 1
        }
    }
}
