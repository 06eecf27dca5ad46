extension Tape {
    /// Keeps the top-left `height` x `width` window of an NHWC tensor. Upsampling a level of size
    /// ceil(n/2^l) by 2^k can overshoot the finer level's ceil size on odd inputs; this trims it back.
    public func cropTopLeft(_ x: Var, height: Int, width: Int) -> Var {
        precondition(x.shape.count == 4, "cropTopLeft: expects NHWC, got \(x.shape)")
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        precondition(height <= h && width <= w && height > 0 && width > 0,
                     "cropTopLeft: window \(height)x\(width) does not fit in \(h)x\(w)")
        if height == h && width == w { return x }
        let xt = value(x), y = Tensor(uninitialized: [n, height, width, c])
        let xp = SendablePtr(xt.ptr), yp = SendablePtr(y.ptr)
        Threads.parallelFor(n * height) { r in
            let b = r / height, row = r % height
            (yp.p + r * width * c).update(from: xp.p + (b * h + row) * w * c, count: width * c)
        }
        return record(y, needsGrad: needs[x.id]) { [unowned self] g in
            let dx = Tensor(zeros: x.shape)
            let dp = SendablePtr(dx.ptr), gp = SendablePtr(g.ptr)
            Threads.parallelFor(n * height) { r in
                let b = r / height, row = r % height
                (dp.p + (b * h + row) * w * c).update(from: gp.p + r * width * c, count: width * c)
            }
            self.accumulate(x, dx)
        }
    }
}
