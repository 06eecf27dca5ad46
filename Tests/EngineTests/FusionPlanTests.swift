import XCTest
@testable import Engine

/// The fusion planner on a small hand-made graph holding one instance of every pattern: what it plans, and that
/// each fused kernel gives its primitives' values and gradients (its reference composition).
final class FusionPlanTests: XCTestCase {
    /// input -> stem conv 3x3/2 -> BN -> ReLU -> max pool (p); two ReLU siblings on p (a 8 ch, b 16 ch); a
    /// bottleneck on a (conv 3x3 -> BN -> ReLU -> conv1x1 -> BN -> + b -> ReLU); that plus b -> ReLU; and a
    /// lone conv1x1 -> BN on p. Channels are multiples of 8 and the stem's map 8x8, as the stem kernel needs.
    struct Fixture {
        var graph = Graph()
        var parameters: [Parameter] = []
        var rng = RNG(seed: 11)
        var outputs: [Int] = []

        mutating func conv(_ x: Int, _ cin: Int, _ cout: Int, kernel: Int = 1, stride: Int = 1) -> Int {
            let layer = Conv2D(name: "c\(graph.nodes.count)", inChannels: cin, outChannels: cout, kernel: kernel,
                               stride: stride, rng: &rng)
            parameters += layer.parameters
            return graph.append(.conv(layer), [x])
        }

        mutating func norm(_ x: Int, _ c: Int) -> Int {
            let layer = BatchNorm(name: "n\(graph.nodes.count)", channels: c)
            // gamma and beta away from 1 and 0, so their gradients are not special cases
            for i in 0..<c { layer.gamma.value[i] = 0.5 + rng.uniform(); layer.beta.value[i] = rng.normal() * 0.3 }
            parameters += layer.parameters
            return graph.append(.batchNorm(layer), [x])
        }

        mutating func relu(_ x: Int) -> Int { graph.append(.activation(.relu), [x]) }

        init() {
            let image = graph.append(.input, [])
            let p = graph.append(.maxPool3x3s2, [relu(norm(conv(image, 3, 8, kernel: 3, stride: 2), 8))])
            let a = relu(norm(conv(p, 8, 8), 8)), b = relu(norm(conv(p, 8, 16), 16))
            let inner = relu(norm(conv(a, 8, 8, kernel: 3), 8))
            let sum = relu(graph.append(.add, [norm(conv(inner, 8, 16), 16), b]))
            outputs = [relu(graph.append(.add, [sum, b])), norm(conv(p, 8, 8), 8)]
            for o in outputs { graph.readOutside(o) }
        }
    }

    func testPlansEveryPattern() {
        let f = Fixture()
        XCTAssertEqual(FusionPlan(f.graph).counts, [
            "conv+bn+relu+maxpool": 1, "conv1x1+bn+relu siblings": 1, "bn+relu": 1, "conv1x1+bn+add+relu": 1,
            "add+relu": 1, "conv1x1+bn": 1,
        ])
        XCTAssertEqual(FusionPlan(f.graph).summary.first?.nodes, [1, 2, 3, 4], "the stem: conv, BN, ReLU, pool")
    }

    /// A value read from outside is never hidden inside a group: with the lone BN's output also read by a ReLU,
    /// its conv + BN pair still fuses but the ReLU does not join it.
    func testOutsideReadsKeepValues() {
        var f = Fixture()
        let loneNorm = f.outputs[1]
        f.graph.append(.activation(.relu), [loneNorm])
        let plan = FusionPlan(f.graph)
        XCTAssertEqual(plan.counts["conv1x1+bn"], 1)
        XCTAssertNil(plan.counts["conv1x1+bn+relu"])
        XCTAssertTrue(plan.summary.contains { $0.nodes.contains(loneNorm) && $0.pattern == "conv1x1+bn" })
    }

    /// Fused and unfused runs of the fixture: the same outputs and parameter gradients, within float rounding
    /// (the fused kernels sum in other orders).
    func testFusedKernelsMatchTheirPrimitives() {
        let f = Fixture()
        var rng = RNG(seed: 5)
        let image = GradCheck.randomTensor([2, 16, 16, 3], &rng)
        let seeds = [GradCheck.randomTensor([2, 4, 4, 16], &rng), GradCheck.randomTensor([2, 4, 4, 8], &rng)]
        let plan = FusionPlan(f.graph)
        func run(fused: Bool) -> (outputs: [[Float]], grads: [[Float]]) {
            for p in f.parameters { p.zeroGrad() }
            let tape = Tape(training: true)
            let values = tape.run(f.graph, inputs: [tape.input(image)], plan: fused ? plan : nil)
            let outs = f.outputs.map { values[$0]! }
            let total = tape.sum(zip(outs, seeds).map { tape.sum(tape.multiply($0, tape.input($1))) })
            let result = outs.map { tape.value($0).data }
            tape.backward(total)
            return (result, f.parameters.map(\.grad.data))
        }
        let fused = run(fused: true), plain = run(fused: false)
        for (k, (a, b)) in zip(fused.outputs, plain.outputs).enumerated() {
            XCTAssertLessThan(GradCheck.relativeError(analytic: a.map(Double.init), numeric: b.map(Double.init)), 1e-5, "output \(k)")
        }
        for (p, (a, b)) in zip(f.parameters, zip(fused.grads, plain.grads)) {
            XCTAssertGreaterThan(b.map(abs).max()!, 0, "\(p.name) got no gradient")
            XCTAssertLessThan(GradCheck.relativeError(analytic: a.map(Double.init), numeric: b.map(Double.init)), 1e-4, p.name)
        }
    }
}
