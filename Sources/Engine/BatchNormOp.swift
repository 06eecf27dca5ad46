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
    public func batchNorm(_ x: Var, _ bn: BatchNorm, gamma gammaV: Var, beta betaV: Var, relu: Bool = false) -> Var {
        let c = bn.channels
        precondition(gammaV.shape == [c] && betaV.shape == [c],
                     "batchNorm \(bn.name): gamma \(gammaV.shape) / beta \(betaV.shape), expected [\(c)]")
        precondition(x.shape.last == c, "batchNorm \(bn.name): input \(x.shape) has \(x.shape.last ?? 0) channels, layer has \(c)")
        let rows = x.shape.reduce(1, *) / c
        let xt = value(x)
        var mean = [Float](repeating: 0, count: c), invstd = [Float](repeating: 0, count: c)
        if training {
            precondition(rows > 0, "batchNorm \(bn.name): empty batch")
            let (m, m2) = BatchNormKernels.moments(xt.ptr, rows: rows, channels: c)
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
        let y = Tensor(uninitialized: x.shape)
        BatchNormKernels.normalize(xt.ptr, y.ptr, rows: rows, channels: c, a, b, relu: relu)
        let training = self.training
        let output = relu ? y : nil
        return record(y, needsGrad: anyNeeds([x, gammaV, betaV]), op: relu ? "batchNorm+relu" : "batchNorm") {
            [unowned self, output] dy in
            let xp = self.value(x).ptr
            // sums[j] = sum dy, sums[c+j] = sum dy * xhat. A backward closure owns its incoming gradient:
            // the ReLU mask is applied to it in place in the same pass, and dx later overwrites it.
            let sums = BatchNormKernels.gradSums(xp, dy.ptr, mask: output?.ptr, rows: rows, channels: c, mean, invstd)
            if self.needs[gammaV.id] {
                let dg = Tensor(uninitialized: [c])
                for j in 0..<c { dg.ptr[j] = Float(sums[c + j]) }
                self.accumulate(gammaV, dg)
            }
            if self.needs[betaV.id] {
                let db = Tensor(uninitialized: [c])
                for j in 0..<c { db.ptr[j] = Float(sums[j]) }
                self.accumulate(betaV, db)
            }
            guard self.needs[x.id] else { return }
            // training: dx = g*invstd*(dy - mean(dy) - xhat*mean(dy*xhat)); inference: dx = g*invstd*dy
            var k0 = [Float](repeating: 0, count: c), k1 = k0, k2 = k0
            for j in 0..<c {
                k0[j] = gamma.ptr[j] * invstd[j]
                if training {
                    k1[j] = Float(sums[j] / Double(rows))
                    k2[j] = Float(sums[c + j] / Double(rows)) * invstd[j]
                }
            }
            BatchNormKernels.inputGrad(xp, dy.ptr, rows: rows, channels: c, mean: mean, k0: k0, k1: k1, k2: k2)
            self.accumulate(x, dy)
        }
    }
}

/// The memory-bound loops of batch norm, each one pass over [rows, channels] in fixed row chunks.
enum BatchNormKernels {
    /// Per-channel mean and sum of squared deviations (M2). Each 64-row chunk is small enough to stay in cache,
    /// so it takes its own mean and then its deviations; chunks are merged in order in Double (Chan et al.),
    /// which gives two-pass accuracy for one pass over memory.
    static func moments(_ x: UnsafePointer<Float>, rows: Int, channels c: Int) -> (mean: [Double], m2: [Double]) {
        let grain = Reduce.grainRows
        let chunks = (rows + grain - 1) / grain
        let partial = UnsafeMutablePointer<Float>.allocate(capacity: chunks * 2 * c)
        defer { partial.deallocate() }
        let pp = SendablePtr(partial), xp = SendablePtr(UnsafeMutablePointer(mutating: x))
        Threads.parallelChunks(rows, grain: grain) { k, range in
            let m = pp.p + k * 2 * c, s = m + c
            m.update(repeating: 0, count: 2 * c)
            for r in range {
                let row = xp.p + r * c
                for j in 0..<c { m[j] += row[j] }
            }
            let inv = 1 / Float(range.count)
            for j in 0..<c { m[j] *= inv }
            for r in range {
                let row = xp.p + r * c
                for j in 0..<c { let d = row[j] - m[j]; s[j] += d * d }
            }
        }
        var mean = [Double](repeating: 0, count: c), m2 = mean
        var n = 0.0
        for k in 0..<chunks {
            let nb = Double(min(grain, rows - k * grain)), total = n + nb
            let m = partial + k * 2 * c, s = m + c
            for j in 0..<c {
                let delta = Double(m[j]) - mean[j]
                mean[j] += delta * nb / total
                m2[j] += Double(s[j]) + delta * delta * n * nb / total
            }
            n = total
        }
        return (mean, m2)
    }

    /// y = x*a + b per channel, then max(y, 0) when relu.
    static func normalize(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, channels c: Int,
                          _ a: [Float], _ b: [Float], relu: Bool) {
        let xp = SendablePtr(UnsafeMutablePointer(mutating: x)), yp = SendablePtr(y)
        a.withUnsafeBufferPointer { ab in b.withUnsafeBufferPointer { bb in
            let ap = UncheckedBox(ab.baseAddress!), bp = UncheckedBox(bb.baseAddress!)
            Threads.parallelChunks(rows, grain: 256) { _, range in
                let a = ap.value, b = bp.value
                for r in range {
                    let xr = xp.p + r * c, yr = yp.p + r * c
                    if relu { for j in 0..<c { yr[j] = max(xr[j] * a[j] + b[j], 0) } }
                    else { for j in 0..<c { yr[j] = xr[j] * a[j] + b[j] } }
                }
            }
        } }
    }

    /// Per channel: sum of dy (first c) and sum of dy * xhat (next c). With a mask (the fused ReLU's output),
    /// dy is first zeroed in place where the mask is 0.
    static func gradSums(_ x: UnsafePointer<Float>, _ dy: UnsafeMutablePointer<Float>, mask: UnsafePointer<Float>?,
                         rows: Int, channels c: Int, _ mean: [Float], _ invstd: [Float]) -> [Double] {
        let xp = SendablePtr(UnsafeMutablePointer(mutating: x)), gp = SendablePtr(dy)
        let yp = mask.map { SendablePtr(UnsafeMutablePointer(mutating: $0)) }
        var sums = mean.withUnsafeBufferPointer { mb in
            let m = UncheckedBox(mb.baseAddress!)
            return Reduce.channelSums(rows: rows, channels: c, width: 2) { r, acc in
                let xr = xp.p + r * c, gr = gp.p + r * c, m = m.value, yr = yp.map { $0.p + r * c }
                // 8 channels at a time by hand: with the masking store the compiler keeps this loop scalar
                typealias K = SIMDKernels
                var j = 0
                while j + 8 <= c {
                    var d = K.load(gr + j)
                    if let yr { d = d.replacing(with: 0, where: K.load(yr + j) .<= 0); K.store(d, gr + j) }
                    K.store(K.load(acc + j) + d, acc + j)
                    K.store(K.load(acc + c + j) + d * (K.load(xr + j) - K.load(m + j)), acc + c + j)
                    j += 8
                }
                while j < c {
                    if let yr, !(yr[j] > 0) { gr[j] = 0 }
                    acc[j] += gr[j]
                    acc[c + j] += gr[j] * (xr[j] - m[j])
                    j += 1
                }
            }
        }
        for j in 0..<c { sums[c + j] *= Double(invstd[j]) }
        return sums
    }

    /// dx = k0 * (dy - k1 - (x - mean) * k2), written over dy.
    static func inputGrad(_ x: UnsafePointer<Float>, _ dy: UnsafeMutablePointer<Float>, rows: Int, channels c: Int,
                          mean: [Float], k0: [Float], k1: [Float], k2: [Float]) {
        let xp = SendablePtr(UnsafeMutablePointer(mutating: x)), gp = SendablePtr(dy)
        let consts = UncheckedBox((mean, k0, k1, k2))
        Threads.parallelChunks(rows, grain: 256) { _, range in
            let (m, k0, k1, k2) = consts.value
            m.withUnsafeBufferPointer { m in k0.withUnsafeBufferPointer { k0 in
            k1.withUnsafeBufferPointer { k1 in k2.withUnsafeBufferPointer { k2 in
                for r in range {
                    let xr = xp.p + r * c, gr = gp.p + r * c
                    for j in 0..<c { gr[j] = k0[j] * (gr[j] - k1[j] - (xr[j] - m[j]) * k2[j]) }
                }
            } } } }
        }
    }
}
