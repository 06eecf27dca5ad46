/// Batch norm over the last axis, optionally fused with the ReLU that follows it in every conv-BN-act unit.
extension Tape {
    /// Training tapes normalise with the batch mean and biased variance and update the layer's running
    /// averages (running = m*running + (1-m)*batch, batch variance unbiased there as in TF's fused batch norm);
    /// inference tapes use the running statistics.
    public func batchNorm(_ x: Var, _ bn: BatchNorm) -> Var {
        batchNorm(x, bn, gamma: param(bn.gamma), beta: param(bn.beta))
    }

    /// Batch norm, then an activation. ReLU is fused: one pass writes relu(x*a + b) and backward masks the
    /// incoming gradient by that output, so the normalised tensor is never stored and two passes over
    /// memory go away. Swish stays a separate op.
    public func batchNorm(_ x: Var, _ bn: BatchNorm, activation: Activation) -> Var {
        let gamma = param(bn.gamma), beta = param(bn.beta)
        switch activation {
        case .relu: return batchNorm(x, bn, gamma: gamma, beta: beta, relu: true)
        case .swish: return swish(batchNorm(x, bn, gamma: gamma, beta: beta))
        case .none: return batchNorm(x, bn, gamma: gamma, beta: beta)
        }
    }

    /// Batch norm with explicit gamma/beta nodes (the layer supplies its running statistics and settings).
    public func batchNorm(_ x: Var, _ bn: BatchNorm, gamma: Var, beta: Var) -> Var {
        batchNorm(x, bn, gamma: gamma, beta: beta, relu: false)
    }

    /// The same, with the ReLU after it fused when `relu` (for the fused patterns, Fusion/FusedNormRelu.swift).
    func batchNorm(_ x: Var, _ bn: BatchNorm, gamma gammaV: Var, beta betaV: Var, relu: Bool) -> Var {
        let c = bn.channels
        precondition(x.shape.last == c, "batchNorm \(bn.name): input \(x.shape) has \(x.shape.last ?? 0) channels, layer has \(c)")
        let rows = x.shape.reduce(1, *) / c
        let xt = value(x)
        let moments = training ? BatchNormKernels.moments(xt.ptr, rows: rows, channels: c) : nil
        let norm = normalize(xt, bn, moments: moments, gamma: gammaV, beta: betaV, relu: relu)
        return record(norm.y, needsGrad: anyNeeds([x, gammaV, betaV]), op: relu ? "batchNorm+relu" : "batchNorm") {
            [unowned self] dy in
            let xp = self.value(x).ptr
            guard let k = self.batchNormGrad(norm, input: xp, dy: dy, rows: rows, gamma: gammaV, beta: betaV,
                                             inputNeedsGrad: self.needs[x.id]) else { return }
            BatchNormKernels.inputGrad(xp, dy.ptr, rows: rows, channels: c, mean: norm.mean, k0: k.0, k1: k.1, k2: k.2,
                                       gate: norm.gate.byInput)
            self.accumulate(x, dy)
        }
    }

    /// What a batch-norm forward keeps for its backward.
    struct Normalized {
        let y: Tensor
        let mean: [Float], invstd: [Float]
        /// The affine form y = x*a + b (+ residual) of the normalisation.
        let a: [Float], b: [Float]
        let relu: Bool, residual: Bool
        let training: Bool

        /// Where a fused ReLU passed: without a residual, where x*a + b is positive (the input is read in
        /// backward anyway); with one, where the output is.
        var gate: ReluGate { !relu ? .none : residual ? .output(y) : .input(a: a, b: b) }
    }

    /// y = gamma * (x - mean) * invstd + beta (+ residual) (then ReLU). Training tapes take the batch statistics from
    /// `moments` (per-channel mean and M2) and update the running averages; inference tapes use the running ones.
    /// `inPlace`: y is written over x (for an x nothing reads again).
    func normalize(_ x: Tensor, _ bn: BatchNorm, moments: (mean: [Double], m2: [Double])?, gamma gammaV: Var,
                   beta betaV: Var, relu: Bool, residual: Tensor? = nil, inPlace: Bool = false) -> Normalized {
        let (mean, invstd, a, b) = statistics(bn, rows: x.count / bn.channels, moments: moments, gamma: gammaV, beta: betaV)
        let y = inPlace ? x : Tensor(uninitialized: x.shape)
        BatchNormKernels.normalize(x.ptr, y.ptr, rows: x.count / bn.channels, channels: bn.channels, a, b, relu: relu,
                                   residual: residual?.ptr)
        return Normalized(y: y, mean: mean, invstd: invstd, a: a, b: b, relu: relu, residual: residual != nil,
                          training: moments != nil)
    }

    /// Per-channel mean and 1/std (batch ones from `moments`, updating the running averages; else the running
    /// ones) and the affine form y = x*a + b of the normalisation.
    func statistics(_ bn: BatchNorm, rows: Int, moments: (mean: [Double], m2: [Double])?, gamma gammaV: Var,
                    beta betaV: Var) -> (mean: [Float], invstd: [Float], a: [Float], b: [Float]) {
        let c = bn.channels
        precondition(gammaV.shape == [c] && betaV.shape == [c],
                     "batchNorm \(bn.name): gamma \(gammaV.shape) / beta \(betaV.shape), expected [\(c)]")
        var mean = [Float](repeating: 0, count: c), invstd = [Float](repeating: 0, count: c)
        if let (m, m2) = moments {
            precondition(rows > 0, "batchNorm \(bn.name): empty batch")
            let mom = bn.momentum
            for j in 0..<c {
                mean[j] = Float(m[j])
                let biased = m2[j] / Double(rows)
                invstd[j] = Float(1 / (biased + Double(bn.epsilon)).squareRoot())
                let unbiased = rows > 1 ? m2[j] / Double(rows - 1) : biased
                bn.runningMean.ptr[j] = mom * bn.runningMean.ptr[j] + (1 - mom) * mean[j]
                bn.runningVar.ptr[j] = mom * bn.runningVar.ptr[j] + (1 - mom) * Float(unbiased)
            }
        } else {
            for j in 0..<c {
                mean[j] = bn.runningMean.ptr[j]
                invstd[j] = 1 / (bn.runningVar.ptr[j] + bn.epsilon).squareRoot()
            }
        }
        let gamma = value(gammaV), beta = value(betaV)
        // y = x*a + b per channel (then max(., 0) when fused)
        var a = [Float](repeating: 0, count: c), b = [Float](repeating: 0, count: c)
        for j in 0..<c { a[j] = gamma.ptr[j] * invstd[j]; b[j] = beta.ptr[j] - mean[j] * a[j] }
        return (mean, invstd, a, b)
    }

    /// Backward of `normalize` up to the input gradient: adds the gamma and beta gradients, and returns the
    /// constants of dx = k0 * (dy - k1 - (x - mean) * k2), or nil when the input needs no gradient. dy is masked
    /// in place by a fused ReLU gated by its output; one gated by its input leaves dy as it is, and the input
    /// gradient must apply `norm.gate.byInput`. A backward closure owns its incoming gradient, so dx may
    /// overwrite dy.
    func batchNormGrad(_ norm: Normalized, input x: UnsafePointer<Float>, dy: Tensor, rows: Int, gamma gammaV: Var,
                       beta betaV: Var, inputNeedsGrad: Bool) -> ([Float], [Float], [Float])? {
        // sums[j] = sum dy, sums[c+j] = sum dy * xhat
        let sums = BatchNormKernels.gradSums(x, dy.ptr, gate: norm.gate, rows: rows, channels: norm.mean.count,
                                             norm.mean, norm.invstd)
        return batchNormGrad(sums: sums, invstd: norm.invstd, training: norm.training, rows: rows, gamma: gammaV,
                             beta: betaV, inputNeedsGrad: inputNeedsGrad)
    }

    /// The same from the gradient sums (sum dy, then sum dy * xhat, per channel).
    func batchNormGrad(sums: [Double], invstd: [Float], training: Bool, rows: Int, gamma gammaV: Var, beta betaV: Var,
                       inputNeedsGrad: Bool) -> ([Float], [Float], [Float])? {
        let c = invstd.count
        if needs[gammaV.id] {
            let dg = Tensor(uninitialized: [c])
            for j in 0..<c { dg.ptr[j] = Float(sums[c + j]) }
            accumulate(gammaV, dg)
        }
        if needs[betaV.id] {
            let db = Tensor(uninitialized: [c])
            for j in 0..<c { db.ptr[j] = Float(sums[j]) }
            accumulate(betaV, db)
        }
        guard inputNeedsGrad else { return nil }
        // training: dx = g*invstd*(dy - mean(dy) - xhat*mean(dy*xhat)); inference: dx = g*invstd*dy
        let gamma = value(gammaV)
        var k0 = [Float](repeating: 0, count: c), k1 = k0, k2 = k0
        for j in 0..<c {
            k0[j] = gamma.ptr[j] * invstd[j]
            if training {
                k1[j] = Float(sums[j] / Double(rows))
                k2[j] = Float(sums[c + j] / Double(rows)) * invstd[j]
            }
        }
        return (k0, k1, k2)
    }
}

/// The memory-bound loops of batch norm, each one pass over [rows, channels] in fixed row chunks.
///
/// All of them run on 8-lane vectors over the flat tensor, with per-channel constants laid out to match
/// (`LanePattern`): with 4 or 8 channels (the resampling convs at alpha 0.25) a per-row loop over channels
/// would be scalar. With a multiple of 8 channels a period is one row, and the sums come out in the same
/// order as a row-by-row loop.
enum BatchNormKernels {
    typealias K = SIMDKernels

    /// Per-channel mean and sum of squared deviations (M2). Each 64-row chunk is small enough to stay in cache,
    /// so it takes its own mean and then its deviations; chunks are merged in order in Double (Chan et al.),
    /// which gives two-pass accuracy for one pass over memory.
    static func moments(_ x: UnsafePointer<Float>, rows: Int, channels c: Int) -> (mean: [Double], m2: [Double]) {
        let grain = Reduce.grainRows
        let chunks = (rows + grain - 1) / grain
        let lanes = LanePattern(channels: c)
        let partial = UnsafeMutablePointer<Float>.allocate(capacity: chunks * 2 * c)
        defer { partial.deallocate() }
        let pp = SendablePtr(partial), xp = UncheckedBox(x)
        Threads.parallelChunks(rows, grain: grain) { k, range in
            chunkMoments(xp.value + range.lowerBound * c, rows: range.count, lanes, into: pp.p + k * 2 * c)
        }
        return mergeMoments(partial, rows: rows, channels: c)
    }

    /// Mean (first c) and M2 (next c) of one chunk of rows, which starts on a row boundary.
    static func chunkMoments(_ base: UnsafePointer<Float>, rows: Int, _ lanes: LanePattern,
                             into m: UnsafeMutablePointer<Float>) {
        let c = lanes.channels, n = rows * c, s = m + c
        lanes.withScratch { acc, pattern in
            lanes.sum(n, into: acc) { e, _ in K.load(base + e) } tail: { e, _ in base[e] }
            lanes.fold(acc, into: m)
            let inv = 1 / Float(rows)
            for j in 0..<c { m[j] *= inv }
            lanes.tile(m, into: pattern)
            lanes.sum(n, into: acc) { e, l in let d = K.load(base + e) - K.load(pattern + l); return d * d }
                tail: { e, l in let d = base[e] - pattern[l]; return d * d }
            lanes.fold(acc, into: s)
        }
    }

    /// Merges the moments of consecutive `Reduce.grainRows`-row chunks, in order, in Double.
    static func mergeMoments(_ partial: UnsafePointer<Float>, rows: Int, channels c: Int) -> (mean: [Double], m2: [Double]) {
        let grain = Reduce.grainRows
        var mean = [Double](repeating: 0, count: c), m2 = mean
        // through pointers, so the loop over channels vectorises: it runs on one thread between parallel passes
        mean.withUnsafeMutableBufferPointer { meanBuf in m2.withUnsafeMutableBufferPointer { m2Buf in
            let mp = meanBuf.baseAddress!, sp = m2Buf.baseAddress!
            var n = 0.0
            for k in 0..<((rows + grain - 1) / grain) {
                let nb = Double(min(grain, rows - k * grain)), total = n + nb
                let m = partial + k * 2 * c, s = m + c
                for j in 0..<c {
                    let delta = Double(m[j]) - mp[j]
                    mp[j] += delta * nb / total
                    sp[j] += Double(s[j]) + delta * delta * n * nb / total
                }
                n = total
            }
        } }
        return (mean, m2)
    }

    /// y = x*a + b per channel (+ residual), then max(y, 0) when relu.
    static func normalize(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, channels c: Int,
                          _ a: [Float], _ b: [Float], relu: Bool, residual: UnsafePointer<Float>? = nil) {
        let lanes = LanePattern(channels: c)
        let consts = lanes.tiled([a, b])
        defer { consts.deallocate() }
        let xp = UncheckedBox(x), yp = SendablePtr(y), cp = UncheckedBox(UnsafePointer(consts))
        let rp = UncheckedBox(residual)
        Threads.parallelChunks(rows, grain: 256) { _, range in
            let offset = range.lowerBound * c
            normalizeRows(xp.value + offset, yp.p + offset, rows: range.count, lanes, consts: cp.value, relu: relu,
                          residual: rp.value.map { $0 + offset })
        }
    }

    /// `normalize` on rows that start on a row boundary, with a and b tiled one after the other in `consts`.
    @inline(__always)
    static func normalizeRows(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, _ lanes: LanePattern,
                              consts: UnsafePointer<Float>, relu: Bool, residual r: UnsafePointer<Float>?) {
        let a = consts, b = a + lanes.period
        lanes.forEach(rows * lanes.channels) { e, l in
            var v = K.load(x + e) * K.load(a + l) + K.load(b + l)
            if let r { v += K.load(r + e) }
            K.store(relu ? v.replacing(with: 0, where: v .< 0) : v, y + e)
        } tail: { e, l in
            var v = x[e] * a[l] + b[l]
            if let r { v += r[e] }
            y[e] = relu ? max(v, 0) : v
        }
    }

    /// Per channel: sum of dy (first c) and sum of dy * xhat (next c), dy taken as 0 where the gate is shut.
    /// A gate on the output also zeroes dy there in place (a residual's gradient is that masked dy).
    static func gradSums(_ x: UnsafePointer<Float>, _ dy: UnsafeMutablePointer<Float>, gate: ReluGate,
                         rows: Int, channels c: Int, _ mean: [Float], _ invstd: [Float]) -> [Double] {
        let grain = Reduce.grainRows
        let chunks = (rows + grain - 1) / grain
        let lanes = LanePattern(channels: c)
        let byInput = gate.byInput
        let consts = lanes.tiled([mean] + (byInput.map { [$0.a, $0.b] } ?? []))
        let partial = UnsafeMutablePointer<Float>.allocate(capacity: max(1, chunks * 2 * c))
        defer { consts.deallocate(); partial.deallocate() }
        let xp = UncheckedBox(x), gp = SendablePtr(dy), pp = SendablePtr(partial), yp = UncheckedBox(gate.output)
        let cp = UncheckedBox(UnsafePointer(consts)), gated = byInput != nil
        Threads.parallelChunks(rows, grain: grain) { k, range in
            let x = xp.value + range.lowerBound * c, g = gp.p + range.lowerBound * c
            let y = yp.value.map { $0 + range.lowerBound * c }
            let m = cp.value, a = m + lanes.period, b = a + lanes.period
            lanes.withScratch { acc, acc2 in
                acc.update(repeating: 0, count: lanes.period)
                acc2.update(repeating: 0, count: lanes.period)
                lanes.forEach(range.count * c) { e, l in
                    var d = K.load(g + e)
                    let xv = K.load(x + e)
                    if let y { d = d.replacing(with: 0, where: .!(K.load(y + e) .> 0)); K.store(d, g + e) }
                    if gated { d = d.replacing(with: 0, where: .!(xv * K.load(a + l) + K.load(b + l) .> 0)) }
                    K.store(K.load(acc + l) + d, acc + l)
                    K.store(K.load(acc2 + l) + d * (xv - K.load(m + l)), acc2 + l)
                } tail: { e, l in
                    var d = g[e]
                    if let y, !(y[e] > 0) { d = 0; g[e] = 0 }
                    if gated, !(x[e] * a[l] + b[l] > 0) { d = 0 }
                    acc[l] += d
                    acc2[l] += d * (x[e] - m[l])
                }
                lanes.fold(acc, into: pp.p + k * 2 * c)
                lanes.fold(acc2, into: pp.p + k * 2 * c + c)
            }
        }
        return mergeGradSums(partial, parts: chunks, invstd)
    }

    /// The two gradient sums from per-part partials (each part: sum dy, then sum dy * (x - mean), c each), added
    /// in part order in Double; the second half scaled by invstd into sum dy * xhat.
    static func mergeGradSums(_ partial: UnsafePointer<Float>, parts: Int, _ invstd: [Float]) -> [Double] {
        let c = invstd.count
        var sums = Reduce.sumRows(partial, rows: parts, width: 2 * c)
        for j in 0..<c { sums[c + j] *= Double(invstd[j]) }
        return sums
    }

    /// dx = k0 * (dy - k1 - (x - mean) * k2), written over dy (`gate`: dy taken as 0 where x*a + b is not
    /// positive).
    static func inputGrad(_ x: UnsafePointer<Float>, _ dy: UnsafeMutablePointer<Float>, rows: Int, channels c: Int,
                          mean: [Float], k0: [Float], k1: [Float], k2: [Float], gate: (a: [Float], b: [Float])? = nil) {
        let grad = InputGrad(channels: c, mean: mean, k0: k0, k1: k1, k2: k2, gate: gate)
        defer { grad.deallocate() }
        let xp = UncheckedBox(x), gp = SendablePtr(dy)
        Threads.parallelChunks(rows, grain: 256) { _, range in grad.apply(xp.value, gp.p, rows: range) }
    }

    /// The input gradient's constants tiled to lane patterns, for applying it a range of rows at a time.
    struct InputGrad: @unchecked Sendable {
        let lanes: LanePattern
        let consts: UnsafeMutablePointer<Float>
        let gated: Bool

        /// `gate`: a fused ReLU's affine form, dy taken as 0 where x*a + b is not positive.
        init(channels c: Int, mean: [Float], k0: [Float], k1: [Float], k2: [Float], gate: (a: [Float], b: [Float])? = nil) {
            lanes = LanePattern(channels: c)
            consts = lanes.tiled([mean, k0, k1, k2] + (gate.map { [$0.a, $0.b] } ?? []))
            gated = gate != nil
        }

        func deallocate() { consts.deallocate() }

        /// k0 per channel (a multiple of 8 channels: one period is one row).
        var k0: UnsafePointer<Float> { UnsafePointer(consts + lanes.period) }

        /// dx = k0 * (dy - k1 - (x - mean) * k2) on rows (any range: the lane pattern restarts on every row
        /// boundary), written over dy, or with `into` to a buffer that holds just these rows. A nil dy is taken as
        /// 0 (and needs `into`).
        func apply(_ x: UnsafePointer<Float>, _ dy: UnsafeMutablePointer<Float>?, rows: Range<Int>,
                   into out: UnsafeMutablePointer<Float>? = nil) {
            let c = lanes.channels, x = x + rows.lowerBound * c, g = dy.map { $0 + rows.lowerBound * c }
            guard let o = out ?? g else { preconditionFailure("InputGrad.apply: no dy and nowhere to write") }
            let p = lanes.period, m = UnsafePointer(consts), k0 = m + p, k1 = k0 + p, k2 = k1 + p, a = k2 + p, b = a + p
            let gated = self.gated
            lanes.forEach(rows.count * c) { e, l in
                let xv = K.load(x + e)
                var d = g.map { K.load($0 + e) } ?? K.F8()
                if gated { d = d.replacing(with: 0, where: .!(xv * K.load(a + l) + K.load(b + l) .> 0)) }
                K.store(K.load(k0 + l) * (d - K.load(k1 + l) - (xv - K.load(m + l)) * K.load(k2 + l)), o + e)
            } tail: { e, l in
                var d = g?[e] ?? 0
                if gated, !(x[e] * a[l] + b[l] > 0) { d = 0 }
                o[e] = k0[l] * (d - k1[l] - (x[e] - m[l]) * k2[l])
            }
        }
    }
}

/// Where a fused ReLU let the gradient through, for backward's loops.
enum ReluGate {
    case none
    /// Where this output (the ReLU's) is positive.
    case output(Tensor)
    /// Where x*a + b, the same float the forward computed from its input x, is positive.
    case input(a: [Float], b: [Float])

    var output: UnsafePointer<Float>? { if case .output(let y) = self { UnsafePointer(y.ptr) } else { nil } }
    var byInput: (a: [Float], b: [Float])? { if case .input(let a, let b) = self { (a, b) } else { nil } }
}

/// Per-channel constants of a row-major [rows, c] tensor as seen by 8-lane vectors: a period of
/// lcm(c, 8) floats (c when c is a multiple of 8) holds whole rows and whole vectors, so walking a chunk
/// that starts on a row boundary, the constant for flat element e is pattern[e % period].
struct LanePattern {
    let channels: Int, period: Int

    init(channels c: Int) {
        precondition(c > 0, "LanePattern: no channels")
        func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
        channels = c
        period = c * 8 / gcd(c, 8)
    }

    /// Each per-channel array repeated over one period, one after another (caller deallocates).
    func tiled(_ arrays: [[Float]]) -> UnsafeMutablePointer<Float> {
        let out = UnsafeMutablePointer<Float>.allocate(capacity: max(1, arrays.count * period))
        for (i, a) in arrays.enumerated() {
            a.withUnsafeBufferPointer { tile($0.baseAddress!, into: out + i * period) }
        }
        return out
    }

    func tile(_ perChannel: UnsafePointer<Float>, into pattern: UnsafeMutablePointer<Float>) {
        for l in 0..<period { pattern[l] = perChannel[l % channels] }
    }

    /// Per-channel totals of lane accumulators (one period long).
    func fold(_ acc: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        out.update(from: acc, count: channels)
        var l = channels
        while l < period { for j in 0..<channels { out[j] += acc[l + j] }; l += channels }
    }

    /// Two scratch buffers of one period each, for the duration of body.
    @inline(__always)
    func withScratch(_ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * period) { buf in
            body(buf.baseAddress!, buf.baseAddress! + period)
        }
    }

    /// body(e, lane offset) on every 8-lane vector of 0..<n (n a whole number of rows), tail(e, offset) on the
    /// scalars left when n is not a whole number of periods.
    @inline(__always)
    func forEach(_ n: Int, _ body: (Int, Int) -> Void, tail: (Int, Int) -> Void) {
        let whole = n - n % period
        var e = 0
        while e < whole {
            var l = 0
            while l < period { body(e + l, l); l += 8 }
            e += period
        }
        while e < n { tail(e, e % period); e += 1 }
    }

    /// acc[lane] = sum of term(e, lane offset) over the elements of that lane position (acc is one period, overwritten).
    @inline(__always)
    func sum(_ n: Int, into acc: UnsafeMutablePointer<Float>, _ term: (Int, Int) -> SIMD8<Float>,
             tail: (Int, Int) -> Float) {
        acc.update(repeating: 0, count: period)
        forEach(n) { e, l in SIMDKernels.store(SIMDKernels.load(acc + l) + term(e, l), acc + l) }
            tail: { e, l in acc[l] += tail(e, l) }
    }
}
