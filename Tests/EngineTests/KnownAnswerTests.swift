import XCTest
@testable import Engine

/// Forward results worked out by hand.
final class KnownAnswerTests: XCTestCase {
    /// Single-channel conv with a one-hot 3x3 (or kxk) kernel: picks one input offset per output.
    func conv(_ h: Int, _ w: Int, k: Int, stride: Int, hot: (Int, Int)) -> [Float] {
        let x = Tensor(shape: [1, h, w, 1], data: (0..<(h * w)).map(Float.init))
        let wt = Tensor(zeros: [k, k, 1, 1])
        wt.ptr[hot.0 * k + hot.1] = 1
        let t = Tape(training: false)
        return t.value(t.conv2d(t.input(x), t.input(wt), bias: nil, stride: stride)).data
    }

    func testSamePaddingGeometry() {
        XCTAssertEqual(SamePadding(input: 4, kernel: 3, stride: 2), SamePadding(input: 4, kernel: 3, stride: 2))
        let even = SamePadding(input: 4, kernel: 3, stride: 2)
        XCTAssertEqual([even.output, even.before], [2, 0])       // total 1: all at the bottom
        let odd = SamePadding(input: 5, kernel: 3, stride: 2)
        XCTAssertEqual([odd.output, odd.before], [3, 1])         // total 2: one each side
        let stem = SamePadding(input: 8, kernel: 7, stride: 2)
        XCTAssertEqual([stem.output, stem.before], [4, 2])       // total 5: 2 top, 3 bottom
        let one = SamePadding(input: 4, kernel: 1, stride: 2)
        XCTAssertEqual([one.output, one.before], [2, 0])
    }

    func testConvStride2SameOffsetsEvenInput() {
        // x[i,j] = 4i + j on 4x4; windows start at rows/cols 0 and 2, the pad row/col is at bottom/right.
        XCTAssertEqual(conv(4, 4, k: 3, stride: 2, hot: (1, 1)), [5, 7, 13, 15])
        XCTAssertEqual(conv(4, 4, k: 3, stride: 2, hot: (0, 0)), [0, 2, 8, 10])
        XCTAssertEqual(conv(4, 4, k: 3, stride: 2, hot: (2, 2)), [10, 0, 0, 0])
        XCTAssertEqual(conv(4, 4, k: 1, stride: 2, hot: (0, 0)), [0, 2, 8, 10])
    }

    func testConvStride2SameOffsetsOddInput() {
        // x[i,j] = 5i + j on 5x5; pad one each side, windows centred on 0, 2, 4.
        XCTAssertEqual(conv(5, 5, k: 3, stride: 2, hot: (1, 1)), [0, 2, 4, 10, 12, 14, 20, 22, 24])
        XCTAssertEqual(conv(5, 5, k: 3, stride: 2, hot: (0, 0)), [0, 0, 0, 0, 6, 8, 0, 16, 18])
        XCTAssertEqual(conv(5, 5, k: 1, stride: 2, hot: (0, 0)), [0, 2, 4, 10, 12, 14, 20, 22, 24])
    }

    func testConv7x7Stride2Stem() {
        // 8x8: pad 2 top, 3 bottom; centre tap reads rows 1,3,5,7.
        let y = conv(8, 8, k: 7, stride: 2, hot: (3, 3))
        XCTAssertEqual(y, [1, 3, 5, 7].flatMap { r in [1, 3, 5, 7].map { Float(8 * r + $0) } })
    }

    func testConvStride1IsIdentityWithCentreTapAndSumsChannels() {
        XCTAssertEqual(conv(3, 5, k: 3, stride: 1, hot: (1, 1)), (0..<15).map(Float.init))
        // two input channels, all-ones 1x1 weights to two outputs, plus bias
        let x = Tensor(shape: [1, 1, 2, 2], data: [1, 2, 3, 4])
        let w = Tensor(shape: [1, 1, 2, 2], data: [1, 10, 1, 100])
        let b = Tensor(shape: [2], data: [0.5, -1])
        let t = Tape(training: false)
        let y = t.value(t.conv2d(t.input(x), t.input(w), bias: t.input(b), stride: 1))
        XCTAssertEqual(y.data, [3.5, 209, 7.5, 429])
    }

    func testMaxPoolSmallGrid() {
        let grid: [Float] = [1, 5, 2, 0,
                             3, 4, 9, 1,
                             7, 0, 6, 8,
                             2, 11, 1, 3]
        let t = Tape(training: false)
        let y = t.value(t.maxPool3x3s2(t.input(Tensor(shape: [1, 4, 4, 1], data: grid))))
        XCTAssertEqual(y.shape, [1, 2, 2, 1])
        XCTAssertEqual(y.data, [9, 9, 11, 8])
        // all negative: the zero padding must never win
        let t2 = Tape(training: false)
        let y2 = t2.value(t2.maxPool3x3s2(t2.input(Tensor(shape: [1, 4, 4, 1], data: grid.map { -$0 - 1 }))))
        XCTAssertEqual(y2.data, [-1, -1, -1, -2])
    }

    /// Vector path (8 channels at a time plus a tail) against a plain reference, odd and even sizes.
    func testMaxPoolMatchesReferenceManyChannels() {
        var rng = RNG(seed: 3)
        for (h, w) in [(7, 5), (8, 6), (9, 9)] {
            let c = 19
            let x = GradCheck.spacedTensor([2, h, w, c], &rng, gap: 0.01)
            let t = Tape(training: false)
            let y = t.value(t.maxPool3x3s2(t.input(x)))
            let ho = (h + 1) / 2, wo = (w + 1) / 2
            let pt = max((ho - 1) * 2 + 3 - h, 0) / 2, pl = max((wo - 1) * 2 + 3 - w, 0) / 2
            XCTAssertEqual(y.shape, [2, ho, wo, c])
            for b in 0..<2 { for oy in 0..<ho { for ox in 0..<wo { for ch in 0..<c {
                var best = -Float.infinity
                for dy in 0..<3 { for dx in 0..<3 {
                    let iy = oy * 2 - pt + dy, ix = ox * 2 - pl + dx
                    if iy >= 0 && iy < h && ix >= 0 && ix < w { best = max(best, x.ptr[((b * h + iy) * w + ix) * c + ch]) }
                } }
                XCTAssertEqual(y.ptr[((b * ho + oy) * wo + ox) * c + ch], best)
            } } } }
        }
        GradCheck.check("maxPool 19 channels", inputs: [GradCheck.spacedTensor([1, 7, 5, 19], &rng)]) { t, v in t.maxPool3x3s2(v[0]) }
    }

    func testMaxPoolGradientGoesToWinner() {
        let t = Tape(training: true)
        let p = Parameter(name: "x", value: Tensor(shape: [1, 4, 4, 1], data: [1, 5, 2, 0, 3, 4, 9, 1, 7, 0, 6, 8, 2, 11, 1, 3]), decays: false)
        let y = t.maxPool3x3s2(t.param(p))
        t.backward(t.sum(y))
        // 9 wins two windows
        XCTAssertEqual(p.grad.data, [0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1, 0, 1, 0, 0])
    }

    func testUpsampleAndGlobalPool() {
        let t = Tape(training: false)
        let x = t.input(Tensor(shape: [1, 2, 2, 1], data: [1, 2, 3, 4]))
        XCTAssertEqual(t.value(t.upsampleNearest(x, factor: 2)).data,
                       [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4])
        XCTAssertEqual(t.value(t.globalAvgPool(x)).data, [2.5])
        let c = t.value(t.concat([x, t.scale(x, 10)], axis: 3))
        XCTAssertEqual(c.shape, [1, 2, 2, 2])
        XCTAssertEqual(c.data, [1, 10, 2, 20, 3, 30, 4, 40])
    }

    func testBatchNormRunningAverageUpdate() {
        let bn = BatchNorm(name: "bn", channels: 2)
        // channel 0: 1,2,3,4 (mean 2.5, biased var 1.25, unbiased 5/3); channel 1: all 7
        let x = Tensor(shape: [2, 1, 2, 2], data: [1, 7, 2, 7, 3, 7, 4, 7])
        let t = Tape(training: true)
        let y = t.value(bn(t.input(x), on: t))
        XCTAssertEqual(bn.runningMean.data[0], 0.025, accuracy: 1e-6)
        XCTAssertEqual(bn.runningMean.data[1], 0.07, accuracy: 1e-6)
        XCTAssertEqual(bn.runningVar.data[0], 0.99 + 0.01 * 5 / 3, accuracy: 1e-6)
        XCTAssertEqual(bn.runningVar.data[1], 0.99, accuracy: 1e-6)
        let s = 1 / (1.25 + 1e-3 as Float).squareRoot()
        for (i, v) in [1, 2, 3, 4].enumerated() {
            XCTAssertEqual(y.ptr[2 * i], (Float(v) - 2.5) * s, accuracy: 1e-5)
            XCTAssertEqual(y.ptr[2 * i + 1], 0, accuracy: 1e-6)
        }
        // inference uses the running statistics
        bn.gamma.value.data = [2, 1]
        bn.beta.value.data = [0.5, 0]
        let ti = Tape(training: false)
        let yi = ti.value(bn(ti.input(x), on: ti))
        let rv0 = bn.runningVar.data[0]
        XCTAssertEqual(yi.ptr[0], 2 * (1 - 0.025) / (rv0 + 1e-3).squareRoot() + 0.5, accuracy: 1e-5)
        XCTAssertEqual(yi.ptr[1], (7 - 0.07) / (0.99 + 1e-3 as Float).squareRoot(), accuracy: 1e-5)
        XCTAssertEqual(bn.runningMean.data[0], 0.025, accuracy: 1e-7, "inference must not update running stats")
    }

    func testLossValues() {
        let t = Tape(training: false)
        let z = t.input(Tensor(shape: [4], data: [0, 0, 100, -100]))
        let focal = t.value(t.sigmoidFocalLoss(z, targets: Tensor(shape: [4], data: [1, 0, 0, 1]),
                                               weights: Tensor(shape: [4], data: [1, 1, 1, 1]),
                                               alpha: 0.25, gamma: 2, normalizer: 2)).scalar
        let ln2 = Float(log(2.0))
        XCTAssertEqual(focal, (0.25 * 0.25 * ln2 + 0.75 * 0.25 * ln2 + 0.75 * 100 + 0.25 * 100) / 2, accuracy: 1e-3)
        let ignored = t.value(t.sigmoidFocalLoss(z, targets: Tensor(shape: [4], data: [1, 0, 0, 1]),
                                                 weights: Tensor(shape: [4], data: [1, 1, 0, 0]),
                                                 alpha: 0.25, gamma: 2, normalizer: 1)).scalar
        XCTAssertEqual(ignored, 0.25 * 0.25 * ln2 + 0.75 * 0.25 * ln2, accuracy: 1e-6)
        let p = t.input(Tensor(shape: [3], data: [0, 2, -0.5]))
        let huber = t.value(t.huberLoss(p, targets: Tensor(zeros: [3]), weights: Tensor(shape: [3], data: [1, 1, 2]),
                                        delta: 1, normalizer: 2)).scalar
        XCTAssertEqual(huber, 0.875, accuracy: 1e-6)
        let ce = t.value(t.softmaxCrossEntropy(t.input(Tensor(shape: [2, 2], data: [0, 0, 1000, 0])), labels: [0, 1])).scalar
        XCTAssertEqual(ce, (ln2 + 1000) / 2, accuracy: 1e-3)
        // Label smoothing 0.2 over K = 4: targets 0.85 / 0.05; equal logits give log 4 whatever the smoothing, and
        // logits (2, 0, 0, 0) with label 0 give -(0.85 log p0 + 3 x 0.05 log p1), p0 = e^2 / (e^2 + 3).
        let even = t.value(t.softmaxCrossEntropy(t.input(Tensor(zeros: [1, 4])), labels: [2], labelSmoothing: 0.2)).scalar
        XCTAssertEqual(even, Float(log(4.0)), accuracy: 1e-5)
        let e2 = exp(2.0), p0 = e2 / (e2 + 3), p1 = 1 / (e2 + 3)
        let smoothed = t.value(t.softmaxCrossEntropy(t.input(Tensor(shape: [1, 4], data: [2, 0, 0, 0])), labels: [0],
                                                     labelSmoothing: 0.2)).scalar
        XCTAssertEqual(smoothed, Float(-(0.85 * log(p0) + 0.15 * log(p1))), accuracy: 1e-5)
    }

    /// An image with no anchors/boxes gives empty loss inputs: the loss is 0 and backward still runs.
    func testEmptyInputs() {
        let p = Parameter(name: "boxes", value: Tensor(zeros: [0, 4]), decays: false)
        let t = Tape(training: true)
        let v = t.param(p)
        let l = t.add(t.huberLoss(v, targets: Tensor(zeros: [0, 4]), weights: Tensor(zeros: [0, 4]), delta: 0.1, normalizer: 1),
                      t.sigmoidFocalLoss(v, targets: Tensor(zeros: [0, 4]), weights: Tensor(zeros: [0, 4]),
                                         alpha: 0.25, gamma: 2, normalizer: 1))
        XCTAssertEqual(t.value(l).scalar, 0)
        t.backward(l)
        XCTAssertEqual(p.grad.shape, [0, 4])
        let e = Tensor(zeros: [0])
        e.data = []
        XCTAssertEqual(e.data, [])
        let ct = Tape(training: false)
        let y = ct.conv2d(ct.input(Tensor(zeros: [0, 5, 5, 2])), ct.input(Tensor(zeros: [3, 3, 2, 4])), stride: 2)
        XCTAssertEqual(y.shape, [0, 3, 3, 4])
    }

    /// Backward takes a zeroed gradient's first tensor as the gradient (`gradIsZero`): a second backward must
    /// still add into it, a step must restart it, and a gradient set by hand must be added to, not replaced.
    func testParameterGradientsAccumulateAcrossBackwards() {
        let p = Parameter(name: "p", value: Tensor(shape: [3], data: [1, 2, 3]), decays: false)
        let opt = SGD(parameters: [p], momentum: 0, weightDecay: 0)
        func backward() {
            let tape = Tape(training: true)
            tape.backward(tape.sum(tape.scale(tape.param(p), 2)))
        }
        backward()
        XCTAssertEqual(p.grad.data, [2, 2, 2])
        backward()
        XCTAssertEqual(p.grad.data, [4, 4, 4], "a second backward adds")
        opt.step(learningRate: 0)
        backward()
        XCTAssertEqual(p.grad.data, [2, 2, 2], "a step restarts the gradient")
        opt.zeroGrad()
        p.grad.data = [1, 1, 1]
        p.gradIsZero = false
        backward()
        XCTAssertEqual(p.grad.data, [3, 3, 3])
    }

    func testSGDMomentumWeightDecayAndClipping() {
        let w = Parameter(name: "w", value: Tensor(shape: [1], data: [1]), decays: true)
        let b = Parameter(name: "b", value: Tensor(shape: [1], data: [1]), decays: false)
        let opt = SGD(parameters: [w, b], momentum: 0.9, weightDecay: 0.1, clipNorm: nil)
        for _ in 0..<2 {
            opt.zeroGrad()
            w.grad.data = [0.5]; b.grad.data = [0.5]
            opt.step(learningRate: 0.1)
        }
        XCTAssertEqual(w.value.data[0], 0.8266, accuracy: 1e-6)      // g1 = 0.6, g2 = 0.594
        XCTAssertEqual(b.value.data[0], 1 - 0.05 - 0.095, accuracy: 1e-6)
        XCTAssertEqual(opt.stepCount, 2)
        XCTAssertEqual(opt.state[0].data[0], 1.134, accuracy: 1e-6)

        let c = Parameter(name: "c", value: Tensor(zeros: [2]), decays: true)
        let clip = SGD(parameters: [c], weightDecay: 0, clipNorm: 1)
        c.grad.data = [3, 4]
        XCTAssertEqual(clip.step(learningRate: 1), 5, accuracy: 1e-6)
        XCTAssertEqual(c.value.data[0], -0.6, accuracy: 1e-6)
        XCTAssertEqual(c.grad.data, [0, 0], "a step leaves the gradients zero")
        XCTAssertEqual(w.grad.data + b.grad.data, [0, 0], "a step leaves the gradients zero")
        // a parameter longer than one 8-lane vector, with and without clipping (|g| = sqrt(13): factor 0.5)
        for clipNorm: Float? in [nil, 0.5 * Float(13).squareRoot()] {
            let g = (0..<19).map { Float($0 % 3) - 1 }, w0 = (0..<19).map { Float($0) * 0.1 }
            let p = Parameter(name: "p", value: Tensor(shape: [19], data: w0), decays: true)
            let opt = SGD(parameters: [p], momentum: 0.5, weightDecay: 0, clipNorm: clipNorm)
            opt.state[0].data = (0..<19).map { Float($0) * 0.01 }
            p.grad.data = g
            let norm = opt.step(learningRate: 0.2)
            XCTAssertEqual(norm, Float(13).squareRoot(), accuracy: 1e-6)
            let factor: Float = clipNorm == nil ? 1 : 0.5
            for j in 0..<19 {
                let v = 0.5 * Float(j) * 0.01 + factor * g[j]
                XCTAssertEqual(opt.state[0].data[j], v, accuracy: 1e-6, "momentum \(j), clip \(String(describing: clipNorm))")
                XCTAssertEqual(p.value.data[j], w0[j] - 0.2 * v, accuracy: 1e-6, "weight \(j)")
                XCTAssertEqual(p.grad.data[j], 0, "gradient \(j)")
            }
        }
        XCTAssertEqual(c.value.data[1], -0.8, accuracy: 1e-6)
    }

    func testLearningRateSchedule() {
        let s = LearningRateSchedule(base: 1, warmupSteps: 10, totalSteps: 100)
        XCTAssertEqual(s.rate(at: 0), 0.1, accuracy: 1e-6)
        XCTAssertEqual(s.rate(at: 5), 0.55, accuracy: 1e-6)
        XCTAssertEqual(s.rate(at: 10), 1, accuracy: 1e-6)
        XCTAssertEqual(s.rate(at: 74), 1, accuracy: 1e-6)
        XCTAssertEqual(s.rate(at: 75), 0.1, accuracy: 1e-6)
        XCTAssertEqual(s.rate(at: 89), 0.1, accuracy: 1e-6)
        XCTAssertEqual(s.rate(at: 90), 0.01, accuracy: 1e-7)
        XCTAssertEqual(s.boundaries, [75, 90])
    }
}
