import Foundation

/// Throughput measurements for `spinebench bench`: sgemm at given sizes and each op's forward/backward.
public enum Benchmark {
    /// Wall-clock seconds of body, median over `repeats` runs after one warm-up.
    public static func time(repeats: Int, _ body: () -> Void) -> Double {
        body()
        var ts = [Double]()
        for _ in 0..<max(1, repeats) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            body()
            ts.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        ts.sort()
        return ts[ts.count / 2]
    }

    public struct GemmResult: Sendable {
        public let label: String, m: Int, n: Int, k: Int, transA: Bool, transB: Bool
        public let seconds: Double
        public var gflops: Double { 2 * Double(m) * Double(n) * Double(k) / seconds / 1e9 }
    }

    /// C[m,n] = op(A) op(B) with A [m,k] (or [k,m] when transA), B [k,n] (or [n,k] when transB), random data.
    public static func sgemm(_ label: String, m: Int, n: Int, k: Int, transA: Bool = false, transB: Bool = false,
                             repeats: Int = 5) -> GemmResult {
        var rng = RNG(seed: 1)
        let a = Initializer.normal(sigma: 1).make(shape: [m * k], rng: &rng)
        let b = Initializer.normal(sigma: 1).make(shape: [k * n], rng: &rng)
        let c = Tensor(zeros: [m * n])
        let s = time(repeats: repeats) {
            Engine.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, a.ptr, lda: transA ? m : k,
                         b.ptr, ldb: transB ? k : n, c.ptr, ldc: n)
        }
        return GemmResult(label: label, m: m, n: n, k: k, transA: transA, transB: transB, seconds: s)
    }

    public struct OpResult: Sendable {
        public let label: String
        public let forwardSeconds: Double, backwardSeconds: Double
        /// Multiply-add FLOPs (2 per MAC) of forward and backward, nil for memory-bound ops.
        public let forwardFlops: Double?, backwardFlops: Double?
        /// Bytes read + written by the forward (input + output), for memory-bound ops.
        public let bytes: Double
    }

    /// Times one op's forward (a fresh tape each run) and its backward (seeded with a random gradient).
    public static func op(_ label: String, input shape: [Int], repeats: Int = 5, forwardFlops: Double? = nil,
                          backwardFlops: Double? = nil, _ build: @escaping (Tape, Var) -> Var) -> OpResult {
        var rng = RNG(seed: 2)
        let x = Parameter(name: "x", value: Initializer.normal(sigma: 1).make(shape: shape, rng: &rng), decays: false)
        let probe = Tape(training: true)
        let outShape = build(probe, probe.param(x)).shape
        let seed = Initializer.normal(sigma: 1).make(shape: outShape, rng: &rng)
        let fwd = time(repeats: repeats) {
            let t = Tape(training: true)
            _ = build(t, t.param(x))
        }
        // backward alone: build outside the timed region each run
        var bwdTimes = [Double]()
        for i in 0...max(1, repeats) {
            let t = Tape(training: true)
            let y = build(t, t.param(x))
            let t0 = DispatchTime.now().uptimeNanoseconds
            t.backward(y, seed: seed)
            if i > 0 { bwdTimes.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9) }
        }
        bwdTimes.sort()
        let bytes = Double(shape.reduce(1, *) + outShape.reduce(1, *)) * 4
        return OpResult(label: label, forwardSeconds: fwd, backwardSeconds: bwdTimes[bwdTimes.count / 2],
                        forwardFlops: forwardFlops, backwardFlops: backwardFlops, bytes: bytes)
    }

    /// A conv layer benchmark: input [n,h,w,cin], weight [k,k,cin,cout], stride s (weight gets a gradient too).
    public static func conv(_ label: String, n: Int, h: Int, w: Int, cin: Int, cout: Int, k: Int, stride: Int,
                            repeats: Int = 5) -> OpResult {
        var rng = RNG(seed: 3)
        let weight = Parameter(name: "w", value: Initializer.varianceScaling().make(shape: [k, k, cin, cout], rng: &rng),
                               decays: true)
        let ho = (h + stride - 1) / stride, wo = (w + stride - 1) / stride
        let macs = Double(n * ho * wo * cout * k * k * cin)
        return op(label, input: [n, h, w, cin], repeats: repeats, forwardFlops: 2 * macs, backwardFlops: 4 * macs) { t, x in
            t.conv2d(x, t.param(weight), bias: nil, stride: stride)
        }
    }

    /// The standard op set at batch n on h x w x c maps (32x32x64 by default).
    public static func standardOps(n: Int = 16, h: Int = 32, w: Int = 32, c: Int = 64, repeats: Int = 5,
                                   only: String? = nil) -> [OpResult] {
        let bn = BatchNorm(name: "bn", channels: c)
        let all: [(String, (String) -> OpResult)] = [
            ("conv 1x1 s1 \(c)->\(c)", { conv($0, n: n, h: h, w: w, cin: c, cout: c, k: 1, stride: 1, repeats: repeats) }),
            ("conv 1x1 s1 \(c)->\(4 * c)", { conv($0, n: n, h: h, w: w, cin: c, cout: 4 * c, k: 1, stride: 1, repeats: repeats) }),
            ("conv 3x3 s1 \(c)->\(c)", { conv($0, n: n, h: h, w: w, cin: c, cout: c, k: 3, stride: 1, repeats: repeats) }),
            ("conv 3x3 s2 \(c)->\(c)", { conv($0, n: n, h: 2 * h, w: 2 * w, cin: c, cout: c, k: 3, stride: 2, repeats: repeats) }),
            ("conv 7x7 s2 3->\(c) (stem)", { conv($0, n: n, h: 2 * h, w: 2 * w, cin: 3, cout: c, k: 7, stride: 2, repeats: repeats) }),
            ("batchNorm (train)", { op($0, input: [n, h, w, c], repeats: repeats) { t, x in t.batchNorm(x, bn) } }),
            ("relu", { op($0, input: [n, h, w, c], repeats: repeats) { t, x in t.relu(x) } }),
            ("maxPool 3x3 s2", { op($0, input: [n, 2 * h, 2 * w, c], repeats: repeats) { t, x in t.maxPool3x3s2(x) } }),
            ("upsample x2", { op($0, input: [n, h / 2, w / 2, c], repeats: repeats) { t, x in t.upsampleNearest(x, factor: 2) } }),
            ("add (2 inputs)", { op($0, input: [n, h, w, c], repeats: repeats) { t, x in t.add(x, x) } }),
        ]
        return all.filter { only == nil || $0.0.contains(only!) }.map { $0.1($0.0) }
    }
}
