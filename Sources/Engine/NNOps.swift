import Foundation

/// Convolution and dense ops.
extension Tape {
    /// 2-D convolution, NHWC input, HWIO weight [k,k,cin,cout], TF "SAME" padding, stride 1 or 2.
    public func conv2d(_ x: Var, _ w: Var, bias: Var? = nil, stride: Int = 1) -> Var {
        conv2d(x, w, bias: bias, stride: stride, eachBlock: nil)
    }

    /// conv2d with a look at each block of output rows while it is in cache (see `ConvKernels.forward`).
    func conv2d(_ x: Var, _ w: Var, bias: Var?, stride: Int,
                eachBlock: ((Range<Int>, UnsafeMutablePointer<Float>) -> Void)?) -> Var {
        let g = ConvGeometry(x: x.shape, w: w.shape, stride: stride)
        if let bias { precondition(bias.shape == [g.cout], "conv2d: bias shape \(bias.shape), expected [\(g.cout)]") }
        let y = Tensor(uninitialized: [g.n, g.ho, g.wo, g.cout])
        ConvKernels.forward(g, x: value(x).ptr, w: value(w).ptr, bias: bias.map { value($0).ptr }, y: y.ptr,
                            eachBlock: eachBlock)
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
}
