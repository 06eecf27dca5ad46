import XCTest
import Engine
@testable import Models

final class NetworkTests: XCTestCase {
    /// Full-size networks own exactly the parameters the plan counts.
    func testParameterCountMatchesPlan() {
        for name in ["spinenet-49", "r50-fpn", "r0-sp53-no-long"] {
            let p = plan(name)
            let net = Network(plan: p, seed: 1)
            XCTAssertEqual(net.parameterCount, p.counts.params, name)
            XCTAssertEqual(Set(net.parameters.map(\.name)).count, net.parameters.count, "\(name): duplicate parameter names")
        }
        let cls = plan("spinenet-49", ModelOptions(head: .classification(classes: 10)))
        XCTAssertEqual(Network(plan: cls, seed: 1).parameterCount, cls.counts.params)
    }

    /// A tiny R0-SP53 detector (odd input 33, so upsampling must crop) runs forward and backward; output shapes
    /// follow the plan, every kernel and BN parameter gets a gradient, and sampled gradients agree with central
    /// differences of L = <seed, all head outputs>. Inference-mode BN keeps L smooth: with batch statistics over
    /// a 1x1 L7 map of batch 2 the function is too steep for differences (the Engine checks BN's batch gradient).
    func testForwardBackwardMatchesFiniteDifferences() {
        checkGradients(input: 33, batch: 2, training: false)
    }

    /// Batch statistics on a larger input (L7 is 2x2 over a batch of 4), so the training path is checked too.
    func testTrainingModeGradients() {
        checkGradients(input: 129, batch: 4, training: true)
    }

    func checkGradients(input: Int, batch: Int, training: Bool, file: StaticString = #filePath, line: UInt = #line) {
        let options = ModelOptions(inputSize: input, filterSizeScale: 0.125, resampleAlpha: 0.25, endpointsNumFilters: 8,
                                   activation: .swish, head: .retinaNet(filters: 8, convs: 1, classes: 3, anchors: 2))
        let p = plan("r0-sp53", options)
        let net = Network(plan: p, seed: 7) { _ in (.varianceScaling(), .normal(sigma: 0.1)) }
        var rng = RNG(seed: 3)
        let image = Tensor(shape: [batch, input, input, 3], data: (0..<(batch * input * input * 3)).map { _ in rng.normal() })
        let keys = p.outputs.keys.sorted()

        func run(backward seed: Tensor?) -> (Tensor, [String: [Int]]) {
            let tape = Tape(training: training)
            let out = net(tape.input(image), on: tape)
            let flat = tape.concat(keys.map { k in tape.reshape(out.outputs[k]!, [batch, out.outputs[k]!.shape.dropFirst().reduce(1, *)]) }, axis: 1)
            let value = tape.value(flat).copy()
            if let seed { tape.backward(flat, seed: seed) }
            return (value, out.outputs.mapValues(\.shape))
        }
        let (first, shapes) = run(backward: nil)
        for (key, id) in p.outputs {
            let s = p.nodes[id].shape
            XCTAssertEqual(shapes[key], [batch, s.h, s.w, s.c], key, file: file, line: line)
        }
        if input == 33 { XCTAssertEqual(shapes["class/3"], [2, 5, 5, 6]); XCTAssertEqual(shapes["box/7"], [2, 1, 1, 8]) }
        let seed = Tensor(shape: first.shape, data: (0..<first.count).map { _ in rng.normal() })
        func loss() -> Double {
            let (y, _) = run(backward: nil)
            return zip(y.data, seed.data).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        for q in net.parameters { q.zeroGrad() }
        _ = run(backward: seed)
        for q in net.parameters where !q.name.hasSuffix("/bias") {
            XCTAssertGreaterThan(q.grad.data.map(abs).max()!, 0, "\(q.name) got no gradient", file: file, line: line)
        }
        let probes = ["stem/conv7/conv/kernel", "block3/in1/reduce/bn/beta", "block9/conv2/conv/kernel",
                      "endpoint6/bn/gamma", "head/class/conv0/bn/l5/beta", "head/box/predict/bias"]
        for name in probes {
            guard let q = net.parameters.first(where: { $0.name == name }) else { XCTFail("no parameter \(name)"); continue }
            let i = q.value.count / 2
            let analytic = Double(q.grad[i])
            // Median of central differences at three step sizes: robust to the odd max-pool switch.
            let original = q.value[i]
            let estimates = [Float(3e-4), 1e-3, 3e-3].map { eps -> Double in
                q.value.ptr[i] = original + eps; let up = loss()
                q.value.ptr[i] = original - eps; let down = loss()
                q.value.ptr[i] = original
                return (up - down) / Double(2 * eps)
            }
            let numeric = estimates.sorted()[1]
            XCTAssertEqual(analytic, numeric, accuracy: (training ? 0.05 : 0.03) * max(abs(numeric), 1e-2), "\(name) training \(training)", file: file, line: line)
        }
    }

    func testInitialisationIsSeededAndHeadPriorIsSet() {
        let p = plan("r0-sp53", ModelOptions(inputSize: 64, filterSizeScale: 0.25, resampleAlpha: 0.25, endpointsNumFilters: 16,
                                             head: .retinaNet(filters: 16, convs: 2, classes: 3, anchors: 9)))
        let a = Network(plan: p, seed: 5), b = Network(plan: p, seed: 5), c = Network(plan: p, seed: 6)
        XCTAssertEqual(a.parameters.map(\.value.data), b.parameters.map(\.value.data))
        XCTAssertNotEqual(a.parameters[0].value.data, c.parameters[0].value.data)
        let bias = a.parameters.first { $0.name == "head/class/predict/bias" }!
        XCTAssertEqual(bias.value[0], -Float(log(99.0)), accuracy: 1e-5)
        XCTAssertEqual((a.layers["head/class/conv1"] as! Conv2D).kernel.value.data.map(abs).max()!, 0.02, accuracy: 0.02)
        XCTAssertEqual(a.batchNorms.count, p.nodes.filter { $0.op == .batchNorm }.count)
    }
}

final class StochasticDepthTests: XCTestCase {
    func testResidualAddsOfPermutedBlocksAreTagged() {
        let p = plan("spinenet-96", ModelOptions(head: HeadConfig.none))
        let tagged = p.nodes.filter { $0.residualBlock != nil }
        XCTAssertEqual(tagged.count, 15 * 2, "one per block and repeat")
        XCTAssertEqual(Set(tagged.compactMap(\.residualBlock)), Set(0..<15))
        XCTAssertFalse(tagged.contains { $0.name.hasPrefix("stem") })
        XCTAssertEqual(p.blockCount, 15)
        XCTAssertEqual(StochasticDepth(rng: RNG(seed: 0)).rate(block: 14, of: 15), 0.2, accuracy: 1e-6)
    }

    func testDropPathOnlyActsWhenTrainingWithPositiveRate() {
        let p = plan("r0-sp53", ModelOptions(inputSize: 64, filterSizeScale: 0.125, resampleAlpha: 0.25,
                                             endpointsNumFilters: 8, head: HeadConfig.none))
        let net = Network(plan: p, seed: 2)
        var rng = RNG(seed: 9)
        let image = Tensor(shape: [4, 64, 64, 3], data: (0..<(4 * 64 * 64 * 3)).map { _ in rng.normal() })
        func level3(training: Bool, _ sd: StochasticDepth?) -> [Float] {
            let tape = Tape(training: training)
            return tape.value(net(tape.input(image), on: tape, stochasticDepth: sd).levels[3]!).data
        }
        let plain = level3(training: true, nil)
        XCTAssertEqual(level3(training: true, StochasticDepth(maxRate: 0, rng: RNG(seed: 1))), plain)
        XCTAssertNotEqual(level3(training: true, StochasticDepth(maxRate: 0.9, rng: RNG(seed: 1))), plain)
        XCTAssertEqual(level3(training: false, StochasticDepth(maxRate: 0.9, rng: RNG(seed: 1))), level3(training: false, nil))
    }
}
