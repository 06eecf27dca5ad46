import Foundation
import XCTest
@testable import Engine

/// The speed-oriented kernels against the plain code they replace.
final class FastKernelTests: XCTestCase {
    func testSIMDExpAndLog1pMatchLibm() {
        var worstExp: Float = 0, worstLog: Float = 0
        for i in 0..<4000 {
            let x = -Float(i) * 0.02                       // 0 ... -80
            let e = SIMDMath.expNonPositive(SIMD8(repeating: x))[3]
            worstExp = max(worstExp, abs(e - expf(x)) / expf(x))
            let u = Float(i) / 3999                         // 0 ... 1
            let l = SIMDMath.log1pUnit(SIMD8(repeating: u))[5]
            if u > 0 { worstLog = max(worstLog, abs(l - log1pf(u)) / log1pf(u)) } else { XCTAssertEqual(l, 0) }
        }
        XCTAssertLessThan(worstExp, 4e-7, "exp relative error")
        var worstSqrt: Float = 0
        for i in 0..<4000 {
            let x = Float(i) / 3999 * pow(10, Float(i % 9) - 6)
            let r = SIMDMath.sqrt(SIMD8(repeating: x))[2]
            if x > 0 { worstSqrt = max(worstSqrt, abs(r - x.squareRoot()) / x.squareRoot()) } else { XCTAssertEqual(r, 0) }
        }
        XCTAssertLessThan(worstSqrt, 4e-7, "sqrt relative error")
        XCTAssertLessThan(worstLog, 4e-7, "log1p relative error")
        XCTAssertEqual(SIMDMath.log1pUnit(SIMD8(repeating: 1e-12))[0], 1e-12, accuracy: 1e-18)   // no cancellation
    }

    /// Loss and gradient of the 8-lane focal kernel equal the scalar reference, including the scalar tail
    /// (37 entries), zero weights and saturated logits.
    func testFocalKernelMatchesScalarTerm() {
        var rng = RNG(seed: 5)
        let n = 37
        var x = (0..<n).map { _ in 4 * rng.normal() }
        x[3] = 40; x[4] = -40; x[5] = 0
        let t = (0..<n).map { Float($0 % 4 == 0 ? 1 : 0) }
        let w = (0..<n).map { Float($0 % 7 == 6 ? 0 : 1) }
        for gamma: Float in [0, 1, 1.5, 2, 2.5] {   // fast paths and the general exp path
            var grad = [Float](repeating: .nan, count: n)
            let loss = grad.withUnsafeMutableBufferPointer { g in
                FocalKernel.run(x, t, w, g.baseAddress!, 0..<n, alpha: 0.25, gamma: gamma, gradScale: 0.5)
            }
            var want = 0.0
            for i in 0..<n {
                let (l, d) = focalTerm(x[i], positive: t[i] == 1, alpha: 0.25, gamma: gamma)
                want += Double(w[i] * l)
                XCTAssertEqual(grad[i], w[i] * d * 0.5, accuracy: 1e-6 + 1e-5 * abs(d), "gradient \(i) gamma \(gamma)")
            }
            XCTAssertEqual(loss, want, accuracy: 1e-5 * abs(want), "loss gamma \(gamma)")
        }
    }

    /// Fused batchNorm+relu gives the values and gradients of batchNorm then relu, training and inference.
    func testFusedBatchNormReluMatchesSeparateOps() {
        var rng = RNG(seed: 6)
        let x = GradCheck.randomTensor([2, 5, 4, 7], &rng, scale: 2)
        let seed = GradCheck.randomTensor([2, 5, 4, 7], &rng)
        for training in [true, false] {
            var results: [[Float]] = []
            for fused in [false, true] {
                let bn = BatchNorm(name: "bn", channels: 7)
                bn.gamma.value.data = (0..<7).map { Float($0) * 0.3 - 0.5 }
                bn.beta.value.data = (0..<7).map { Float($0) * 0.2 - 0.6 }
                let px = Parameter(name: "x", value: x.copy(), decays: false)
                let tape = Tape(training: training)
                let y = fused ? tape.batchNorm(tape.param(px), bn, activation: .relu)
                              : tape.relu(tape.batchNorm(tape.param(px), bn))
                let out = tape.value(y).data
                tape.backward(y, seed: seed)
                results.append(out + px.grad.data + bn.gamma.grad.data + bn.beta.grad.data + bn.runningMean.data + bn.runningVar.data)
            }
            for (a, b) in zip(results[0], results[1]) { XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(a)), "training \(training)") }
        }
    }
}

extension FastKernelTests {
    /// Fused add+relu (2 and 3 inputs, one input used twice) gives the values and gradients of add then relu.
    func testFusedAddReluMatchesSeparateOps() {
        var rng = RNG(seed: 8)
        let a = GradCheck.spacedTensor([2, 3, 4, 5], &rng), b = GradCheck.randomTensor([2, 3, 4, 5], &rng)
        let seed = GradCheck.randomTensor([2, 3, 4, 5], &rng)
        for pick in [[0, 1], [0, 1, 0]] {
            var results: [[Float]] = []
            for fused in [false, true] {
                let ps = [a, b].enumerated().map { Parameter(name: "in\($0.offset)", value: $0.element.copy(), decays: false) }
                let t = Tape(training: true)
                let vs = ps.map { t.param($0) }, xs = pick.map { vs[$0] }
                let y = fused ? t.add(xs, activation: .relu) : t.relu(t.add(xs))
                let out = t.value(y).data
                t.backward(y, seed: seed)
                results.append(out + ps[0].grad.data + ps[1].grad.data)
            }
            XCTAssertEqual(results[0], results[1], "inputs \(pick)")
        }
        // sums of two spaced tensors sit on multiples of 0.1; the shift keeps them 0.025 away from the kink
        let c = GradCheck.spacedTensor([2, 3, 4, 5], &rng)
        for i in 0..<c.count { c[i] += 0.025 }
        GradCheck.check("add+relu", inputs: [a, c], h: 1e-3) { t, v in
            t.add([v[0], v[1]], activation: .relu)
        }
    }
}

extension FastKernelTests {
    /// The lane-pattern batch-norm loops against plain per-channel loops in Double, for channel counts that
    /// divide 8, are multiples of 8 or neither, over several chunks and a ragged last one.
    func testBatchNormKernelsMatchPlainLoops() {
        var rng = RNG(seed: 12)
        for c in [1, 3, 4, 8, 12, 16, 40] {
            let rows = 333
            let x = GradCheck.randomTensor([rows, c], &rng, scale: 2), dy = GradCheck.randomTensor([rows, c], &rng)
            let mask = GradCheck.randomTensor([rows, c], &rng)
            let a = (0..<c).map { Float($0) * 0.1 - 0.3 }, b = (0..<c).map { 0.2 - Float($0) * 0.05 }
            var mean = [Double](repeating: 0, count: c), m2 = mean
            for r in 0..<rows { for j in 0..<c { mean[j] += Double(x.data[r * c + j]) / Double(rows) } }
            for r in 0..<rows { for j in 0..<c { let d = Double(x.data[r * c + j]) - mean[j]; m2[j] += d * d } }
            let (gotMean, gotM2) = BatchNormKernels.moments(x.ptr, rows: rows, channels: c)
            for j in 0..<c {
                XCTAssertEqual(gotMean[j], mean[j], accuracy: 1e-5, "mean c=\(c)")
                XCTAssertEqual(gotM2[j], m2[j], accuracy: 1e-4 * m2[j], "m2 c=\(c)")
            }
            for relu in [false, true] {
                let y = Tensor(uninitialized: [rows, c])
                BatchNormKernels.normalize(x.ptr, y.ptr, rows: rows, channels: c, a, b, relu: relu)
                for e in 0..<(rows * c) {
                    let v = x.data[e] * a[e % c] + b[e % c]
                    XCTAssertEqual(y.data[e], relu ? max(v, 0) : v, accuracy: 1e-6, "normalize c=\(c) at \(e)")
                }
            }
            let fm = mean.map(Float.init), invstd = (0..<c).map { Float(0.5 + Double($0) * 0.1) }
            let k0 = (0..<c).map { Float($0) * 0.07 + 0.4 }, k1 = (0..<c).map { Float($0) * 0.02 - 0.1 }, k2 = invstd
            // a gate on an output masks dy in place; one on the input (x*a + b, here positive for about half of
            // the entries) leaves dy alone, and the input gradient applies it again
            for byInput in [false, true] {
                let passed = { (e: Int) -> Bool in byInput ? x.data[e] * a[e % c] + b[e % c] > 0 : mask.data[e] > 0 }
                let g = dy.copy()
                let sums = BatchNormKernels.gradSums(x.ptr, g.ptr, gate: byInput ? .input(a: a, b: b) : .output(mask),
                                                     rows: rows, channels: c, fm, invstd)
                var want = [Double](repeating: 0, count: 2 * c)
                for e in 0..<(rows * c) {
                    let j = e % c, d = passed(e) ? Double(dy.data[e]) : 0
                    XCTAssertEqual(g.data[e], byInput ? dy.data[e] : Float(d), "dy after gradSums c=\(c) at \(e)")
                    want[j] += d
                    want[c + j] += d * (Double(x.data[e]) - Double(fm[j])) * Double(invstd[j])
                }
                for j in 0..<(2 * c) { XCTAssertEqual(sums[j], want[j], accuracy: 1e-4 * max(1, abs(want[j])), "sums c=\(c)") }
                BatchNormKernels.inputGrad(x.ptr, g.ptr, rows: rows, channels: c, mean: fm, k0: k0, k1: k1, k2: k2,
                                           gate: byInput ? (a, b) : nil)
                for e in 0..<(rows * c) {
                    let j = e % c, d: Float = passed(e) ? dy.data[e] : 0
                    XCTAssertEqual(g.data[e], k0[j] * (d - k1[j] - (x.data[e] - fm[j]) * k2[j]), accuracy: 1e-5,
                                   "inputGrad c=\(c) at \(e)")
                }
            }
        }
    }
}

extension FastKernelTests {
    /// The fused pointwise conv + batch norm (+ residual sum, + ReLU) gives the values, gradients and running
    /// statistics of conv2d, batchNorm and add, over several row blocks and a ragged last one, for channel
    /// counts on and off the 8-lane pattern; also with x read again after the unit (its gradient already made
    /// when the unit's backward adds into it). The last two shapes widen over enough rows to take the backward
    /// without z (`wideningBackward`, all but ReLU without a sum), on nonnegative inputs as after a ReLU, so the
    /// channels' means are not small against their spread.
    func testConv1x1BatchNormMatchesSeparateOps() {
        var rng = RNG(seed: 13)
        for (k, (shape, cout)) in [([2, 30, 30, 8], 4), ([3, 7, 9, 5], 12), ([2, 20, 20, 20], 4), ([1, 40, 50, 16], 16),
                                   ([2, 24, 24, 4], 12), ([1, 40, 40, 8], 32)].enumerated() {
            let cin = shape[3], rows = shape[0] * shape[1] * shape[2]
            let widening = Tape.widening(rows: rows, cin: cin, cout: cout, relu: false, residual: false)
            XCTAssertEqual(widening, k >= 4, "\(shape) -> \(cout): which shapes widen")
            let x = GradCheck.randomTensor(shape, &rng, scale: 2)
            if widening { for i in 0..<x.count { x.ptr[i] = abs(x.ptr[i]) } }
            let seed = GradCheck.randomTensor([shape[0], shape[1], shape[2], cout], &rng)
            var kernelRNG = RNG(seed: 14)
            let kernel = Initializer.varianceScaling().make(shape: [1, 1, cin, cout], rng: &kernelRNG)
            let shortcut = GradCheck.randomTensor([shape[0], shape[1], shape[2], cout], &rng)
            let reusedSeed = GradCheck.randomTensor([shape[0], shape[1], shape[2], cout + cin], &rng)
            for (relu, withSum, reused) in [(false, false, false), (true, false, false), (false, true, false),
                                            (true, true, false), (true, false, true), (false, true, true)] {
                var fusedAndSeparate: [[[Float]]] = []
                for fused in [false, true] {
                    var r = RNG(seed: 1)
                    let conv = Conv2D(name: "c", inChannels: cin, outChannels: cout, kernel: 1, rng: &r)
                    conv.kernel.value.data = kernel.data
                    let bn = BatchNorm(name: "bn", channels: cout)
                    bn.gamma.value.data = (0..<cout).map { Float($0) * 0.3 - 0.5 }
                    bn.beta.value.data = (0..<cout).map { Float($0) * 0.2 - 0.6 }
                    let px = Parameter(name: "x", value: x.copy(), decays: false)
                    let pr = Parameter(name: "r", value: shortcut.copy(), decays: false)
                    let tape = Tape(training: true)
                    let residual = withSum ? tape.param(pr) : nil
                    let input = tape.param(px)
                    var y: Var
                    if fused {
                        y = tape.conv1x1BatchNorm(input, conv, bn, relu: relu, residual: residual)
                    } else {
                        let n = tape.batchNorm(conv(input, on: tape), bn, gamma: tape.param(bn.gamma),
                                               beta: tape.param(bn.beta), relu: relu && !withSum)
                        y = residual.map { tape.add([n, $0], activation: relu ? .relu : .none) } ?? n
                    }
                    if reused { y = tape.concat([y, input], axis: 3) }
                    let out = tape.value(y).data
                    tape.backward(y, seed: reused ? reusedSeed : seed)
                    fusedAndSeparate.append([out, px.grad.data + pr.grad.data, conv.kernel.grad.data, bn.gamma.grad.data, bn.beta.grad.data,
                                    bn.runningMean.data, bn.runningVar.data])
                }
                // each tensor to 1e-4 of its largest entry: the weight gradient sums terms that largely cancel,
                // so its small entries carry the rounding of the large ones (and sgemm's kernels vary by CPU)
                for (k, name) in ["y", "dx and dresidual", "dw", "dgamma", "dbeta", "running mean", "running var"].enumerated() {
                    let a = fusedAndSeparate[0][k], b = fusedAndSeparate[1][k]
                    XCTAssertEqual(a.count, b.count)
                    let scale = max(1, a.map(abs).max() ?? 0)
                    for i in a.indices {
                        XCTAssertEqual(a[i], b[i], accuracy: 1e-4 * scale,
                                       "\(shape) -> \(cout) relu \(relu) sum \(withSum) reused \(reused): \(name)[\(i)]")
                    }
                }
            }
        }
    }
}

extension FastKernelTests {
    /// The fused stem tail (batch norm, ReLU, 3x3 stride-2 max pool) gives the values, gradients and running
    /// statistics of the three ops, on even and odd (padded) maps.
    func testBatchNormReluMaxPoolMatchesSeparateOps() {
        var rng = RNG(seed: 15)
        for shape in [[2, 9, 11, 8], [3, 16, 16, 16]] {
            let c = shape[3]
            let x = GradCheck.randomTensor(shape, &rng, scale: 2)
            let pooled = [shape[0], (shape[1] + 1) / 2, (shape[2] + 1) / 2, c]
            let seed = GradCheck.randomTensor(pooled, &rng)
            var fusedAndSeparate: [[[Float]]] = []
            for fused in [false, true] {
                let bn = BatchNorm(name: "bn", channels: c)
                bn.gamma.value.data = (0..<c).map { Float($0) * 0.3 - 0.5 }
                bn.beta.value.data = (0..<c).map { Float($0) * 0.2 - 0.6 }
                let px = Parameter(name: "x", value: x.copy(), decays: false)
                let tape = Tape(training: true)
                let y = fused ? tape.batchNormReluMaxPool(tape.param(px), bn)
                              : tape.maxPool3x3s2(tape.batchNorm(tape.param(px), bn, activation: .relu))
                XCTAssertEqual(y.shape, pooled)
                let out = tape.value(y).data
                tape.backward(y, seed: seed)
                fusedAndSeparate.append([out, px.grad.data, bn.gamma.grad.data, bn.beta.grad.data,
                                         bn.runningMean.data, bn.runningVar.data])
            }
            for (k, name) in ["y", "dx", "dgamma", "dbeta", "running mean", "running var"].enumerated() {
                let a = fusedAndSeparate[0][k], b = fusedAndSeparate[1][k]
                let scale = max(1, a.map(abs).max() ?? 0)
                for i in a.indices { XCTAssertEqual(a[i], b[i], accuracy: 1e-5 * scale, "\(shape): \(name)[\(i)]") }
            }
        }
    }
}

extension FastKernelTests {
    /// An im2col conv shaped like the stem, whose images span several column blocks (the last one ragged) and
    /// which has more blocks than weight-gradient parts: the blocked forward and the blocked weight gradient
    /// (input without gradient) against plain loops.
    func testBlockedIm2colConvMatchesPlainLoops() {
        let (n, h, w, cin, cout, k) = (5, 72, 64, 3, 8, 7)
        var rng = RNG(seed: 17)
        let x = GradCheck.randomTensor([n, h, w, cin], &rng)
        let wt = GradCheck.randomTensor([k, k, cin, cout], &rng, scale: 0.3)
        let g = ConvGeometry(x: x.shape, w: wt.shape, stride: 2)
        XCTAssertGreaterThan(g.blocksPerImage, 1)
        XCTAssertNotEqual(g.rowsPerImage % g.blockRows, 0)
        XCTAssertGreaterThan(n * g.blocksPerImage, 8)
        let dy = GradCheck.randomTensor([n, g.ho, g.wo, cout], &rng)
        let y = Tensor(zeros: dy.shape), dw = Tensor(zeros: wt.shape)
        ConvKernels.forward(g, x: x.ptr, w: wt.ptr, bias: nil, y: y.ptr)
        ConvKernels.backward(g, x: x.ptr, w: wt.ptr, dy: dy.ptr, dx: nil, dw: dw.ptr)

        var yRef = [Double](repeating: 0, count: y.count), dwRef = [Double](repeating: 0, count: dw.count)
        for b in 0..<n { for oy in 0..<g.ho { for ox in 0..<g.wo {
            let out = ((b * g.ho + oy) * g.wo + ox) * cout
            for ky in 0..<k { for kx in 0..<k {
                let iy = oy * 2 - g.padTop + ky, ix = ox * 2 - g.padLeft + kx
                if iy < 0 || iy >= h || ix < 0 || ix >= w { continue }
                for ci in 0..<cin {
                    let xv = Double(x.ptr[((b * h + iy) * w + ix) * cin + ci])
                    for co in 0..<cout {
                        let wi = ((ky * k + kx) * cin + ci) * cout + co
                        yRef[out + co] += xv * Double(wt.ptr[wi])
                        dwRef[wi] += xv * Double(dy.ptr[out + co])
                    }
                }
            } }
        } } }
        for (name, got, want) in [("y", y, yRef), ("dw", dw, dwRef)] {
            let scale = max(1, want.map(abs).max() ?? 0)
            for i in want.indices {
                XCTAssertEqual(Double(got.ptr[i]), want[i], accuracy: 1e-5 * scale, "\(name)[\(i)]")
            }
        }
    }
}

extension FastKernelTests {
    /// Pointwise conv + batch norm units on one input, run as one joint node, give the values, gradients and
    /// running statistics of the units run one by one (channel counts on and off the 8-lane pattern).
    func testGroupedConv1x1BatchNormsMatchSeparateUnits() {
        var rng = RNG(seed: 19)
        let shape = [2, 20, 20, 16], couts = [4, 12, 8]
        let x = GradCheck.randomTensor(shape, &rng, scale: 2)
        let seed = GradCheck.randomTensor([2, 20, 20, couts.reduce(0, +)], &rng)
        for relu in [false, true] {
            var results: [[[Float]]] = []
            for grouped in [false, true] {
                var r = RNG(seed: 1)
                let units = couts.enumerated().map { i, c -> (conv: Conv2D, bn: BatchNorm) in
                    let conv = Conv2D(name: "c\(i)", inChannels: shape[3], outChannels: c, kernel: 1, rng: &r)
                    let bn = BatchNorm(name: "bn\(i)", channels: c)
                    bn.gamma.value.data = (0..<c).map { Float($0) * 0.3 - 0.5 + Float(i) }
                    bn.beta.value.data = (0..<c).map { Float($0) * 0.2 - 0.6 }
                    bn.runningMean.data = (0..<c).map { Float($0 + i) * 0.1 }
                    return (conv, bn)
                }
                let px = Parameter(name: "x", value: x.copy(), decays: false)
                let tape = Tape(training: true)
                let xv = tape.param(px)
                let ys = grouped ? tape.conv1x1BatchNorms(xv, units, relu: relu)
                                 : units.map { tape.conv1x1BatchNorm(xv, $0.conv, $0.bn, relu: relu) }
                let y = tape.concat(ys, axis: 3)
                let out = tape.value(y).data
                tape.backward(y, seed: seed)
                results.append([out, px.grad.data] + units.flatMap {
                    [$0.conv.kernel.grad.data, $0.bn.gamma.grad.data, $0.bn.beta.grad.data, $0.bn.runningMean.data, $0.bn.runningVar.data]
                })
            }
            XCTAssertEqual(results[0].count, results[1].count)
            for k in results[0].indices {
                let a = results[0][k], b = results[1][k]
                XCTAssertEqual(a.count, b.count)
                let scale = max(1, a.map(abs).max() ?? 0)
                for i in a.indices { XCTAssertEqual(a[i], b[i], accuracy: 1e-4 * scale, "relu \(relu): tensor \(k)[\(i)]") }
            }
        }
    }

    func testChannelSliceGradient() {
        var rng = RNG(seed: 20)
        GradCheck.check("channels", inputs: [GradCheck.randomTensor([2, 3, 4, 7], &rng)]) { t, v in t.channels(v[0], 2..<5) }
    }
}

extension FastKernelTests {
    /// The stem op (moments taken from the conv's blocks) gives the bits of the conv followed by the fused batch
    /// norm, ReLU and max pool, over images of several blocks, one ending inside a row, and a ragged last one;
    /// gradients to rounding.
    /// With an input that needs no gradient (conv and pool one node, the pool's input gradient made block by
    /// block inside the weight gradient), the same bits as the separate conv.
    func testStemConvMomentsMatchSeparateConv() {
        var rng = RNG(seed: 21)
        let x = GradCheck.randomTensor([3, 64, 56, 3], &rng)
        let seed = GradCheck.randomTensor([3, 16, 14, 8], &rng)
        for inputGrad in [true, false] {
            var results: [[[Float]]] = []
            for fused in [false, true] {
                var r = RNG(seed: 2)
                let conv = Conv2D(name: "stem", inChannels: 3, outChannels: 8, kernel: 7, stride: 2, rng: &r)
                let bn = BatchNorm(name: "bn", channels: 8)
                bn.gamma.value.data = (0..<8).map { Float($0) * 0.3 - 0.9 }
                let g = ConvGeometry(x: x.shape, w: conv.kernel.value.shape, stride: 2)
                XCTAssertGreaterThan(g.blocksPerImage, 1)
                XCTAssertNotEqual(g.rowsPerImage % g.blockRows, 0)
                XCTAssertNotEqual(g.blockRows % g.wo, 0, "a block that ends inside a row")
                let px = Parameter(name: "x", value: x.copy(), decays: false)
                let tape = Tape(training: true)
                let input = inputGrad ? tape.param(px) : tape.input(x)
                let y = fused ? tape.convBatchNormReluMaxPool(input, conv, bn)
                              : tape.batchNormReluMaxPool(conv(input, on: tape), bn)
                let out = tape.value(y).data
                tape.backward(y, seed: seed)
                results.append([out, conv.kernel.grad.data, bn.gamma.grad.data, bn.beta.grad.data,
                                bn.runningMean.data, bn.runningVar.data] + (inputGrad ? [px.grad.data] : []))
            }
            XCTAssertEqual(results[0][0], results[1][0])
            for k in results[0].indices {
                let a = results[0][k], b = results[1][k]
                if !inputGrad { XCTAssertTrue(a == b, "input without gradient: tensor \(k) differs in its bits") }
                let scale = max(1, a.map(abs).max() ?? 0)
                for i in a.indices { XCTAssertEqual(a[i], b[i], accuracy: 1e-5 * scale, "tensor \(k)[\(i)]") }
            }
        }
    }
}

extension FastKernelTests {
    /// Products cut into pieces for OpenBLAS's small-matrix kernels equal plain loops: rows with a plain and a
    /// transposed B (ragged last piece, strided operands, alpha and beta), and a weight gradient cut along K.
    /// The pieces are called directly so that the test runs on machines whose kernel set has no small kernels.
    func testSmallProductPiecesMatchPlainLoops() {
        var rng = RNG(seed: 21)
        func random(_ n: Int) -> [Float] { (0..<n).map { _ in rng.normal() } }
        func check(_ got: [Float], _ want: [Double], _ what: String) {
            for i in want.indices { XCTAssertEqual(Double(got[i]), want[i], accuracy: 1e-4 * max(1, abs(want[i])), "\(what)[\(i)]") }
        }
        // rows: C[m, n] (ldc n + 3) = 0.5 A[m, k] (lda k + 2) op(B) - 2 C; k*n = 1536 gives pieces of 640 rows
        let (m, n, k) = (1500, 48, 32)
        let (lda, ldc) = (k + 2, n + 3)
        let a = random(m * lda), c0 = random(m * ldc)
        for transB in [false, true] {
            let ldb = transB ? k + 1 : n + 1
            let b = random((transB ? n : k) * ldb)
            var c = c0
            SmallProducts.rowPieces(transB, m, n, k, 0.5, a, lda, b, ldb, -2, &c, ldc)
            var want = c0.map(Double.init)
            for i in 0..<m {
                for j in 0..<n {
                    var s = 0.0
                    for p in 0..<k { s += Double(a[i * lda + p]) * Double(transB ? b[j * ldb + p] : b[p * ldb + j]) }
                    want[i * ldc + j] = 0.5 * s - 2 * Double(c0[i * ldc + j])
                }
            }
            check(c, want, "rows, transB \(transB)")
        }
        // depth: C[m2, n2] = A[k2, m2]^T B[k2, n2] + 0.5 C, 1e6 / (24 * 40) gives pieces of 1040 rows; 2500 leaves a
        // ragged one (beta applies once, the later pieces add)
        let (m2, n2, k2) = (24, 40, 2500)
        let a2 = random(k2 * m2), b2 = random(k2 * n2), c2 = random(m2 * n2)
        var c = c2
        SmallProducts.depthPieces(m2, n2, k2, 1, a2, m2, b2, n2, 0.5, &c, n2)
        var want = c2.map { 0.5 * Double($0) }
        for i in 0..<m2 { for j in 0..<n2 { for p in 0..<k2 { want[i * n2 + j] += Double(a2[p * m2 + i]) * Double(b2[p * n2 + j]) } } }
        check(c, want, "depth")
    }
}

extension FastKernelTests {
    /// The per-level focal loss with per-anchor classes equals the dense loss on the levels' concatenation
    /// with one-hot targets and zero weights for ignored anchors: value, and every level's gradient under a
    /// loss scale (pieces of one level and image: 5 classes do not divide 4096, and level 0's 900 anchors
    /// per image take two pieces).
    func testPerLevelFocalLossMatchesDenseLoss() {
        var rng = RNG(seed: 22)
        let (images, k, a) = (2, 5, 3)
        let shapes = [[images, 30, 10, a * k], [images, 4, 4, a * k], [images, 1, 1, a * k]]
        let perImage = shapes.reduce(0) { $0 + $1[1] * $1[2] * a }
        let classes: [Int32] = (0..<(images * perImage)).map { _ in
            let u = rng.uniform()
            return u < 0.1 ? -2 : u < 0.3 ? Int32(Int(rng.uniform() * Float(k)) % k) : -1
        }
        var targets = [Float](repeating: 0, count: classes.count * k), weights = targets
        for (i, c) in classes.enumerated() {
            if c >= 0 { targets[i * k + Int(c)] = 1 }
            for j in 0..<k { weights[i * k + j] = c == -2 ? 0 : 1 }
        }
        let inputs = shapes.map { GradCheck.randomTensor($0, &rng, scale: 3) }
        var results: [(Float, [[Float]])] = []
        for perLevel in [false, true] {
            let t = Tape(training: true)
            let params = inputs.map { Parameter(name: "x", value: $0.copy(), decays: false) }
            let levels = params.map { t.param($0) }
            let loss: Var
            if perLevel {
                loss = t.sigmoidFocalLoss(levels: levels, classes: k, anchorClasses: classes, alpha: 0.25, gamma: 1.5,
                                          normalizer: 7)
            } else {
                let flat = t.concat(levels.map { t.reshape($0, [images, $0.shape[1] * $0.shape[2] * a, k]) }, axis: 1)
                loss = t.sigmoidFocalLoss(flat, targets: Tensor(shape: flat.shape, data: targets),
                                          weights: Tensor(shape: flat.shape, data: weights), alpha: 0.25, gamma: 1.5,
                                          normalizer: 7)
            }
            let value = t.value(loss).scalar
            t.backward(t.scale(loss, 3))
            results.append((value, params.map { $0.grad.data }))
        }
        XCTAssertEqual(results[1].0, results[0].0, accuracy: 1e-6 * abs(results[0].0))
        for l in shapes.indices { XCTAssertEqual(results[1].1[l], results[0].1[l], "gradient of level \(l)") }
    }
}
