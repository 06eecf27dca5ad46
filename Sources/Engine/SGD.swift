import Foundation

/// SGD with momentum (v = m*v + g; w -= lr*v). L2 weight decay is added to the gradient of parameters with
/// decays == true (TF's l2_loss convention: d/dw of wd * 0.5 * |w|^2), then the whole gradient is optionally
/// clipped by its global norm.
public final class SGD {
    public let parameters: [Parameter]
    public let momentum: Float
    public let weightDecay: Float
    public let clipNorm: Float?
    /// Momentum buffers, one per parameter in order (saved in checkpoints).
    public var state: [Tensor]
    /// Steps taken so far (saved in checkpoints).
    public var stepCount: Int = 0
    /// Global gradient norm of the last step (after weight decay, before clipping).
    public private(set) var lastGradNorm: Float = 0

    public init(parameters: [Parameter], momentum: Float = 0.9, weightDecay: Float = 0, clipNorm: Float? = nil) {
        self.parameters = parameters
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.clipNorm = clipNorm
        state = parameters.map { Tensor(zeros: $0.value.shape) }
    }

    /// Replaces the momentum buffers (from a checkpoint); shapes must match.
    public func load(state newState: [Tensor], stepCount: Int) {
        precondition(newState.count == parameters.count, "SGD.load: \(newState.count) buffers for \(parameters.count) parameters")
        for (p, s) in zip(parameters, newState) {
            precondition(p.value.shape == s.shape, "SGD.load: buffer \(s.shape) does not match \(p.name) \(p.value.shape)")
        }
        state = newState
        self.stepCount = stepCount
    }

    /// Zeroes every gradient, over the update's work items in parallel (most parameters are too small for a
    /// parallel loop of their own).
    public func zeroGrad() {
        let ps = UncheckedBox(parameters), its = UncheckedBox(items)
        Threads.parallelFor(its.value.count) { t in
            let (i, r) = its.value[t]
            (ps.value[i].grad.ptr + r.lowerBound).update(repeating: 0, count: r.count)
        }
        for p in parameters { p.gradIsZero = true }
    }

    /// Work items of an update: (parameter index, element range), ranges of at most 64K elements. Fixed by the
    /// parameter shapes alone, so sums over them come out the same for any thread count.
    private lazy var items: [(Int, Range<Int>)] = parameters.enumerated().flatMap { i, p in
        stride(from: 0, to: max(p.value.count, 1), by: 1 << 16).map { (i, $0..<min(p.value.count, $0 + (1 << 16))) }
    }

    /// One update; returns the global gradient norm before clipping. It consumes the gradients: they are
    /// zero afterwards, ready for the next backward. Without clipping the norm is only reported, so decay,
    /// norm and update are one pass over all parameters at once; with it, the norm comes first. (Many
    /// parameters are tiny BN vectors: one parallel loop each would cost more than the arithmetic.)
    @discardableResult
    public func step(learningRate lr: Float) -> Float {
        let items = self.items, wd = weightDecay, m = momentum
        let ps = UncheckedBox(parameters), vs = UncheckedBox(state), its = UncheckedBox(items)
        // v = m*v + factor*g, w -= lr*v, g = 0 on one item
        func update(_ t: Int, factor: Float) {
            let (i, r) = its.value[t]
            let g = ps.value[i].grad.ptr + r.lowerBound, w = ps.value[i].value.ptr + r.lowerBound
            let v = vs.value[i].ptr + r.lowerBound
            typealias K = SIMDKernels
            let mv = K.F8(repeating: m), fv = K.F8(repeating: factor), lv = K.F8(repeating: lr)
            var j = 0
            while j + 8 <= r.count {
                let vj = mv * K.load(v + j) + fv * K.load(g + j)
                K.store(vj, v + j)
                K.store(K.load(w + j) - lv * vj, w + j)
                j += 8
            }
            while j < r.count { v[j] = m * v[j] + factor * g[j]; w[j] -= lr * v[j]; j += 1 }
            g.update(repeating: 0, count: r.count)
        }
        var partial = [Double](repeating: 0, count: items.count)
        let onepass = clipNorm == nil
        partial.withUnsafeMutableBufferPointer { buf in
            let out = UncheckedBox(buf.baseAddress!)
            Threads.parallelFor(items.count) { t in
                let (i, r) = its.value[t]
                let p = ps.value[i]
                let g = p.grad.ptr, w = p.value.ptr
                if p.decays && wd != 0 { for j in r { g[j] += wd * w[j] } }
                out.value[t] = SIMDKernels.sumOfSquares(g + r.lowerBound, r.count)
                if onepass { update(t, factor: 1) }
            }
        }
        let norm = Float(partial.reduce(0, +).squareRoot())
        lastGradNorm = norm
        if let clipNorm {
            let factor: Float = norm > clipNorm && norm > 0 ? clipNorm / norm : 1
            Threads.parallelFor(items.count) { t in update(t, factor: factor) }
        }
        for p in parameters { p.gradIsZero = true }
        stepCount += 1
        return norm
    }
}

/// Linear warmup from warmupStartFactor*base to base over warmupSteps, then either step decay (x0.1 at
/// each of the given fractions of totalSteps: protocol A) or a half cosine from base to zero.
public struct LearningRateSchedule: Sendable {
    public let base: Float
    public let warmupSteps: Int
    public let totalSteps: Int
    public let warmupStartFactor: Float
    public let decayFractions: [Double]
    public let cosine: Bool

    public init(base: Float, warmupSteps: Int, totalSteps: Int, warmupStartFactor: Float = 0.1,
                decayFractions: [Double] = [0.75, 0.9], cosine: Bool = false) {
        self.base = base
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.warmupStartFactor = warmupStartFactor
        self.decayFractions = decayFractions
        self.cosine = cosine
    }

    /// Step at which each decay starts.
    public var boundaries: [Int] { decayFractions.map { Int($0 * Double(totalSteps)) } }

    public func rate(at step: Int) -> Float {
        if step < warmupSteps {
            let t = Float(step) / Float(warmupSteps)
            return base * (warmupStartFactor + (1 - warmupStartFactor) * t)
        }
        if cosine {
            let t = Double(step - warmupSteps) / Double(max(1, totalSteps - warmupSteps))
            return base * Float(0.5 * (1 + cos(Double.pi * min(1, t))))
        }
        var r = base
        for b in boundaries where step >= b { r *= 0.1 }
        return r
    }
}
