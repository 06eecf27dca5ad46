/// Backward of a pointwise conv + batch norm that widens (the last unit of a bottleneck block,
/// relu(batchNorm(conv1x1(x, w)) + shortcut), from the block's inner width to 4x; or a resampling conv
/// without ReLU) without reading the conv output z.
///
/// z is the widest tensor the unit touches, and backward read it twice (the gradient sums, then the input
/// gradient), while the unit is bound by memory. But z = x w, so every sum over z is a sum over x that the
/// narrow side can carry:
///
/// - sum dy*z per channel = sum over i of w[i,j] * G[i,j], with G = x^T dy;
/// - the weight gradient x^T dz = (G - X k1 - (x^T x w - X mean) k2) k0 per column, X the column sums of x;
/// - the input gradient dz w^T = dy (k0 w^T) - x M + v, M = w diag(k0 k2) w^T (cin x cin) and v a row;
///
/// with dz = k0 (dy - k1 - (z - mean) k2) batch norm's input gradient (`batchNormGrad`). The first term of
/// the input gradient needs only k0, known from forward, so it is made in the same pass as G; a second pass
/// over the narrow x and dx adds the rest. Forward writes its output over z (less memory, and no fresh
/// tensor to fault in). The gradients round differently from the stored-z form (sums of products of x
/// instead of products of z), and lose a little more where a channel's mean is far larger than its spread:
/// measured on SpineNet-49 at batch 2, every parameter's gradient within 1.7e-5 (relative, in norm) of the
/// stored-z one.
extension Tape {
    /// Whether a unit of this shape takes the backward below: it saves two passes over the wide z and costs
    /// products of the narrow side, so it pays where rows are many against the input width (measured:
    /// SpineNet-49's L2 and L3 units at batch 16 gained, its L4 ones broke even and smaller levels lost). A
    /// ReLU must be gated by its output, so it needs the residual (without one it is gated by z).
    static func widening(rows: Int, cin: Int, cout: Int, relu: Bool, residual: Bool) -> Bool {
        (residual || !relu) && cout >= 2 * cin && rows >= 64 * cin
    }

    /// Backward of batchNorm(x w) (+ residual, then ReLU) without z (see above). `norm` is the forward's; dy is
    /// consumed (masked in place by a ReLU, then handed to the residual).
    func wideningBackward(_ dy: Tensor, x: Var, w: Var, gamma: Var, beta: Var, residual: Var?, norm: Normalized,
                          blocks: PointwiseBlocks) {
        let shape = x.shape, rows = blocks.rows, cin = shape[shape.count - 1], cout = w.shape[3]
        let needX = needs[x.id], needW = needs[w.id]
        let gammaV = value(gamma), mean = norm.mean, invstd = norm.invstd
        let k0 = (0..<cout).map { gammaV.ptr[$0] * invstd[$0] }
        let sums = WideningSums(rows: rows, cin: cin, cout: cout, groups: min(8, blocks.count), weights: needW)
        defer { sums.deallocate() }
        let xP = UncheckedBox(UnsafePointer(value(x).ptr)), wP = UncheckedBox(UnsafePointer(value(w).ptr))
        // pass 1, by groups of blocks: dy masked by the ReLU in place, its sums, G, and (weights) x's sums and
        // Gram matrix; the input gradient's first term dy (k0 w^T) while the block of dy is in cache
        let dx = gradientInPlace(x)
        let dxP = dx.map { SendablePtr($0.tensor.ptr) }, dxBeta = dx?.beta ?? 0
        var scaledT = [Float](repeating: 0, count: cout * cin)   // k0 w^T, [cout, cin]
        for i in 0..<cin { for j in 0..<cout { scaledT[j * cin + i] = k0[j] * wP.value[i * cout + j] } }
        let dyP = SendablePtr(dy.ptr), gateP = UncheckedBox(norm.gate.output)
        scaledT.withUnsafeBufferPointer { st in
            let stP = UncheckedBox(st.baseAddress!)
            Threads.parallelFor(sums.groups) { t in
                let first = t * blocks.count / sums.groups, last = (t + 1) * blocks.count / sums.groups
                for b in first..<last {
                    let r = blocks.range(b)
                    sums.accumulate(block: r, x: xP.value, dy: dyP.p, gate: gateP.value, part: t, first: b == first)
                    if let dxP {
                        sgemmPart(false, false, r.count, cin, cout, 1, dyP.p + r.lowerBound * cout, cout, stP.value,
                                  cin, dxBeta, dxP.p + r.lowerBound * cin, cin)
                    }
                }
            }
        }
        // dy is now the shortcut's gradient as it stands (and is not read again)
        if let residual, needs[residual.id] { accumulate(residual, dy) }
        let (dySum, xSum, gram) = sums.reduce()
        let crossed = sums.crossed(weights: wP.value)   // sum dy*z per channel
        var bnSums = [Double](repeating: 0, count: 2 * cout)
        for j in 0..<cout {
            bnSums[j] = dySum[j]
            bnSums[cout + j] = (crossed[j] - Double(mean[j]) * dySum[j]) * Double(invstd[j])
        }
        guard let k = batchNormGrad(sums: bnSums, invstd: invstd, training: true, rows: rows, gamma: gamma,
                                    beta: beta, inputNeedsGrad: needX || needW) else { return }
        if needW, let gram {
            let dw = Tensor(uninitialized: w.shape)
            sums.weightGradient(weights: wP.value, gram: gram, xSum: xSum, mean: mean, k: k, into: dw.ptr)
            accumulate(w, dw)
        }
        guard let dxP else { return }
        // pass 2: dx += v - x M over the narrow side only
        let (m, v) = WideningSums.inputCorrection(weights: wP.value, cin: cin, cout: cout, mean: mean, k: k)
        m.withUnsafeBufferPointer { mb in v.withUnsafeBufferPointer { vb in
            let mP = UncheckedBox(mb.baseAddress!), vP = UncheckedBox(vb.baseAddress!)
            Threads.parallelFor(blocks.count) { b in
                let r = blocks.range(b)
                let out = dxP.p + r.lowerBound * cin
                sgemmPart(false, false, r.count, cin, cin, -1, xP.value + r.lowerBound * cin, cin, mP.value, cin, 1,
                          out, cin)
                ConvKernels.addBias(out, rows: r.count, channels: cin, vP.value)
            }
        } }
    }
}

/// Pass 1's sums of a widening unit's backward, in parts fixed by the shape (so the same bits for any thread
/// count): per 64-row chunk, the masked dy's column sums and x's; per group of blocks, G = x^T dy and x^T x.
struct WideningSums: @unchecked Sendable {
    let rows: Int, cin: Int, cout: Int, groups: Int, weights: Bool
    /// Per chunk: cout sums of dy, then (weights) cin sums of x.
    let chunkSums: UnsafeMutablePointer<Float>
    var width: Int { cout + (weights ? cin : 0) }
    let gParts: UnsafeMutablePointer<Float>
    /// G summed over the parts (by `reduce`).
    let gSum: UnsafeMutablePointer<Float>
    let gramParts: UnsafeMutablePointer<Float>?
    let dyLanes: LanePattern, xLanes: LanePattern

    var chunks: Int { (rows + Reduce.grainRows - 1) / Reduce.grainRows }

    init(rows: Int, cin: Int, cout: Int, groups: Int, weights: Bool) {
        self.rows = rows; self.cin = cin; self.cout = cout; self.groups = groups; self.weights = weights
        let chunks = (rows + Reduce.grainRows - 1) / Reduce.grainRows
        chunkSums = .allocate(capacity: chunks * (cout + (weights ? cin : 0)))
        gParts = .allocate(capacity: groups * cin * cout)
        gSum = .allocate(capacity: cin * cout)
        gramParts = weights ? .allocate(capacity: groups * cin * cin) : nil
        dyLanes = LanePattern(channels: cout)
        xLanes = LanePattern(channels: cin)
    }

    func deallocate() { chunkSums.deallocate(); gParts.deallocate(); gSum.deallocate(); gramParts?.deallocate() }

    /// One block's share: masks dy in place where the ReLU's output y (`gate`, if any) is not positive and
    /// adds the block into group `part`'s products (`first`: the group's first block, which overwrites them).
    func accumulate(block r: Range<Int>, x: UnsafePointer<Float>, dy: UnsafeMutablePointer<Float>,
                    gate y: UnsafePointer<Float>?, part: Int, first: Bool) {
        typealias K = SIMDKernels
        let grain = Reduce.grainRows, width = self.width
        for lo in stride(from: r.lowerBound, to: r.upperBound, by: grain) {
            let n = min(grain, r.upperBound - lo), out = chunkSums + lo / grain * width
            let g = dy + lo * cout, o = y.map { $0 + lo * cout }
            dyLanes.withScratch { acc, _ in
                dyLanes.sum(n * cout, into: acc) { e, _ in
                    guard let o else { return K.load(g + e) }
                    let d = K.load(g + e).replacing(with: 0, where: .!(K.load(o + e) .> 0))
                    K.store(d, g + e)
                    return d
                } tail: { e, _ in
                    if let o, !(o[e] > 0) { g[e] = 0 }
                    return g[e]
                }
                dyLanes.fold(acc, into: out)
            }
            if weights {
                let xc = x + lo * cin
                xLanes.withScratch { acc, _ in
                    xLanes.sum(n * cin, into: acc) { e, _ in K.load(xc + e) } tail: { e, _ in xc[e] }
                    xLanes.fold(acc, into: out + cout)
                }
            }
        }
        let xb = x + r.lowerBound * cin, beta: Float = first ? 0 : 1
        sgemmPart(true, false, cin, cout, r.count, 1, xb, cin, dy + r.lowerBound * cout, cout, beta,
                  gParts + part * cin * cout, cout)
        if let gramParts {
            sgemmPart(true, false, cin, cin, r.count, 1, xb, cin, xb, cin, beta, gramParts + part * cin * cin, cin)
        }
    }

    /// Column sums of dy and (weights) of x, in Double with chunks in order; G into gSum; and x^T x when the
    /// weights need a gradient.
    func reduce() -> (dy: [Double], x: [Double], gram: [Float]?) {
        let all = Reduce.sumRows(chunkSums, rows: chunks, width: width)
        Reduce.sumParts(gParts, count: groups, size: cin * cout, into: gSum)
        let gram = gramParts.map { parts in
            [Float](unsafeUninitializedCapacity: cin * cin) { buf, n in
                Reduce.sumParts(parts, count: groups, size: cin * cin, into: buf.baseAddress!)
                n = cin * cin
            }
        }
        return (Array(all[0..<cout]), Array(all[cout...]), gram)
    }

    /// sum over rows of dy*z per channel, as sum over i of w[i,j] G[i,j] (after `reduce`).
    func crossed(weights w: UnsafePointer<Float>) -> [Double] {
        var out = [Double](repeating: 0, count: cout)
        for i in 0..<cin { for j in 0..<cout { out[j] += Double(w[i * cout + j]) * Double(gSum[i * cout + j]) } }
        return out
    }

    /// dw[i,j] = k0[j] (G[i,j] - X[i] k1[j] - ((x^T x w)[i,j] - X[i] mean[j]) k2[j]).
    func weightGradient(weights w: UnsafePointer<Float>, gram: [Float], xSum: [Double], mean: [Float],
                        k: ([Float], [Float], [Float]), into dw: UnsafeMutablePointer<Float>) {
        let gw = UnsafeMutablePointer<Float>.allocate(capacity: cin * cout)
        defer { gw.deallocate() }
        gram.withUnsafeBufferPointer { sgemm(m: cin, n: cout, k: cin, $0.baseAddress!, lda: cin, w, ldb: cout, gw, ldc: cout) }
        for i in 0..<cin {
            let xs = Float(xSum[i])
            for j in 0..<cout {
                let e = i * cout + j
                dw[e] = k.0[j] * (gSum[e] - xs * k.1[j] - (gw[e] - xs * mean[j]) * k.2[j])
            }
        }
    }

    /// M = w diag(k0 k2) w^T and v[i] = sum over j of w[i,j] k0[j] (mean[j] k2[j] - k1[j]): dx = dy (k0 w^T) - x M + v.
    static func inputCorrection(weights w: UnsafePointer<Float>, cin: Int, cout: Int, mean: [Float],
                                k: ([Float], [Float], [Float])) -> (m: [Float], v: [Float]) {
        var scaled = [Float](repeating: 0, count: cin * cout), v = [Float](repeating: 0, count: cin)
        for i in 0..<cin {
            var s: Float = 0
            for j in 0..<cout {
                scaled[i * cout + j] = w[i * cout + j] * k.0[j] * k.2[j]
                s += w[i * cout + j] * k.0[j] * (mean[j] * k.2[j] - k.1[j])
            }
            v[i] = s
        }
        var m = [Float](repeating: 0, count: cin * cin)
        scaled.withUnsafeBufferPointer { sp in m.withUnsafeMutableBufferPointer { mp in
            sgemm(transB: true, m: cin, n: cin, k: cout, sp.baseAddress!, lda: cout, w, ldb: cout, mp.baseAddress!, ldc: cin)
        } }
        return (m, v)
    }
}
