import Foundation

/// Convolution, dense and batch-norm ops.
extension Tape {
    /// 2-D convolution, NHWC input, HWIO weight [k,k,cin,cout], TF "SAME" padding, stride 1 or 2.
    public func conv2d(_ x: Var, _ w: Var, bias: Var? = nil, stride: Int = 1) -> Var {
        let g = ConvGeometry(x: x.shape, w: w.shape, stride: stride)
        if let bias { precondition(bias.shape == [g.cout], "conv2d: bias shape \(bias.shape), expected [\(g.cout)]") }
        let y = Tensor(uninitialized: [g.n, g.ho, g.wo, g.cout])
        ConvKernels.forward(g, x: value(x).ptr, w: value(w).ptr, bias: bias.map { value($0).ptr }, y: y.ptr)
        let inputs = [x, w] + (bias.map { [$0] } ?? [])
        let macs = Double(g.n * g.rowsPerImage * g.kkc * g.cout)
        let backwardFlops = 2 * macs * Double((needs[x.id] ? 1 : 0) + (needs[w.id] ? 1 : 0))
        return record(y, needsGrad: anyNeeds(inputs), op: g.profileName(bias: bias != nil),
                      flops: (2 * macs, backwardFlops)) { [unowned self] dy in
            let dx = self.needs[x.id] ? Tensor(uninitialized: x.shape) : nil
            let dw = self.needs[w.id] ? Tensor(uninitialized: w.shape) : nil
            ConvKernels.backward(g, x: self.value(x).ptr, w: self.value(w).ptr, dy: dy.ptr, dx: dx?.ptr, dw: dw?.ptr)
            if let dx { self.accumulate(x, dx) }
            if let dw { self.accumulate(w, dw) }
            if let bias, self.needs[bias.id] {
                let db = Tensor(uninitialized: [g.cout])
                ConvKernels.biasGrad(dy.ptr, rows: g.n * g.rowsPerImage, channels: g.cout, db.ptr)
                self.accumulate(bias, db)
            }
        }
    }

    /// [N,I] x [I,O] (+ bias [O]).
    public func dense(_ x: Var, _ w: Var, bias: Var? = nil) -> Var {
        precondition(x.shape.count == 2 && w.shape.count == 2 && x.shape[1] == w.shape[0],
                     "dense: input \(x.shape) and weight \(w.shape) do not fit [N,I] x [I,O]")
        let (n, i, o) = (x.shape[0], x.shape[1], w.shape[1])
        if let bias { precondition(bias.shape == [o], "dense: bias shape \(bias.shape), expected [\(o)]") }
        let y = Tensor(uninitialized: [n, o])
        sgemm(m: n, n: o, k: i, value(x).ptr, lda: i, value(w).ptr, ldb: o, y.ptr, ldc: o)
        if let bias { ConvKernels.addBias(y.ptr, rows: n, channels: o, value(bias).ptr) }
        let inputs = [x, w] + (bias.map { [$0] } ?? [])
        return record(y, needsGrad: anyNeeds(inputs)) { [unowned self] dy in
            if self.needs[w.id] {
                let dw = Tensor(uninitialized: w.shape)
                sgemm(transA: true, m: i, n: o, k: n, self.value(x).ptr, lda: i, dy.ptr, ldb: o, dw.ptr, ldc: o)
                self.accumulate(w, dw)
            }
            if self.needs[x.id] {
                let dx = Tensor(uninitialized: x.shape)
                sgemm(transB: true, m: n, n: i, k: o, dy.ptr, lda: o, self.value(w).ptr, ldb: o, dx.ptr, ldc: i)
                self.accumulate(x, dx)
            }
            if let bias, self.needs[bias.id] {
                let db = Tensor(uninitialized: [o])
                ConvKernels.biasGrad(dy.ptr, rows: n, channels: o, db.ptr)
                self.accumulate(bias, db)
            }
        }
    }

    /// Batch norm over the last axis. Training tapes normalise with the batch mean and biased variance and
    /// update the layer's running averages (running = m*running + (1-m)*batch, batch variance unbiased
    /// there as in TF's fused batch norm); inference tapes use the running statistics.
    public func batchNorm(_ x: Var, _ bn: BatchNorm) -> Var {
        batchNorm(x, bn, gamma: param(bn.gamma), beta: param(bn.beta))
    }

    /// Batch norm with explicit gamma/beta nodes (the layer supplies its running statistics and settings).
    public func batchNorm(_ x: Var, _ bn: BatchNorm, gamma gammaV: Var, beta betaV: Var) -> Var {
        let c = bn.channels
        precondition(gammaV.shape == [c] && betaV.shape == [c],
                     "batchNorm \(bn.name): gamma \(gammaV.shape) / beta \(betaV.shape), expected [\(c)]")
        precondition(x.shape.last == c, "batchNorm \(bn.name): input \(x.shape) has \(x.shape.last ?? 0) channels, layer has \(c)")
        let rows = x.shape.reduce(1, *) / c
        let xt = value(x)
        let xp = SendablePtr(xt.ptr)
        var mean = [Float](repeating: 0, count: c), invstd = [Float](repeating: 0, count: c)
        if training {
            precondition(rows > 0, "batchNorm \(bn.name): empty batch")
            let s = Reduce.channelSums(rows: rows, channels: c, width: 1) { r, acc in
                let row = xp.p + r * c
                for j in 0..<c { acc[j] += row[j] }
            }
            for j in 0..<c { mean[j] = Float(s[j] / Double(rows)) }
            let mp = mean
            let v = mp.withUnsafeBufferPointer { mb in
                let m = UncheckedBox(mb.baseAddress!)
                return Reduce.channelSums(rows: rows, channels: c, width: 1) { r, acc in
                    let row = xp.p + r * c
                    for j in 0..<c { let d = row[j] - m.value[j]; acc[j] += d * d }
                }
            }
            let mom = bn.momentum
            for j in 0..<c {
                let biased = v[j] / Double(rows)
                invstd[j] = Float(1 / (biased + Double(bn.epsilon)).squareRoot())
                let unbiased = rows > 1 ? v[j] / Double(rows - 1) : biased
                bn.runningMean.ptr[j] = mom * bn.runningMean.ptr[j] + (1 - mom) * mean[j]
                bn.runningVar.ptr[j] = mom * bn.runningVar.ptr[j] + (1 - mom) * Float(unbiased)
            }
        } else {
            for j in 0..<c {
                mean[j] = bn.runningMean.ptr[j]
                invstd[j] = 1 / (bn.runningVar.ptr[j] + bn.epsilon).squareRoot()
            }
        }
        let y = Tensor(uninitialized: x.shape)
        let gamma = value(gammaV), beta = value(betaV)
        // Fold into y = x*a + b per channel.
        var a = [Float](repeating: 0, count: c), b = [Float](repeating: 0, count: c)
        for j in 0..<c { a[j] = gamma.ptr[j] * invstd[j]; b[j] = beta.ptr[j] - mean[j] * a[j] }
        let yp = SendablePtr(y.ptr)
        a.withUnsafeBufferPointer { ab in b.withUnsafeBufferPointer { bb in
            let ap = UncheckedBox(ab.baseAddress!), bp = UncheckedBox(bb.baseAddress!)
            Threads.parallelChunks(rows, grain: 256) { _, range in
                for r in range {
                    let xr = xp.p + r * c, yr = yp.p + r * c
                    for j in 0..<c { yr[j] = xr[j] * ap.value[j] + bp.value[j] }
                }
            }
        } }
        let training = self.training
        return record(y, needsGrad: anyNeeds([x, gammaV, betaV])) { [unowned self] dy in
            let xp = SendablePtr(self.value(x).ptr), gp = SendablePtr(dy.ptr)
            // sums[j] = sum dy, sums[c+j] = sum dy * xhat
            let sums = mean.withUnsafeBufferPointer { mb in invstd.withUnsafeBufferPointer { ib in
                let m = UncheckedBox(mb.baseAddress!), iv = UncheckedBox(ib.baseAddress!)
                return Reduce.channelSums(rows: rows, channels: c, width: 2) { r, acc in
                    let xr = xp.p + r * c, gr = gp.p + r * c
                    for j in 0..<c {
                        acc[j] += gr[j]
                        acc[c + j] += gr[j] * (xr[j] - m.value[j]) * iv.value[j]
                    }
                }
            } }
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
            var k1 = [Float](repeating: 0, count: c), k2 = [Float](repeating: 0, count: c)
            var k0 = [Float](repeating: 0, count: c)
            for j in 0..<c {
                k0[j] = gamma.ptr[j] * invstd[j]
                if training {
                    k1[j] = Float(sums[j] / Double(rows))
                    k2[j] = Float(sums[c + j] / Double(rows))
                }
            }
            let dx = Tensor(uninitialized: x.shape)
            let dp = SendablePtr(dx.ptr)
            let consts = UncheckedBox((k0, k1, k2, mean, invstd))
            Threads.parallelChunks(rows, grain: 256) { _, range in
                let (k0, k1, k2, m, iv) = consts.value
                k0.withUnsafeBufferPointer { k0 in k1.withUnsafeBufferPointer { k1 in k2.withUnsafeBufferPointer { k2 in
                m.withUnsafeBufferPointer { m in iv.withUnsafeBufferPointer { iv in
                    for r in range {
                        let xr = xp.p + r * c, gr = gp.p + r * c, dr = dp.p + r * c
                        for j in 0..<c {
                            let xhat = (xr[j] - m[j]) * iv[j]
                            dr[j] = k0[j] * (gr[j] - k1[j] - xhat * k2[j])
                        }
                    }
                } } } } }
            }
            self.accumulate(x, dx)
        }
    }
}
