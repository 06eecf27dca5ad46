import Foundation

/// Detection and classification losses; each returns a scalar Var (shape []).
extension Tape {
    /// RetinaNet sigmoid focal loss (TF form): sum over entries of
    /// weight * alpha_t * (1 - p_t)^gamma * CE(logit, target), divided by normalizer.
    /// targets are 0/1; a weight of 0 ignores an entry. Log-probabilities come from stable softplus.
    /// One pass over the entries computes the loss and its gradient (8 lanes at a time); backward only scales
    /// that gradient, so targets and weights are not kept.
    public func sigmoidFocalLoss(_ logits: Var, targets: Tensor, weights: Tensor, alpha: Float, gamma: Float,
                                 normalizer: Float) -> Var {
        let n = logits.shape.reduce(1, *)
        precondition(targets.count == n, "sigmoidFocalLoss: targets \(targets.shape) do not match input \(logits.shape)")
        precondition(weights.count == n, "sigmoidFocalLoss: weights \(weights.shape) do not match input \(logits.shape)")
        precondition(normalizer > 0, "sigmoidFocalLoss: normalizer must be > 0, got \(normalizer)")
        let grad = Tensor(uninitialized: logits.shape)
        let xp = SendablePtr(value(logits).ptr), tp = SendablePtr(targets.ptr), wp = SendablePtr(weights.ptr)
        let gp = SendablePtr(grad.ptr)
        let total = Reduce.sumChunks(n, grain: 4096) { r in
            FocalKernel.run(xp.p, tp.p, wp.p, gp.p, r, alpha: alpha, gamma: gamma, gradScale: 1 / normalizer)
        }
        return record(Tensor(scalar: Float(total / Double(normalizer))), needsGrad: needs[logits.id]) { [unowned self] g in
            self.accumulate(logits, lossGradient: grad, seed: g.ptr[0])
        }
    }

    /// Backward of a loss whose forward already made the gradient for a seed of 1: scales it by the seed and
    /// hands it to v.
    private func accumulate(_ v: Var, lossGradient grad: Tensor, seed s: Float) {
        if s != 1 {
            let gp = SendablePtr(grad.ptr)
            Tape.map(grad.count) { r in for i in r { gp.p[i] *= s } }
        }
        accumulate(v, grad)
    }

    /// The focal loss above for a detector's class outputs level by level, with targets given per anchor: the
    /// same terms as concatenating the levels in anchor order against one-hot targets, without building that
    /// concatenation or the dense targets and weights (each as large as the logits, ~18 MB apiece per step
    /// for RetinaNet at 128 px and 91 classes, read once per step from memory).
    ///
    /// `levels[l]` is [N, ..., A_l x k]: image b's A_l anchors of level l, k classes each. `anchorClasses`
    /// has N x sum(A_l) entries in concatenated order (image b's anchors of every level, level after level):
    /// a class in 0..<k for a positive anchor, else an `AnchorCode`.
    /// Summed in fixed pieces of whole anchors per level and image (thread-count independent).
    public func sigmoidFocalLoss(levels: [Var], classes k: Int, anchorClasses: [Int32], alpha: Float, gamma: Float,
                                 normalizer: Float) -> Var {
        precondition(!levels.isEmpty && k > 0, "sigmoidFocalLoss: needs levels and classes")
        precondition(normalizer > 0, "sigmoidFocalLoss: normalizer must be > 0, got \(normalizer)")
        let images = levels[0].shape[0]
        let anchors = levels.map { v -> Int in
            let count = v.shape.reduce(1, *)
            precondition(v.shape[0] == images && count % (images * k) == 0,
                         "sigmoidFocalLoss: level \(v.shape) is not [\(images), ..., anchors x \(k)]")
            return count / (images * k)
        }
        let perImage = anchors.reduce(0, +)
        precondition(anchorClasses.count == images * perImage,
                     "sigmoidFocalLoss: \(anchorClasses.count) anchor classes for \(images) images of \(perImage) anchors")
        precondition(anchorClasses.allSatisfy { $0 >= AnchorCode.ignored && Int($0) < k },
                     "sigmoidFocalLoss: anchor class outside \(AnchorCode.ignored)..<\(k)")
        // Pieces of at most 4096 entries of one level and one image.
        let step = max(1, 4096 / k)
        var pieces: [(level: Int, entry: Int, anchor: Int, count: Int)] = []
        var first = 0
        for (l, a) in anchors.enumerated() {
            for b in 0..<images {
                for lo in stride(from: 0, to: a, by: step) {
                    pieces.append((l, (b * a + lo) * k, b * perImage + first + lo, min(step, a - lo)))
                }
            }
            first += a
        }
        let grads = levels.map { Tensor(uninitialized: $0.shape) }
        let xs = UncheckedBox(levels.map { SendablePtr(value($0).ptr) }), gs = UncheckedBox(grads.map { SendablePtr($0.ptr) })
        let total = anchorClasses.withUnsafeBufferPointer { cls in
            let cp = UncheckedBox(cls.baseAddress!)
            return pieces.withUnsafeBufferPointer { ps in
                let pp = UncheckedBox(ps.baseAddress!)
                return Reduce.sumChunks(ps.count, grain: 1) { r in
                    var s = 0.0
                    for i in r {
                        let p = pp.value[i], n = p.count * k
                        s += withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * n) { tw in
                            let t = tw.baseAddress!, w = t + n
                            for a in 0..<p.count {
                                let c = Int(cp.value[p.anchor + a])
                                (t + a * k).update(repeating: 0, count: k)
                                (w + a * k).update(repeating: c == Int(AnchorCode.ignored) ? 0 : 1, count: k)
                                if c >= 0 { t[a * k + c] = 1 }
                            }
                            return FocalKernel.run(xs.value[p.level].p + p.entry, t, w, gs.value[p.level].p + p.entry,
                                                   0..<n, alpha: alpha, gamma: gamma, gradScale: 1 / normalizer)
                        }
                    }
                    return s
                }
            }
        }
        return record(Tensor(scalar: Float(total / Double(normalizer))), needsGrad: levels.contains { needs[$0.id] },
                      op: "sigmoidFocalLoss") { [unowned self] g in
            for (v, grad) in zip(levels, grads) { self.accumulate(v, lossGradient: grad, seed: g.ptr[0]) }
        }
    }

    /// Huber loss: sum of weight * huber(pred - target) / normalizer, huber = 0.5 x^2 for |x| <= delta,
    /// delta * (|x| - 0.5 delta) beyond.
    public func huberLoss(_ pred: Var, targets: Tensor, weights: Tensor, delta: Float, normalizer: Float) -> Var {
        weightedLoss("huberLoss", pred, targets: targets, weights: weights, normalizer: normalizer) { x, t in
            let d = x - t, a = abs(d)
            return (a <= delta ? 0.5 * d * d : delta * (a - 0.5 * delta), min(max(d, -delta), delta))
        }
    }

    /// sum_i weights[i] * f(x[i], targets[i]).loss / normalizer; term gives (loss, d loss / d x).
    /// Entries with weight 0 are skipped. Sums in fixed chunks (thread-count independent).
    @inline(__always)
    func weightedLoss(_ name: StaticString, _ x: Var, targets: Tensor, weights: Tensor, normalizer: Float,
                      _ term: @escaping (Float, Float) -> (Float, Float)) -> Var {
        let n = x.shape.reduce(1, *)
        precondition(targets.count == n, "\(name): targets \(targets.shape) do not match input \(x.shape)")
        precondition(weights.count == n, "\(name): weights \(weights.shape) do not match input \(x.shape)")
        precondition(normalizer > 0, "\(name): normalizer must be > 0, got \(normalizer)")
        let xp = SendablePtr(value(x).ptr), tp = SendablePtr(targets.ptr), wp = SendablePtr(weights.ptr)
        let total = Reduce.sum(n) { i in
            let w = wp.p[i]
            return w == 0 ? 0 : Double(w * term(xp.p[i], tp.p[i]).0)
        }
        // The closure must own `targets` and `weights`: callers usually pass temporaries, and raw pointers
        // alone would read freed memory in backward (garbage gradients, worse with more threads).
        return record(Tensor(scalar: Float(total / Double(normalizer))), needsGrad: needs[x.id], op: name) { [unowned self, targets, weights] g in
            let tp = SendablePtr(targets.ptr), wp = SendablePtr(weights.ptr)
            let scale = g.ptr[0] / normalizer
            let dx = Tensor(uninitialized: x.shape)
            let dp = SendablePtr(dx.ptr), xp = SendablePtr(self.value(x).ptr)
            Tape.map(n) { r in
                for i in r {
                    let w = wp.p[i]
                    dp.p[i] = w == 0 ? 0 : scale * w * term(xp.p[i], tp.p[i]).1
                }
            }
            self.accumulate(x, dx)
        }
    }

    /// Softmax cross-entropy of logits [N,K] against class indices, mean over the batch.
    /// Mean over rows of the cross-entropy between softmax(logits) and the target distribution: with
    /// `labelSmoothing` e, the true class gets 1 - e + e/K and every other class e/K (the label smoothing of the
    /// paper's classification recipe, docs/paper-facts.md §14); e = 0 is the one-hot loss.
    /// d loss / d z_rj = (p_rj - q_rj) / N.
    public func softmaxCrossEntropy(_ logits: Var, labels: [Int], labelSmoothing: Float = 0) -> Var {
        precondition(logits.shape.count == 2, "softmaxCrossEntropy: logits must be [N,K], got \(logits.shape)")
        let (n, k) = (logits.shape[0], logits.shape[1])
        precondition(labels.count == n, "softmaxCrossEntropy: \(labels.count) labels for \(n) rows")
        precondition(labelSmoothing >= 0 && labelSmoothing < 1, "softmaxCrossEntropy: label smoothing \(labelSmoothing) outside [0, 1)")
        for l in labels { precondition(l >= 0 && l < k, "softmaxCrossEntropy: label \(l) outside 0..<\(k)") }
        let off = Double(labelSmoothing) / Double(k), on = 1 - Double(labelSmoothing) + off
        let z = value(logits)
        let probs = Tensor(uninitialized: [n, k])
        var total = 0.0
        for r in 0..<n {
            let zr = z.ptr + r * k, pr = probs.ptr + r * k
            var m = -Float.infinity
            for j in 0..<k { m = max(m, zr[j]) }
            var s: Double = 0
            for j in 0..<k { pr[j] = expf(zr[j] - m); s += Double(pr[j]) }
            for j in 0..<k { pr[j] = Float(Double(pr[j]) / s) }
            // -sum_j q_j log p_j, log p_j = z_j - m - log s
            let logS = log(s)
            if labelSmoothing == 0 {
                total += -(Double(zr[labels[r]] - m) - logS)
            } else {
                for j in 0..<k { total -= (j == labels[r] ? on : off) * (Double(zr[j] - m) - logS) }
            }
        }
        let (qOn, qOff) = (Float(on), Float(off))
        return record(Tensor(scalar: Float(total / Double(n))), needsGrad: needs[logits.id]) { [unowned self] g in
            let scale = g.ptr[0] / Float(n)
            let dx = Tensor(uninitialized: [n, k])
            for r in 0..<n {
                for j in 0..<k { dx.ptr[r * k + j] = scale * (probs.ptr[r * k + j] - (j == labels[r] ? qOn : qOff)) }
            }
            self.accumulate(logits, dx)
        }
    }
}

/// The per-anchor codes below the class indices in the detector focal loss's `anchorClasses`, defined here
/// because this kernel is what reads them; Detection's target assigner writes them.
public enum AnchorCode {
    /// A negative anchor: every class's target is 0.
    public static let background: Int32 = -1
    /// An anchor between the match thresholds: no loss at all.
    public static let ignored: Int32 = -2
}

/// The focal loss on 8 lanes at a time: writes d loss / d logit (times weight and gradScale) and returns the
/// weighted loss sum of range r. Same formulas as `focalTerm`, with mod = (1-q)^g = exp(-g softplus(zs)).
enum FocalKernel {
    typealias F8 = SIMD8<Float>

    static func run(_ x: UnsafePointer<Float>, _ t: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                    _ grad: UnsafeMutablePointer<Float>, _ r: Range<Int>, alpha: Float, gamma: Float,
                    gradScale: Float) -> Double {
        var sum = SIMD8<Double>()
        var i = r.lowerBound
        while i < r.upperBound {
            // up to 64 entries summed in float lanes, then added in double
            var part = F8()
            let blockEnd = min(r.upperBound, i + 64)
            while i < blockEnd {
                let m = min(8, blockEnd - i)
                var z = F8(), tv = F8(), wv = F8()
                if m == 8 {
                    z = SIMDKernels.load(x + i); tv = SIMDKernels.load(t + i); wv = SIMDKernels.load(w + i)
                } else {
                    for j in 0..<m { z[j] = x[i + j]; tv[j] = t[i + j]; wv[j] = w[i + j] }
                }
                let (loss, dz) = entries(z, tv, wv, alpha: alpha, gamma: gamma, gradScale: gradScale)
                if m == 8 { SIMDKernels.store(dz, grad + i) } else { for j in 0..<m { grad[i + j] = dz[j] } }
                part += loss
                i += m
            }
            for j in 0..<8 { sum[j] += Double(part[j]) }
        }
        return sum.sum()
    }

    /// Weighted loss and scaled gradient of 8 entries (zero where the weight is 0).
    @inline(__always)
    static func entries(_ z: F8, _ tv: F8, _ wv: F8, alpha: Float, gamma: Float, gradScale: Float) -> (F8, F8) {
        let zero = F8(), one = F8(repeating: 1)
        let positive = tv .>= 0.5, live = wv .!= 0
        let zs: F8 = z.replacing(with: -z, where: .!positive)        // q = sigmoid(zs)
        let nonNeg = zs .>= 0
        let absZ: F8 = zs.replacing(with: -zs, where: .!nonNeg)
        let e = SIMDMath.expNonPositive(-absZ)
        let inv: F8 = one / (one + e)
        let l = SIMDMath.log1pUnit(e, reciprocal: inv)
        let spPos: F8 = zs.replacing(with: zero, where: .!nonNeg) + l          // softplus(zs) = -log(1 - q)
        let spNeg: F8 = absZ - zs.replacing(with: zero, where: .!nonNeg) + l   // softplus(-zs) = -log q
        let ei: F8 = e * inv
        let q: F8 = ei.replacing(with: inv, where: nonNeg)
        let oneMinusQ: F8 = inv.replacing(with: ei, where: nonNeg)
        let at = F8(repeating: 1 - alpha).replacing(with: alpha, where: positive)
        let mod: F8                                                          // (1 - q)^gamma
        switch gamma {
        case 0: mod = one
        case 1: mod = oneMinusQ
        case 1.5: mod = oneMinusQ * SIMDMath.sqrt(oneMinusQ)
        case 2: mod = oneMinusQ * oneMinusQ
        default: mod = SIMDMath.expNonPositive(spPos * -gamma)
        }
        let atMod: F8 = at * mod
        let loss: F8 = (wv * atMod * spNeg).replacing(with: zero, where: .!live)
        let inner: F8 = q * spNeg * -gamma - oneMinusQ
        var dz: F8 = atMod * inner * wv * gradScale
        dz = dz.replacing(with: -dz, where: .!positive).replacing(with: zero, where: .!live)
        return (loss, dz)
    }
}

/// Focal term and its derivative in the logit (the scalar reference the kernel is tested against). With q = p_t and s = +1 (positive) or -1:
/// L = a_t (1-q)^g (-log q), dL/dz = s a_t (1-q)^g (g q log q - (1-q)).
@inline(__always)
func focalTerm(_ z: Float, positive: Bool, alpha: Float, gamma: Float) -> (Float, Float) {
    let zs = positive ? z : -z                 // q = sigmoid(zs)
    let logQ = -softplus(-zs)                   // log q
    let q = stableSigmoid(zs)
    let oneMinusQ = stableSigmoid(-zs)
    let at = positive ? alpha : 1 - alpha
    let mod = gamma == 0 ? 1 : powf(oneMinusQ, gamma)
    let loss = at * mod * (-logQ)
    let dz = at * mod * (gamma * q * logQ - oneMinusQ)
    return (loss, positive ? dz : -dz)
}
