import Foundation

/// Elementwise, shape and pooling ops. Each computes its value and records its backward.
extension Tape {
    /// Output needs a gradient when any input does.
    func anyNeeds(_ xs: [Var]) -> Bool { xs.contains { needs[$0.id] } }

    /// Elementwise loop over fixed chunks on the engine threads; body gets a whole range so the
    /// inner loop is plain code the compiler can vectorise.
    static func map(_ n: Int, _ body: (Range<Int>) -> Void) {
        Threads.parallelChunks(n, grain: 32768) { _, r in body(r) }
    }

    public func relu(_ x: Var) -> Var {
        let xt = value(x), y = Tensor(uninitialized: x.shape)
        let xp = SendablePtr(xt.ptr), yp = SendablePtr(y.ptr)
        Tape.map(y.count) { r in for i in r { yp.p[i] = max(xp.p[i], 0) } }
        return record(y, needsGrad: needs[x.id]) { [unowned self, y] g in
            let dx = Tensor(uninitialized: x.shape)
            let dp = SendablePtr(dx.ptr), gp = SendablePtr(g.ptr), op = SendablePtr(y.ptr)
            Tape.map(dx.count) { r in SIMDKernels.reluBackward(op.p, gp.p, dp.p, r) }
            self.accumulate(x, dx)
        }
    }

    public func sigmoid(_ x: Var) -> Var {
        let xt = value(x), y = Tensor(uninitialized: x.shape)
        let xp = SendablePtr(xt.ptr), yp = SendablePtr(y.ptr)
        Tape.map(y.count) { r in for i in r { yp.p[i] = stableSigmoid(xp.p[i]) } }
        return record(y, needsGrad: needs[x.id]) { [unowned self, y] g in
            let dx = Tensor(uninitialized: x.shape)
            let dp = SendablePtr(dx.ptr), gp = SendablePtr(g.ptr), yp = SendablePtr(y.ptr)
            Tape.map(dx.count) { r in for i in r { let s = yp.p[i]; dp.p[i] = gp.p[i] * s * (1 - s) } }
            self.accumulate(x, dx)
        }
    }

    /// x * sigmoid(x).
    public func swish(_ x: Var) -> Var {
        let xt = value(x), y = Tensor(uninitialized: x.shape)
        let xp = SendablePtr(xt.ptr), yp = SendablePtr(y.ptr)
        Tape.map(y.count) { r in for i in r { yp.p[i] = xp.p[i] * stableSigmoid(xp.p[i]) } }
        return record(y, needsGrad: needs[x.id]) { [unowned self] g in
            let xv = SendablePtr(self.value(x).ptr)
            let dx = Tensor(uninitialized: x.shape)
            let dp = SendablePtr(dx.ptr), gp = SendablePtr(g.ptr)
            Tape.map(dx.count) { r in
                for i in r {
                    let v = xv.p[i], s = stableSigmoid(v)
                    dp.p[i] = gp.p[i] * (s + v * s * (1 - s))
                }
            }
            self.accumulate(x, dx)
        }
    }

    public func activation(_ x: Var, _ a: Activation) -> Var {
        switch a {
        case .relu: return relu(x)
        case .swish: return swish(x)
        case .none: return x
        }
    }

    /// n-ary sum of equal shapes.
    public func add(_ xs: [Var]) -> Var { add(xs, relu: false) }

    /// Sum, then an activation. ReLU is fused (one pass writes max(sum, 0); backward masks the gradient by
    /// that output, so the sum itself is never stored); swish stays a separate op.
    public func add(_ xs: [Var], activation: Activation) -> Var {
        switch activation {
        case .relu: return xs.count == 1 ? relu(xs[0]) : add(xs, relu: true)
        case .swish: return swish(add(xs))
        case .none: return add(xs)
        }
    }

    func add(_ xs: [Var], relu: Bool) -> Var {
        precondition(!xs.isEmpty, "add: needs at least one input")
        for v in xs { precondition(v.shape == xs[0].shape, "add: shapes differ: \(xs.map(\.shape))") }
        if xs.count == 1 { return xs[0] }
        // first two inputs in one pass (no copy then add), then any others
        let y = Tensor(uninitialized: xs[0].shape)
        let yp = SendablePtr(y.ptr), ap = SendablePtr(value(xs[0]).ptr), bp = SendablePtr(value(xs[1]).ptr)
        if relu && xs.count == 2 {
            Tape.map(y.count) { r in for i in r { yp.p[i] = max(ap.p[i] + bp.p[i], 0) } }
        } else {
            Tape.map(y.count) { r in for i in r { yp.p[i] = ap.p[i] + bp.p[i] } }
            for v in xs.dropFirst(2) { y.add(value(v)) }
            if relu { Tape.map(y.count) { r in for i in r { yp.p[i] = max(yp.p[i], 0) } } }
        }
        let output = relu ? y : nil
        return record(y, needsGrad: anyNeeds(xs), op: relu ? "add+relu" : "add") { [unowned self, output] g in
            // a backward closure owns its incoming gradient: mask it in place
            if let output {
                let gp = SendablePtr(g.ptr), op = SendablePtr(output.ptr)
                Tape.map(g.count) { r in SIMDKernels.reluBackward(op.p, gp.p, gp.p, r) }
            }
            var first = true
            for v in xs where self.needs[v.id] {
                self.accumulate(v, first ? g : g.copy())
                first = false
            }
        }
    }

    public func add(_ a: Var, _ b: Var) -> Var { add([a, b]) }

    /// Elementwise product of equal shapes.
    public func multiply(_ a: Var, _ b: Var) -> Var {
        precondition(a.shape == b.shape, "multiply: shapes \(a.shape) and \(b.shape) differ")
        let at = value(a), bt = value(b), y = Tensor(uninitialized: a.shape)
        let ap = SendablePtr(at.ptr), bp = SendablePtr(bt.ptr), yp = SendablePtr(y.ptr)
        Tape.map(y.count) { r in for i in r { yp.p[i] = ap.p[i] * bp.p[i] } }
        return record(y, needsGrad: anyNeeds([a, b])) { [unowned self] g in
            let gp = SendablePtr(g.ptr)
            for (v, other) in [(a, b), (b, a)] where self.needs[v.id] {
                let d = Tensor(uninitialized: v.shape)
                let dp = SendablePtr(d.ptr), op = SendablePtr(self.value(other).ptr)
                Tape.map(d.count) { r in for i in r { dp.p[i] = gp.p[i] * op.p[i] } }
                self.accumulate(v, d)
            }
        }
    }

    /// Same as add: sums equal-shaped values (e.g. scalar losses).
    public func sum(_ xs: [Var]) -> Var { add(xs) }

    /// Sum of all elements, shape [].
    public func sum(_ x: Var) -> Var {
        let xt = value(x)
        let xp = SendablePtr(xt.ptr)
        // 8-lane partial sums in Double within fixed chunks, chunks added in order
        let s = Reduce.sumChunks(xt.count, grain: 4096) { r in
            var acc = SIMD8<Double>(), i = r.lowerBound
            while i + 8 <= r.upperBound { acc += SIMD8<Double>(SIMDKernels.load(xp.p + i)); i += 8 }
            var total = acc.sum()
            while i < r.upperBound { total += Double(xp.p[i]); i += 1 }
            return total
        }
        return record(Tensor(scalar: Float(s)), needsGrad: needs[x.id]) { [unowned self] g in
            self.accumulate(x, Tensor(shape: x.shape, repeating: g.ptr[0]))
        }
    }

    /// Mean of all elements, shape [].
    public func mean(_ x: Var) -> Var {
        let n = max(1, x.shape.reduce(1, *))
        return scale(sum(x), 1 / Float(n))
    }

    public func scale(_ x: Var, _ s: Float) -> Var {
        let xt = value(x), y = Tensor(uninitialized: x.shape)
        let xp = SendablePtr(xt.ptr), yp = SendablePtr(y.ptr)
        Tape.map(y.count) { r in for i in r { yp.p[i] = xp.p[i] * s } }
        return record(y, needsGrad: needs[x.id]) { [unowned self] g in
            let dx = Tensor(uninitialized: x.shape)
            let dp = SendablePtr(dx.ptr), gp = SendablePtr(g.ptr)
            Tape.map(dx.count) { r in for i in r { dp.p[i] = gp.p[i] * s } }
            self.accumulate(x, dx)
        }
    }

    /// Multiplies example i of a batch (first axis) by factors[i] (stochastic depth / drop path).
    public func scalePerExample(_ x: Var, _ factors: [Float]) -> Var {
        precondition(x.shape.first == factors.count,
                     "scalePerExample: \(factors.count) factors for batch of shape \(x.shape)")
        let per = x.shape.dropFirst().reduce(1, *)
        let xt = value(x), y = Tensor(uninitialized: x.shape)
        for i in 0..<y.count { y.ptr[i] = xt.ptr[i] * factors[i / max(per, 1)] }
        return record(y, needsGrad: needs[x.id]) { [unowned self] g in
            let dx = Tensor(uninitialized: x.shape)
            for i in 0..<dx.count { dx.ptr[i] = g.ptr[i] * factors[i / max(per, 1)] }
            self.accumulate(x, dx)
        }
    }

    public func reshape(_ x: Var, _ shape: [Int]) -> Var {
        let n = shape.reduce(1, *)
        precondition(n == x.shape.reduce(1, *), "reshape: \(x.shape) has \(x.shape.reduce(1, *)) elements, \(shape) needs \(n)")
        return record(value(x).reshaped(shape), needsGrad: needs[x.id]) { [unowned self] g in
            self.accumulate(x, g.reshaped(x.shape))
        }
    }

    /// Concatenation along `axis` (negative counts from the end).
    public func concat(_ xs: [Var], axis: Int) -> Var {
        precondition(!xs.isEmpty, "concat: needs at least one input")
        let rank = xs[0].shape.count
        let ax = axis < 0 ? axis + rank : axis
        precondition(ax >= 0 && ax < rank, "concat: axis \(axis) out of range for rank \(rank)")
        for v in xs {
            precondition(v.shape.count == rank && (0..<rank).allSatisfy { $0 == ax || v.shape[$0] == xs[0].shape[$0] },
                         "concat: shapes \(xs.map(\.shape)) differ outside axis \(ax)")
        }
        let outer = xs[0].shape[..<ax].reduce(1, *)
        let inner = xs[0].shape[(ax + 1)...].reduce(1, *)
        let sizes = xs.map { $0.shape[ax] * inner }
        let total = sizes.reduce(0, +)
        var shape = xs[0].shape
        shape[ax] = xs.map { $0.shape[ax] }.reduce(0, +)
        let offsets = sizes.indices.map { sizes[..<$0].reduce(0, +) }
        let y = Tensor(uninitialized: shape)
        let srcs = UncheckedBox(xs.map { UnsafePointer(value($0).ptr) }), yP = SendablePtr(y.ptr)
        // the detector's outputs: one item per image; small tensors (the joint nodes' kernels) on this thread,
        // where waking the pool would cost more than the copies
        let items = y.count < 1 << 16 ? 1 : outer, per = (outer + items - 1) / items
        Threads.parallelFor(items) { item in
            for o in (item * per)..<min(outer, (item + 1) * per) {
                for j in sizes.indices {
                    (yP.p + o * total + offsets[j]).update(from: srcs.value[j] + o * sizes[j], count: sizes[j])
                }
            }
        }
        return record(y, needsGrad: anyNeeds(xs)) { [unowned self] g in
            let parts = xs.indices.filter { self.needs[xs[$0].id] }
            let dxs = parts.map { Tensor(uninitialized: xs[$0].shape) }
            let dsts = UncheckedBox(dxs.map(\.ptr)), gP = SendablePtr(g.ptr)
            Threads.parallelFor(items) { item in
                for o in (item * per)..<min(outer, (item + 1) * per) {
                    for (k, j) in parts.enumerated() {
                        (dsts.value[k] + o * sizes[j]).update(from: gP.p + o * total + offsets[j], count: sizes[j])
                    }
                }
            }
            for (k, j) in parts.enumerated() { self.accumulate(xs[j], dxs[k]) }
        }
    }

    /// Channels `range` of x (last axis), as their own tensor.
    public func channels(_ x: Var, _ range: Range<Int>) -> Var {
        let c = x.shape.last ?? 0
        precondition(range.lowerBound >= 0 && range.upperBound <= c && !range.isEmpty,
                     "channels: range \(range) outside the \(c) channels of \(x.shape)")
        let rows = x.shape.reduce(1, *) / c, k = range.count
        var shape = x.shape
        shape[shape.count - 1] = k
        let y = Tensor(uninitialized: shape)
        let xP = UncheckedBox(UnsafePointer(value(x).ptr)), yP = SendablePtr(y.ptr)
        // (loops, not memmove: the slices of the resampling units are 4-16 floats a row, and a call per row
        // cost more than the copy)
        Threads.parallelChunks(rows, grain: 1024) { _, r in
            for i in r {
                let d = yP.p + i * k, s = xP.value + i * c + range.lowerBound
                for j in 0..<k { d[j] = s[j] }
            }
        }
        return record(y, needsGrad: needs[x.id]) { [unowned self] g in
            guard let dx = self.gradientInPlace(x) else { return }
            let gP = UncheckedBox(UnsafePointer(g.ptr)), dP = SendablePtr(dx.tensor.ptr)
            if dx.beta == 1 {
                // another slice already made x's gradient: add into this slice's channels only
                Threads.parallelChunks(rows, grain: 1024) { _, r in
                    for i in r {
                        let d = dP.p + i * c + range.lowerBound, s = gP.value + i * k
                        for j in 0..<k { d[j] += s[j] }
                    }
                }
                return
            }
            // the slice's gradient and zeros around it, written in one parallel pass
            Threads.parallelChunks(rows, grain: 1024) { _, r in
                for i in r {
                    let row = dP.p + i * c
                    row.update(repeating: 0, count: range.lowerBound)
                    (row + range.lowerBound).update(from: gP.value + i * k, count: k)
                    (row + range.upperBound).update(repeating: 0, count: c - range.upperBound)
                }
            }
        }
    }

    /// [N,H,W,C] -> [N,C].
    public func globalAvgPool(_ x: Var) -> Var {
        precondition(x.shape.count == 4, "globalAvgPool: expects NHWC, got \(x.shape)")
        let (n, hw, c) = (x.shape[0], x.shape[1] * x.shape[2], x.shape[3])
        let xt = value(x), y = Tensor(zeros: [n, c])
        let inv = 1 / Float(hw)
        for b in 0..<n {
            let yr = y.ptr + b * c
            for p in 0..<hw {
                let xr = xt.ptr + (b * hw + p) * c
                for ch in 0..<c { yr[ch] += xr[ch] }
            }
            for ch in 0..<c { yr[ch] *= inv }
        }
        return record(y, needsGrad: needs[x.id]) { [unowned self] g in
            let dx = Tensor(uninitialized: x.shape)
            for b in 0..<n {
                for p in 0..<hw {
                    let dr = dx.ptr + (b * hw + p) * c
                    for ch in 0..<c { dr[ch] = g.ptr[b * c + ch] * inv }
                }
            }
            self.accumulate(x, dx)
        }
    }

    /// 3x3 stride-2 max pool with TF "SAME" padding; padded cells never win.
    public func maxPool3x3s2(_ x: Var) -> Var {
        precondition(x.shape.count == 4, "maxPool3x3s2: expects NHWC, got \(x.shape)")
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let py = SamePadding(input: h, kernel: 3, stride: 2), px = SamePadding(input: w, kernel: 3, stride: 2)
        let (ho, wo) = (py.output, px.output)
        let xt = value(x), y = Tensor(uninitialized: [n, ho, wo, c])
        var arg = [Int32](repeating: 0, count: y.count)   // flat input index within the image
        arg.withUnsafeMutableBufferPointer { ab in
            let ap = UncheckedBox(ab.baseAddress!), xp = SendablePtr(xt.ptr), yp = SendablePtr(y.ptr)
            Threads.parallelFor(n) { b in
                let xi = xp.p + b * h * w * c
                for oy in 0..<ho {
                    for ox in 0..<wo {
                        let o = ((b * ho + oy) * wo + ox) * c
                        let y0 = max(0, oy * 2 - py.before), y1 = min(h, oy * 2 - py.before + 3)
                        let x0 = max(0, ox * 2 - px.before), x1 = min(w, ox * 2 - px.before + 3)
                        // first real cell seeds the max (padding never takes part), then compare channel rows
                        let yo = yp.p + o, ao = ap.value + o
                        let first = (y0 * w + x0) * c
                        for ch in 0..<c { yo[ch] = xi[first + ch]; ao[ch] = Int32(first + ch) }
                        for iy in y0..<y1 {
                            for ix in x0..<x1 where iy != y0 || ix != x0 {
                                let base = (iy * w + ix) * c
                                SIMDKernels.maxUpdate(xi + base, base: Int32(base), yo, ao, c)
                            }
                        }
                    }
                }
            }
        }
        return record(y, needsGrad: needs[x.id]) { [unowned self] g in
            let dx = Tensor(zeros: x.shape)
            let per = ho * wo * c
            let dp = SendablePtr(dx.ptr), gp = SendablePtr(g.ptr)
            arg.withUnsafeBufferPointer { ab in
                let ap = UncheckedBox(ab.baseAddress!)
                Threads.parallelFor(n) { b in
                    let d = dp.p + b * h * w * c
                    for i in (b * per)..<((b + 1) * per) { d[Int(ap.value[i])] += gp.p[i] }
                }
            }
            self.accumulate(x, dx)
        }
    }

    /// Nearest-neighbour upsampling by an integer factor: [N,H,W,C] -> [N,H*f,W*f,C].
    public func upsampleNearest(_ x: Var, factor f: Int) -> Var {
        precondition(x.shape.count == 4, "upsampleNearest: expects NHWC, got \(x.shape)")
        precondition(f >= 1, "upsampleNearest: factor must be >= 1, got \(f)")
        if f == 1 { return x }
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (ho, wo) = (h * f, w * f)
        let xt = value(x), y = Tensor(uninitialized: [n, ho, wo, c])
        let xp = SendablePtr(xt.ptr), yp = SendablePtr(y.ptr)
        Threads.parallelFor(n * ho) { r in
            let b = r / ho, oy = r % ho, iy = oy / f
            for ox in 0..<wo {
                (yp.p + (r * wo + ox) * c).update(from: xp.p + ((b * h + iy) * w + ox / f) * c, count: c)
            }
        }
        return record(y, needsGrad: needs[x.id]) { [unowned self] g in
            let dx = Tensor(uninitialized: x.shape)
            let dp = SendablePtr(dx.ptr), gp = SendablePtr(g.ptr)
            Threads.parallelFor(n * h) { r in
                let b = r / h, iy = r % h
                (dp.p + r * w * c).update(repeating: 0, count: w * c)   // row r of dx, zeroed by its own item
                for dy in 0..<f {
                    let oy = iy * f + dy
                    for ox in 0..<wo {
                        let d = dp.p + ((b * h + iy) * w + ox / f) * c
                        let s = gp.p + ((b * ho + oy) * wo + ox) * c
                        for ch in 0..<c { d[ch] += s[ch] }
                    }
                }
            }
            self.accumulate(x, dx)
        }
    }
}

@inline(__always)
func stableSigmoid(_ x: Float) -> Float {
    if x >= 0 { return 1 / (1 + expf(-x)) }
    let e = expf(x)
    return e / (1 + e)
}

/// log(1 + exp(x)) without overflow.
@inline(__always)
func softplus(_ x: Float) -> Float { max(x, 0) + log1pf(expf(-abs(x))) }
