/// A pointwise conv and the batch norm that alone reads it, as one training node.
///
/// At the narrow widths of the ablations these layers are bound by memory, not multiplies: the conv writes
/// its output, batch norm reads it for the moments, reads it again to normalise, and backward makes three
/// more passes over the gradient. Run together block by block, the moments are taken while a block of conv
/// output is still in cache, and in backward each block's input gradient of batch norm goes straight into
/// the conv's two products. Same arithmetic as conv2d then batchNorm; only the order of the weight
/// gradient's sum differs (fixed blocks instead of fixed K slices).
extension Tape {
    /// relu(batchNorm(conv1x1(x, w)) + residual) (`relu` false: without it; no residual: without the sum).
    /// The residual (a bottleneck block's shortcut) is added in the normalising pass, so the batch norm's own
    /// output is never written and read back. Falls back to separate ops on inference tapes and for other convs.
    public func conv1x1BatchNorm(_ x: Var, _ conv: Conv2D, _ bn: BatchNorm, relu: Bool, residual: Var? = nil) -> Var {
        let w = param(conv.kernel)
        guard training, conv.kernelSize == 1, conv.stride == 1, conv.bias == nil else {
            let gamma = param(bn.gamma), beta = param(bn.beta)
            guard let residual else { return batchNorm(conv2d(x, w, stride: conv.stride), bn, gamma: gamma, beta: beta, relu: relu) }
            return add([batchNorm(conv2d(x, w, stride: conv.stride), bn, gamma: gamma, beta: beta), residual], relu: relu)
        }
        return conv1x1BatchNorm(x, w, bn, gamma: param(bn.gamma), beta: param(bn.beta), relu: relu, residual: residual)
    }

    /// Pointwise conv + batch norm (+ ReLU) units that all read x, as one node: their kernels side by side are one
    /// conv, and batch norm works per channel anyway, so x is read once in forward and once in backward (where
    /// its gradient is also written once) instead of once per unit. Returns each unit's output, a channel slice
    /// of the joint one. Falls back to one fused node per unit where that does not apply.
    public func conv1x1BatchNorms(_ x: Var, _ units: [(conv: Conv2D, bn: BatchNorm)], relu: Bool) -> [Var] {
        let first = units[0].bn
        guard training, units.count > 1, units.allSatisfy({ $0.conv.kernelSize == 1 && $0.conv.stride == 1 && $0.conv.bias == nil
                && $0.bn.momentum == first.momentum && $0.bn.epsilon == first.epsilon }) else {
            return units.map { conv1x1BatchNorm(x, $0.conv, $0.bn, relu: relu) }
        }
        let w = concat(units.map { param($0.conv.kernel) }, axis: 3)
        let gamma = concat(units.map { param($0.bn.gamma) }, axis: 0), beta = concat(units.map { param($0.bn.beta) }, axis: 0)
        // one batch norm over the joint channels, its running statistics those of the units, side by side
        let joint = BatchNorm(name: units.map(\.bn.name).joined(separator: "+"), channels: w.shape[3],
                              momentum: first.momentum, epsilon: first.epsilon)
        joint.runningMean = Tensor(shape: [w.shape[3]], data: units.flatMap { $0.bn.runningMean.data })
        joint.runningVar = Tensor(shape: [w.shape[3]], data: units.flatMap { $0.bn.runningVar.data })
        let y = conv1x1BatchNorm(x, w, joint, gamma: gamma, beta: beta, relu: relu, residual: nil)
        var start = 0
        return units.map { unit in
            let c = unit.bn.channels
            unit.bn.runningMean.data = Array(joint.runningMean.data[start..<(start + c)])
            unit.bn.runningVar.data = Array(joint.runningVar.data[start..<(start + c)])
            defer { start += c }
            return channels(y, start..<(start + c))
        }
    }

    /// The fused node on kernel, gamma and beta nodes; `bn` gives the running statistics and settings.
    func conv1x1BatchNorm(_ x: Var, _ w: Var, _ bn: BatchNorm, gamma: Var, beta: Var, relu: Bool, residual: Var?) -> Var {
        if let residual {
            precondition(residual.shape == [x.shape[0], x.shape[1], x.shape[2], w.shape[3]],
                         "conv1x1BatchNorm \(bn.name): residual \(residual.shape) does not match the conv's output")
        }
        let g = ConvGeometry(x: x.shape, w: w.shape, stride: 1)
        let rows = g.n * g.h * g.w, cin = g.cin, cout = g.cout
        precondition(cout == bn.channels, "conv1x1BatchNorm \(bn.name): conv gives \(cout) channels, layer has \(bn.channels)")
        precondition(rows > 0, "conv1x1BatchNorm \(bn.name): empty batch")
        let blocks = PointwiseBlocks(rows: rows, width: max(cin, cout))
        let lanes = LanePattern(channels: cout)
        let z = Tensor(uninitialized: [g.n, g.h, g.w, cout])
        let partial = UnsafeMutablePointer<Float>.allocate(capacity: (rows + Reduce.grainRows - 1) / Reduce.grainRows * 2 * cout)
        defer { partial.deallocate() }
        let xP = UncheckedBox(UnsafePointer(value(x).ptr)), wP = UncheckedBox(UnsafePointer(value(w).ptr))
        let zP = SendablePtr(z.ptr), pP = SendablePtr(partial)
        Threads.parallelFor(blocks.count) { b in
            let r = blocks.range(b)
            sgemmPart(false, false, r.count, cout, cin, 1, xP.value + r.lowerBound * cin, cin, wP.value, cout, 0,
                      zP.p + r.lowerBound * cout, cout)
            // the block's 64-row chunks, the same chunks batchNorm would take, while the block is in cache
            for lo in stride(from: r.lowerBound, to: r.upperBound, by: Reduce.grainRows) {
                BatchNormKernels.chunkMoments(zP.p + lo * cout, rows: min(Reduce.grainRows, r.upperBound - lo), lanes,
                                              into: pP.p + lo / Reduce.grainRows * 2 * cout)
            }
        }
        let moments = BatchNormKernels.mergeMoments(partial, rows: rows, channels: cout)
        // a widening unit's backward needs no z (WideningUnit.swift), so the output is written over it
        let widening = Self.widening(rows: rows, cin: cin, cout: cout, relu: relu, residual: residual != nil)
        let norm = normalize(z, bn, moments: moments, gamma: gamma, beta: beta, relu: relu,
                             residual: residual.map { value($0) }, inPlace: widening)
        let macs = Double(rows * cin * cout)
        let op: StaticString = residual == nil ? (relu ? "conv1x1+bn+relu" : "conv1x1+bn")
                                               : (relu ? "conv1x1+bn+add+relu" : "conv1x1+bn+add")
        return record(norm.y, needsGrad: anyNeeds([x, w, gamma, beta] + (residual.map { [$0] } ?? [])), op: op,
                      flops: (2 * macs, 4 * macs)) { [unowned self] dy in
            if widening {
                return self.wideningBackward(dy, x: x, w: w, gamma: gamma, beta: beta, residual: residual, norm: norm,
                                             blocks: blocks)
            }
            let needX = self.needs[x.id], needW = self.needs[w.id]
            let k = self.batchNormGrad(norm, input: z.ptr, dy: dy, rows: rows, gamma: gamma, beta: beta,
                                       inputNeedsGrad: needX || needW)
            // with a residual, dy is now masked by the ReLU: it is the residual's gradient as it stands (and is
            // only read below)
            if let residual, self.needs[residual.id] { self.accumulate(residual, dy) }
            guard let k else { return }
            let grad = BatchNormKernels.InputGrad(channels: cout, mean: norm.mean, k0: k.0, k1: k.1, k2: k.2,
                                                  gate: norm.gate.byInput)
            defer { grad.deallocate() }
            // where another consumer of x already made its gradient, the product adds into it (beta 1) instead
            // of writing a tensor of its own that accumulate would add in another pass
            let dx = self.gradientInPlace(x), dxBeta = dx?.beta ?? 0
            let groups = min(8, blocks.count), size = cin * cout
            let dwParts = needW ? UnsafeMutablePointer<Float>.allocate(capacity: groups * size) : nil
            defer { dwParts?.deallocate() }
            let dyP = SendablePtr(dy.ptr), dxP = dx.map { SendablePtr($0.tensor.ptr) }
            let dwP = dwParts.map { SendablePtr($0) }
            let xV = UncheckedBox(UnsafePointer(self.value(x).ptr)), wV = UncheckedBox(UnsafePointer(self.value(w).ptr))
            let zV = UncheckedBox(UnsafePointer(z.ptr))
            // groups of consecutive blocks, each summing its weight gradient into its own part; a block's dz
            // lives in the group's scratch, in cache, from batch norm's backward to the two products
            Threads.parallelFor(groups) { t in
                let dz = UnsafeMutablePointer<Float>.allocate(capacity: blocks.size * cout)
                defer { dz.deallocate() }
                for b in (t * blocks.count / groups)..<((t + 1) * blocks.count / groups) {
                    let r = blocks.range(b)
                    grad.apply(zV.value, dyP.p, rows: r, into: dz)
                    if let dxP {
                        sgemmPart(false, true, r.count, cin, cout, 1, dz, cout, wV.value, cout, dxBeta,
                                  dxP.p + r.lowerBound * cin, cin)
                    }
                    if let dwP {
                        sgemmPart(true, false, cin, cout, r.count, 1, xV.value + r.lowerBound * cin, cin, dz, cout,
                                  b == t * blocks.count / groups ? 0 : 1, dwP.p + t * size, cout)
                    }
                }
            }
            if let dwParts {
                let dw = Tensor(uninitialized: w.shape)
                Reduce.sumParts(dwParts, count: groups, size: size, into: dw.ptr)
                self.accumulate(w, dw)
            }
        }
    }
}

/// Row blocks of a pointwise conv: a multiple of the 64-row moment chunks, up to 1 MB of the wider side so a
/// block stays in L2 (1 MB measured a little faster than 256 KB), and at least four blocks where the rows
/// allow (both threads get work on small levels). Fixed by the shape alone, so results do not depend on the
/// thread count.
struct PointwiseBlocks {
    let rows: Int, size: Int, count: Int

    init(rows: Int, width: Int) {
        let chunk = Reduce.grainRows
        let fit = max(chunk, (262_144 / max(1, width)) / chunk * chunk)
        let quarter = max(chunk, rows / 4 / chunk * chunk)
        self.rows = rows
        size = min(4096, fit, quarter)
        count = (rows + size - 1) / size
    }

    func range(_ b: Int) -> Range<Int> { (b * size)..<min(rows, (b + 1) * size) }
}
