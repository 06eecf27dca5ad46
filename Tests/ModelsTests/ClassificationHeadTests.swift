import XCTest
import Engine
@testable import Models

/// The classification head (docs/paper-facts.md §14): its structure, its counts at the paper's ImageNet setting,
/// and its gradients against central differences, through the softmax cross-entropy with label smoothing.
final class ClassificationHeadTests: XCTestCase {
    /// SpineNet: P4-P7 upsampled to P3's size and averaged with P3 (five maps), pooled, one dense layer.
    /// ResNet: the plain classifier, C5 pooled and dense, no FPN.
    func testStructure() {
        let sp = plan("spinenet-49", ModelOptions(inputSize: 64, head: .classification(classes: 7)))
        let mean = sp.nodes.first { $0.name == "head/mean" }!
        XCTAssertEqual(mean.inputs.count, 5)
        XCTAssertEqual(Set(mean.inputs.map { sp.nodes[$0].shape }).count, 1, "every averaged map has P3's shape")
        XCTAssertEqual(sp.nodes[mean.inputs[0]].shape, sp.nodes[sp.levels[3]!].shape)
        XCTAssertEqual(sp.nodes[sp.outputs["logits"]!].shape, FeatureShape(h: 1, w: 1, c: 7))
        let rn = plan("r50-fpn", ModelOptions(inputSize: 64, head: .classification(classes: 7)))
        XCTAssertFalse(rn.nodes.contains { $0.name.hasPrefix("fpn/") }, "no FPN under a ResNet classifier")
        let pool = rn.nodes.first { $0.name == "head/pool" }!
        XCTAssertEqual(rn.nodes[pool.inputs[0]].shape.c, 2048, "C5 of ResNet-50")
        XCTAssertEqual(rn.nodes[rn.outputs["logits"]!].shape.c, 7)
        // The detector is unchanged: r50-fpn with the RetinaNet head still has its FPN.
        XCTAssertTrue(plan("r50-fpn").nodes.contains { $0.name == "fpn/p7" })
    }

    /// At 224 px with 1000 classes our counts are the paper's classification table's sizes: ResNet-50 25.6M params
    /// and 4.1B multiply-adds (25,557,032 is the standard ResNet-50 count), SpineNet-49 22.1M and 3.5B.
    func testPaperImageNetSizes() {
        let options = ModelOptions(inputSize: 224, head: .classification(classes: 1000))
        let r50 = plan("r50-fpn", options).counts, sp49 = plan("spinenet-49", options).counts
        XCTAssertEqual(r50.params, 25_557_032)
        XCTAssertEqual(Double(r50.macs), 4.1e9, accuracy: 0.5e-2 * 4.1e9)
        XCTAssertEqual(Double(sp49.params), 22.1e6, accuracy: 0.05e6)
        XCTAssertEqual(Double(sp49.macs), 3.5e9, accuracy: 0.05e9)
        XCTAssertLessThan(sp49.macs, r50.macs)
    }

    /// Analytic gradients of mean smoothed cross-entropy(logits) agree with central differences for head and
    /// backbone parameters, on SpineNet (through the upsample-and-average path of every level) and on the plain
    /// ResNet. Odd input 33, so the upsampling must crop; inference-mode BN keeps the loss smooth.
    func testGradientsMatchFiniteDifferences() {
        check("r0-sp53", probes: ["head/dense/kernel", "head/dense/bias", "endpoint3/bn/gamma", "endpoint5/bn/beta",
                                  "endpoint7/bn/gamma", "block9/conv2/conv/kernel", "stem/conv7/conv/kernel"])
        check("r50-fpn", probes: ["head/dense/kernel", "head/dense/bias", "stem/conv7/conv/kernel"])
    }

    func check(_ model: String, probes: [String], file: StaticString = #filePath, line: UInt = #line) {
        let (input, batch, classes) = (33, 3, 5)
        // Swish, not ReLU: no kinks for the differences to straddle (as the detector's check in NetworkTests).
        let options = ModelOptions(inputSize: input, filterSizeScale: 0.125, resampleAlpha: 0.25, endpointsNumFilters: 8,
                                   activation: .swish, head: .classification(classes: classes))
        let p = plan(model, options)
        let net = Network(plan: p, seed: 7) { _ in (.varianceScaling(), .normal(sigma: 0.1)) }
        var rng = RNG(seed: 3)
        let image = Tensor(shape: [batch, input, input, 3], data: (0..<(batch * input * input * 3)).map { _ in rng.normal() })
        let labels = [0, 3, 4]
        func loss(backward: Bool) -> Double {
            let tape = Tape(training: false)
            let logits = tape.reshape(net(tape.input(image), on: tape).outputs["logits"]!, [batch, classes])
            let l = tape.softmaxCrossEntropy(logits, labels: labels, labelSmoothing: 0.1)
            let value = Double(tape.value(l).data[0])
            if backward { tape.backward(l) }
            return value
        }
        for q in net.parameters { q.zeroGrad() }
        _ = loss(backward: true)
        for name in probes {
            guard let q = net.parameters.first(where: { $0.name == name }) else {
                XCTFail("\(model): no parameter \(name); have \(net.parameters.map(\.name).filter { $0.hasPrefix("head") })",
                        file: file, line: line)
                continue
            }
            XCTAssertGreaterThan(q.grad.data.map(abs).max()!, 0, "\(model) \(name) got no gradient", file: file, line: line)
            for i in [0, q.value.count / 2, q.value.count - 1] {
                let analytic = Double(q.grad[i]), original = q.value[i]
                // Median of central differences at three step sizes: robust to the odd max-pool switch.
                let estimates = [Float(3e-4), 1e-3, 3e-3].map { eps -> Double in
                    q.value.ptr[i] = original + eps; let up = loss(backward: false)
                    q.value.ptr[i] = original - eps; let down = loss(backward: false)
                    q.value.ptr[i] = original
                    return (up - down) / Double(2 * eps)
                }
                let numeric = estimates.sorted()[1]
                XCTAssertEqual(analytic, numeric, accuracy: 0.03 * max(abs(numeric), 1e-3),
                               "\(model) \(name)[\(i)]", file: file, line: line)
            }
        }
    }
}
