import XCTest
@testable import Engine

/// Every op's backward against central finite differences.
final class GradientTests: XCTestCase {
    struct ConvCase { let n, h, w, cin, cout, k, s: Int; let bias: Bool }

    func testConvGradients() {
        let cases = [
            ConvCase(n: 2, h: 7, w: 5, cin: 3, cout: 4, k: 3, s: 1, bias: true),
            ConvCase(n: 2, h: 7, w: 5, cin: 3, cout: 4, k: 3, s: 2, bias: false),
            ConvCase(n: 1, h: 8, w: 6, cin: 2, cout: 3, k: 3, s: 2, bias: true),     // even: pad only bottom/right
            ConvCase(n: 1, h: 9, w: 9, cin: 2, cout: 3, k: 7, s: 2, bias: true),
            ConvCase(n: 2, h: 9, w: 9, cin: 2, cout: 2, k: 7, s: 1, bias: false),
            ConvCase(n: 1, h: 4, w: 6, cin: 2, cout: 2, k: 7, s: 2, bias: false),   // kernel larger than input
            ConvCase(n: 2, h: 6, w: 6, cin: 3, cout: 5, k: 1, s: 1, bias: true),    // direct sgemm path
            ConvCase(n: 2, h: 7, w: 5, cin: 3, cout: 5, k: 1, s: 2, bias: false),
            ConvCase(n: 1, h: 5, w: 7, cin: 4, cout: 3, k: 5, s: 1, bias: true),
        ]
        var rng = RNG(seed: 1)
        for c in cases {
            var inputs = [GradCheck.randomTensor([c.n, c.h, c.w, c.cin], &rng),
                          GradCheck.randomTensor([c.k, c.k, c.cin, c.cout], &rng, scale: 0.3)]
            if c.bias { inputs.append(GradCheck.randomTensor([c.cout], &rng)) }
            GradCheck.check("conv \(c)", inputs: inputs) { t, v in
                t.conv2d(v[0], v[1], bias: c.bias ? v[2] : nil, stride: c.s)
            }
        }
    }

    func testBatchNormTrainingAndInference() {
        var rng = RNG(seed: 2)
        for training in [true, false] {
            for relu in [false, true] {
                let bn = BatchNorm(name: "bn", channels: 3)
                bn.runningMean.data = [0.1, -0.2, 0.3]
                bn.runningVar.data = [0.5, 1.5, 2.0]
                // fused ReLU: spaced inputs keep the outputs away from the kink
                let x = relu ? GradCheck.spacedTensor([2, 5, 3, 3], &rng, gap: 0.3) : GradCheck.randomTensor([2, 5, 3, 3], &rng, scale: 2)
                let gamma = GradCheck.randomTensor([3], &rng), beta = GradCheck.randomTensor([3], &rng)
                GradCheck.check("batchNorm relu=\(relu) training=\(training)", inputs: [x, gamma, beta], training: training,
                                h: relu ? 1e-3 : 1e-2) { t, v in
                    t.batchNorm(v[0], bn, gamma: v[1], beta: v[2], relu: relu)
                }
            }
        }
    }

    func testElementwise() {
        var rng = RNG(seed: 3)
        let shape = [2, 7, 5, 3]
        GradCheck.check("relu", inputs: [GradCheck.spacedTensor(shape, &rng)]) { t, v in t.relu(v[0]) }
        GradCheck.check("swish", inputs: [GradCheck.randomTensor(shape, &rng, scale: 2)]) { t, v in t.swish(v[0]) }
        GradCheck.check("sigmoid", inputs: [GradCheck.randomTensor(shape, &rng, scale: 2)]) { t, v in t.sigmoid(v[0]) }
        GradCheck.check("activation none", inputs: [GradCheck.randomTensor(shape, &rng)]) { t, v in
            t.scale(t.activation(v[0], .none), 1.5)
        }
        GradCheck.check("scale", inputs: [GradCheck.randomTensor(shape, &rng)]) { t, v in t.scale(v[0], -0.7) }
        GradCheck.check("scalePerExample", inputs: [GradCheck.randomTensor(shape, &rng)]) { t, v in
            t.scalePerExample(v[0], [0, 1.25])
        }
        GradCheck.check("mean", inputs: [GradCheck.randomTensor(shape, &rng)]) { t, v in t.mean(v[0]) }
        GradCheck.check("sum", inputs: [GradCheck.randomTensor(shape, &rng)]) { t, v in t.sum(v[0]) }
    }

    func testPoolingAndResampling() {
        var rng = RNG(seed: 4)
        for s in [[2, 7, 5, 3], [1, 9, 9, 2], [1, 8, 6, 2]] {
            GradCheck.check("maxPool \(s)", inputs: [GradCheck.spacedTensor(s, &rng)]) { t, v in t.maxPool3x3s2(v[0]) }
        }
        for f in [2, 4] {
            GradCheck.check("upsample x\(f)", inputs: [GradCheck.randomTensor([2, 3, 5, 2], &rng)]) { t, v in
                t.upsampleNearest(v[0], factor: f)
            }
        }
        GradCheck.check("globalAvgPool", inputs: [GradCheck.randomTensor([2, 7, 5, 3], &rng)]) { t, v in t.globalAvgPool(v[0]) }
    }

    func testStructuralOps() {
        var rng = RNG(seed: 5)
        let a = GradCheck.randomTensor([2, 3, 5, 4], &rng), b = GradCheck.randomTensor([2, 3, 5, 4], &rng)
        // a appears twice: its gradient must accumulate
        GradCheck.check("add n-ary", inputs: [a, b]) { t, v in t.add([v[0], v[1], v[0]]) }
        GradCheck.check("multiply", inputs: [a, b]) { t, v in t.multiply(v[0], t.add(v[1], v[0])) }
        GradCheck.check("concat axis 3", inputs: [a, GradCheck.randomTensor([2, 3, 5, 2], &rng)]) { t, v in
            t.concat([v[0], v[1]], axis: 3)
        }
        GradCheck.check("concat axis 1", inputs: [a, GradCheck.randomTensor([2, 1, 5, 4], &rng)]) { t, v in
            t.concat([v[1], v[0], v[1]], axis: 1)
        }
        GradCheck.check("reshape", inputs: [GradCheck.spacedTensor([2, 3, 5, 4], &rng)]) { t, v in t.relu(t.reshape(t.scale(v[0], 2), [6, 20])) }
        for bias in [true, false] {
            var ins = [GradCheck.randomTensor([5, 7], &rng), GradCheck.randomTensor([7, 3], &rng)]
            if bias { ins.append(GradCheck.randomTensor([3], &rng)) }
            GradCheck.check("dense bias=\(bias)", inputs: ins) { t, v in t.dense(v[0], v[1], bias: bias ? v[2] : nil) }
        }
    }

    func testLosses() {
        var rng = RNG(seed: 6)
        let shape = [2, 4, 3, 6]
        let n = shape.reduce(1, *)
        let targets = Tensor(zeros: shape), weights = Tensor(zeros: shape)
        for i in 0..<n {
            targets.ptr[i] = rng.uniform() < 0.3 ? 1 : 0
            weights.ptr[i] = rng.uniform() < 0.2 ? 0 : rng.uniform(0.5, 1.5)
        }
        for gamma: Float in [0, 1.5, 2] {
            GradCheck.check("focal gamma=\(gamma)", inputs: [GradCheck.randomTensor(shape, &rng, scale: 3)]) { t, v in
                t.sigmoidFocalLoss(v[0], targets: targets, weights: weights, alpha: 0.25, gamma: gamma, normalizer: 7)
            }
        }
        // Huber: errors on both sides of delta, none within h of it.
        let pred = GradCheck.randomTensor(shape, &rng, scale: 0.5)
        let tgt = Tensor(zeros: shape)
        for i in 0..<n {
            var d = rng.normal() * 0.3
            if abs(abs(d) - 0.11) < 0.03 { d += 0.1 }
            tgt.ptr[i] = pred.ptr[i] - d
        }
        GradCheck.check("huber", inputs: [pred], h: 5e-3) { t, v in
            t.huberLoss(v[0], targets: tgt, weights: weights, delta: 0.11, normalizer: 3)
        }
        GradCheck.check("softmaxCE", inputs: [GradCheck.randomTensor([5, 4], &rng, scale: 2)]) { t, v in
            t.softmaxCrossEntropy(v[0], labels: [0, 3, 2, 2, 1])
        }
        // With label smoothing (the classification recipe's 0.1, and a large 0.4 that weighs the off-class terms).
        for e: Float in [0.1, 0.4] {
            GradCheck.check("softmaxCE smoothing \(e)", inputs: [GradCheck.randomTensor([5, 4], &rng, scale: 2)]) { t, v in
                t.softmaxCrossEntropy(v[0], labels: [0, 3, 2, 2, 1], labelSmoothing: e)
            }
        }
    }

    /// The error measure must flag a wrong sign or a missing term.
    func testCheckerCatchesWrongGradients() {
        let numeric = [0.5, -1.0, 2.0, 0.25]
        XCTAssertLessThan(GradCheck.relativeError(analytic: numeric.map { $0 * (1 + 1e-4) }, numeric: numeric), 2e-2)
        XCTAssertGreaterThan(GradCheck.relativeError(analytic: numeric.map { -$0 }, numeric: numeric), 2e-2)
        XCTAssertGreaterThan(GradCheck.relativeError(analytic: [0.5, -1.0, 2.0, 0.0], numeric: numeric), 2e-2)
        XCTAssertGreaterThan(GradCheck.relativeError(analytic: numeric.map { $0 * 0.9 }, numeric: numeric), 2e-2)
    }
}
