/// Batch norm, ReLU and the 3x3 stride-2 max pool after them (the stem), as one training node.
///
/// The stem's normalised map is the largest tensor of a step (16 MB at batch 16, 128 px) and the pool keeps a
/// quarter of it. Here the pool reads the conv output and normalises each window on the fly, so the full-size
/// normalised map is never written; in backward the batch-norm sums are taken over the pooled gradient at its
/// winners only (forward keeps the input at each winner, so they stream instead of gathering), and the input
/// gradient is one dense write plus a scatter at the winners, image by image while the image is in cache,
/// instead of a zero-filled full-size gradient, a scatter and two more full passes. After the stem's conv, whose
/// input (the images) needs no gradient, that input gradient is made a block at a time inside the conv's
/// weight gradient and never written out whole.
extension Tape {
    /// maxPool3x3s2(relu(batchNorm(x))). Falls back to the three ops on inference tapes and when the channels
    /// are not a multiple of 8.
    public func batchNormReluMaxPool(_ x: Var, _ bn: BatchNorm) -> Var {
        batchNormReluMaxPool(x, bn, moments: nil)
    }

    /// maxPool3x3s2(relu(batchNorm(conv(x)))) for the stem's conv: the conv takes batch norm's moments from
    /// each block of its output while the block is in cache (the same 64-row chunks, so the same bits), which
    /// saves a pass over the step's largest tensor; when x needs no gradient, the conv and the pool are one
    /// node. Falls back to the separate conv where its blocks do not line up with those chunks.
    public func convBatchNormReluMaxPool(_ x: Var, _ conv: Conv2D, _ bn: BatchNorm) -> Var {
        let w = param(conv.kernel)
        let g = ConvGeometry(x: x.shape, w: w.shape, stride: conv.stride)
        guard training, conv.bias == nil, g.cout == bn.channels, bn.channels % 8 == 0, !g.isPointwise,
              Winograd.variant(for: g) == nil, g.rowsPerImage % Reduce.grainRows == 0 else {
            return batchNormReluMaxPool(conv2d(x, w, bias: conv.bias.map { param($0) }, stride: conv.stride), bn)
        }
        let c = g.cout, lanes = LanePattern(channels: c), rows = g.n * g.rowsPerImage
        let partial = UnsafeMutablePointer<Float>.allocate(capacity: rows / Reduce.grainRows * 2 * c)
        defer { partial.deallocate() }
        let pP = SendablePtr(partial)
        let momentsOfBlock = { (block: Range<Int>, out: UnsafeMutablePointer<Float>) in
            for lo in stride(from: block.lowerBound, to: block.upperBound, by: Reduce.grainRows) {
                BatchNormKernels.chunkMoments(out + (lo - block.lowerBound) * c, rows: Reduce.grainRows, lanes,
                                              into: pP.p + lo / Reduce.grainRows * 2 * c)
            }
        }
        guard !needs[x.id] else {
            let z = conv2d(x, w, bias: nil, stride: conv.stride, eachBlock: momentsOfBlock)
            return batchNormReluMaxPool(z, bn, moments: BatchNormKernels.mergeMoments(partial, rows: rows, channels: c))
        }
        // (the parameters first: the profiler puts the time since the last node on the next one)
        let gamma = param(bn.gamma), beta = param(bn.beta)
        let z = Tensor(uninitialized: [g.n, g.ho, g.wo, c])
        let xt = value(x), wt = value(w)
        ConvKernels.forward(g, x: xt.ptr, w: wt.ptr, bias: nil, y: z.ptr, eachBlock: momentsOfBlock)
        let pooled = normPool(z, bn, moments: BatchNormKernels.mergeMoments(partial, rows: rows, channels: c),
                              gamma: gamma, beta: beta)
        let pool = pooled.pool, macs = Double(rows * g.kkc * c)
        return record(pooled.y, needsGrad: anyNeeds([w, gamma, beta]), op: "conv+bn+relu+maxPool",
                      flops: (2 * macs, 2 * macs)) { [unowned self] dy in
            guard let k = self.batchNormGrad(pooled, dy, gamma: gamma, beta: beta, inputNeedsGrad: self.needs[w.id]) else {
                return
            }
            let dw = Tensor(uninitialized: w.shape), grad = pooled.inputGrad(k)
            let zP = UncheckedBox(UnsafePointer(z.ptr)), dyP = UncheckedBox(UnsafePointer(dy.ptr))
            defer { grad.deallocate() }
            ConvKernels.weightGradient(g, x: xt.ptr, dw: dw.ptr) { image, cells, scratch in
                pool.inputGrad(image: image, cells: cells, zP.value, pooled, dyP.value, grad, into: scratch)
                return UnsafePointer(scratch)
            }
            self.accumulate(w, dw)
        }
    }

    /// batchNormReluMaxPool with the batch moments of x already taken, if they were.
    func batchNormReluMaxPool(_ x: Var, _ bn: BatchNorm, moments given: (mean: [Double], m2: [Double])?) -> Var {
        let gamma = param(bn.gamma), beta = param(bn.beta)
        guard training, x.shape.count == 4, bn.channels % 8 == 0 else {
            return maxPool3x3s2(batchNorm(x, bn, gamma: gamma, beta: beta, relu: true))
        }
        let xt = value(x)
        let pooled = normPool(xt, bn, moments: given, gamma: gamma, beta: beta)
        let pool = pooled.pool
        return record(pooled.y, needsGrad: anyNeeds([x, gamma, beta]), op: "batchNorm+relu+maxPool") { [unowned self] g in
            guard let k = self.batchNormGrad(pooled, g, gamma: gamma, beta: beta, inputNeedsGrad: self.needs[x.id]) else {
                return
            }
            let dx = Tensor(uninitialized: x.shape), grad = pooled.inputGrad(k)
            defer { grad.deallocate() }
            let xP = UncheckedBox(UnsafePointer(xt.ptr)), gP = UncheckedBox(UnsafePointer(g.ptr)), dxP = SendablePtr(dx.ptr)
            let cells = pool.h * pool.w
            Threads.parallelFor(pool.n) { img in
                pool.inputGrad(image: img, cells: 0..<cells, xP.value, pooled, gP.value, grad,
                               into: dxP.p + img * cells * pool.c)
            }
            self.accumulate(x, dx)
        }
    }

    /// The pool's forward on the batch-norm input x (moments: if already taken).
    func normPool(_ x: Tensor, _ bn: BatchNorm, moments given: (mean: [Double], m2: [Double])?, gamma: Var,
                  beta: Var) -> NormPooled {
        let pool = NormPool(x.shape)
        precondition(pool.c == bn.channels, "batchNormReluMaxPool \(bn.name): input \(x.shape), layer has \(bn.channels) channels")
        let moments = given ?? BatchNormKernels.moments(x.ptr, rows: pool.rows, channels: pool.c)
        let (mean, invstd, a, b) = statistics(bn, rows: pool.rows, moments: moments, gamma: gamma, beta: beta)
        let y = Tensor(uninitialized: pool.outputShape)
        let winners = Winners(count: y.count)
        pool.forward(x.ptr, a, b, y: y.ptr, winners: winners)
        return NormPooled(pool: pool, y: y, winners: winners, mean: mean, invstd: invstd)
    }

    /// Batch norm's backward through the pool, up to the input gradient's constants (nil: no input gradient).
    func batchNormGrad(_ pooled: NormPooled, _ dy: Tensor, gamma: Var, beta: Var,
                       inputNeedsGrad: Bool) -> ([Float], [Float], [Float])? {
        let sums = pooled.pool.gradSums(dy.ptr, y: pooled.y.ptr, winners: pooled.winners, mean: pooled.mean,
                                        invstd: pooled.invstd)
        return batchNormGrad(sums: sums, invstd: pooled.invstd, training: true, rows: pooled.pool.rows, gamma: gamma,
                             beta: beta, inputNeedsGrad: inputNeedsGrad)
    }
}

/// What the pool's forward keeps for backward.
struct NormPooled: @unchecked Sendable {
    let pool: NormPool
    let y: Tensor
    let winners: Winners
    let mean: [Float], invstd: [Float]

    /// The input gradient's dense terms, from batchNormGrad's constants (caller deallocates).
    func inputGrad(_ k: ([Float], [Float], [Float])) -> BatchNormKernels.InputGrad {
        BatchNormKernels.InputGrad(channels: pool.c, mean: mean, k0: k.0, k1: k.1, k2: k.2)
    }
}

/// Which input cell won each pooled output (its flat index within the image) and that cell's input value,
/// kept for backward.
final class Winners: @unchecked Sendable {
    let index: UnsafeMutablePointer<Int32>
    let x: UnsafeMutablePointer<Float>
    init(count: Int) { index = .allocate(capacity: count); x = .allocate(capacity: count) }
    deinit { index.deallocate(); x.deallocate() }
}

/// The loops of `batchNormReluMaxPool`, each parallel over images (a winner is always in its own image).
struct NormPool: Sendable {
    let n: Int, h: Int, w: Int, c: Int, ho: Int, wo: Int, padTop: Int, padLeft: Int
    var rows: Int { n * h * w }
    var outputShape: [Int] { [n, ho, wo, c] }

    init(_ shape: [Int]) {
        (n, h, w, c) = (shape[0], shape[1], shape[2], shape[3])
        let py = SamePadding(input: h, kernel: 3, stride: 2), px = SamePadding(input: w, kernel: 3, stride: 2)
        (ho, wo, padTop, padLeft) = (py.output, px.output, py.before, px.before)
    }

    /// y = max over each window of relu(x*a + b), the same values as batchNorm+relu then maxPool3x3s2. x*a + b
    /// never decreases in x where a >= 0 and never increases where a < 0, so the window's winner is its largest
    /// x (smallest where a < 0), and relu(x*a + b) is taken once per window, not per cell. Ties go to the first
    /// cell inside the image, as in maxPool3x3s2; the winner can differ from that op's only where two x round to
    /// the same x*a + b (or where the output is 0 and no gradient flows).
    func forward(_ x: UnsafePointer<Float>, _ a: [Float], _ b: [Float], y: UnsafeMutablePointer<Float>,
                 winners: Winners) {
        typealias K = SIMDKernels
        // raw pointers, not the Winners object: reading a class reference in the loop would retain it each time
        let xp = UncheckedBox(x), yp = SendablePtr(y), consts = UncheckedBox((a, b))
        let wx = UncheckedBox(winners.x), wi = UncheckedBox(winners.index)
        Threads.parallelFor(n) { img in
            let lanes = K.I8(0, 1, 2, 3, 4, 5, 6, 7), xi = xp.value + img * h * w * c
            let everyLane = K.F8() .== K.F8()
            consts.value.0.withUnsafeBufferPointer { a in consts.value.1.withUnsafeBufferPointer { b in
                for oy in 0..<ho {
                    let y0 = max(0, oy * 2 - padTop), y1 = min(h, oy * 2 - padTop + 3)
                    for ox in 0..<wo {
                        let o = ((img * ho + oy) * wo + ox) * c
                        let x0 = max(0, ox * 2 - padLeft), x1 = min(w, ox * 2 - padLeft + 3)
                        for ch in stride(from: 0, to: c, by: 8) {
                            let av = K.load(a.baseAddress! + ch), bv = K.load(b.baseAddress! + ch)
                            // the largest x * sign (exact: sign is +-1)
                            let sign = K.F8(repeating: 1).replacing(with: -1, where: av .< 0)
                            var key = K.F8(), win = K.I8(), seeded = false
                            for iy in y0..<y1 {
                                for ix in x0..<x1 {
                                    let at = (iy * w + ix) * c + ch
                                    let kv = K.load(xi + at) * sign
                                    let m = seeded ? kv .> key : everyLane
                                    key = key.replacing(with: kv, where: m)
                                    win = win.replacing(with: K.I8(repeating: Int32(at)) &+ lanes, where: m)
                                    seeded = true
                                }
                            }
                            let winX = key * sign, v = winX * av + bv
                            K.store(v.replacing(with: 0, where: v .< 0), yp.p + o + ch)
                            K.store(winX, wx.value + o + ch)
                            UnsafeMutableRawPointer(wi.value + o + ch).storeBytes(of: win, as: K.I8.self)
                        }
                    }
                }
            } }
        }
    }

    /// Per channel: sum of dy (first c) and of dy * xhat (next c), dy being the pooled gradient scattered to
    /// the winners the ReLU passed (a cell that wins twice counts twice, as its summed gradient would). Per
    /// image, each channel's terms in cell order, then images in order in Double.
    func gradSums(_ g: UnsafePointer<Float>, y: UnsafePointer<Float>, winners: Winners, mean: [Float],
                  invstd: [Float]) -> [Double] {
        precondition(c % 8 == 0, "NormPool.gradSums: \(c) channels, needs a multiple of 8")
        let partial = UnsafeMutablePointer<Float>.allocate(capacity: n * 2 * c)
        defer { partial.deallocate() }
        let per = ho * wo * c
        let gp = UncheckedBox(g), yp = UncheckedBox(y), wx = UncheckedBox(UnsafePointer(winners.x)), pp = SendablePtr(partial)
        let consts = UncheckedBox(mean)
        Threads.parallelFor(n) { img in
            typealias K = SIMDKernels
            let s1 = pp.p + img * 2 * c, s2 = s1 + c
            s1.update(repeating: 0, count: 2 * c)
            consts.value.withUnsafeBufferPointer { mean in
                for o in stride(from: img * per, to: (img + 1) * per, by: c) {
                    for ch in stride(from: 0, to: c, by: 8) {
                        // a select, not a branch: which winners the ReLU passed (a positive pooled output, as in
                        // `scatter`) is a coin toss
                        let gv = K.load(gp.value + o + ch).replacing(with: 0, where: .!(K.load(yp.value + o + ch) .> 0))
                        K.store(K.load(s1 + ch) + gv, s1 + ch)
                        K.store(K.load(s2 + ch) + gv * (K.load(wx.value + o + ch) - K.load(mean.baseAddress! + ch)), s2 + ch)
                    }
                }
            }
        }
        return BatchNormKernels.mergeGradSums(partial, parts: n, invstd)
    }

    /// dx = k0 * (dy - k1 - (x - mean) * k2) for cells `cells` (iy*w + ix) of one image, into out (those cells
    /// only), dy being the pooled gradient at the winners the ReLU passed (whose pooled output is positive: it
    /// is the winner's relu(x*a + b), the same float) and 0 elsewhere: the dense terms, then k0 * dy added at
    /// the winners among these cells, in pooled order (so any split of an image into cells gives the same bits).
    func inputGrad(image img: Int, cells: Range<Int>, _ x: UnsafePointer<Float>, _ pooled: NormPooled,
                   _ g: UnsafePointer<Float>, _ grad: BatchNormKernels.InputGrad, into out: UnsafeMutablePointer<Float>) {
        typealias K = SIMDKernels
        precondition(c % 8 == 0, "NormPool.inputGrad: \(c) channels, needs a multiple of 8")
        let first = img * h * w
        grad.apply(x, nil, rows: (first + cells.lowerBound)..<(first + cells.upperBound), into: out)
        // pooled rows whose windows (input rows 2*py - padTop ... + 2) reach the cells' rows
        let iy0 = cells.lowerBound / w, iy1 = (cells.upperBound - 1) / w
        let py0 = iy0 + padTop < 2 ? 0 : (iy0 + padTop - 1) / 2, py1 = min(ho - 1, (iy1 + padTop) / 2)
        guard py0 <= py1 else { return }
        let lo = Int32(cells.lowerBound * c), hi = Int32(cells.upperBound * c)
        let k0 = grad.k0, y = UnsafePointer(pooled.y.ptr), index = pooled.winners.index
        for o in stride(from: ((img * ho + py0) * wo) * c, to: ((img * ho + py1 + 1) * wo) * c, by: c) {
            for ch in stride(from: 0, to: c, by: 8) {
                let passed = K.load(y + o + ch) .> 0
                let v = (K.load(k0 + ch) * K.load(g + o + ch)).replacing(with: 0, where: .!passed)
                let at = UnsafeRawPointer(index + o + ch).loadUnaligned(as: K.I8.self)
                for j in 0..<8 where at[j] >= lo && at[j] < hi { out[Int(at[j] - lo)] += v[j] }
            }
        }
    }
}
