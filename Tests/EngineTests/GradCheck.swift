import XCTest
@testable import Engine

/// Central finite-difference checks of the hand-written backward passes.
/// The op output is projected onto a fixed random tensor R (in Double), so one backward with seed R gives
/// d(R.y)/d(input) for every input at once; sampled input elements are then perturbed by +-h.
enum GradCheck {
    static func randomTensor(_ shape: [Int], _ rng: inout RNG, scale: Float = 1) -> Tensor {
        let t = Tensor(zeros: shape)
        for i in 0..<t.count { t.ptr[i] = scale * rng.normal() }
        return t
    }

    /// Values spaced at least `gap` apart, shuffled: no ties or kinks near +-h for max/relu.
    static func spacedTensor(_ shape: [Int], _ rng: inout RNG, gap: Float = 0.1) -> Tensor {
        let t = Tensor(zeros: shape)
        var vals = (0..<t.count).map { Float($0) * gap - Float(t.count) * gap / 2 + gap / 2 }
        for i in stride(from: vals.count - 1, to: 0, by: -1) { vals.swapAt(i, rng.int(below: i + 1)) }
        t.data = vals
        return t
    }

    /// |a - n| / max(|a|, |n|) over vectors (norms).
    static func relativeError(analytic: [Double], numeric: [Double]) -> Double {
        var diff = 0.0, an = 0.0, nn = 0.0
        for (a, n) in zip(analytic, numeric) { diff += (a - n) * (a - n); an += a * a; nn += n * n }
        return diff.squareRoot() / max(an.squareRoot(), nn.squareRoot(), 1e-12)
    }

    /// inputs become Parameters; build maps (tape, vars) to the output Var.
    /// Returns the worst relative error over inputs: |a - n| / max(|a|, |n|, floor) on the sampled
    /// elements, measured as norms over the sample.
    @discardableResult
    static func check(_ name: String, inputs: [Tensor], training: Bool = true, h: Float = 1e-2, samples: Int = 30,
                      tolerance: Double = 2e-2, seed: UInt64 = 7,
                      file: StaticString = #filePath, line: UInt = #line,
                      _ build: (Tape, [Var]) -> Var) -> Double {
        var rng = RNG(seed: seed, stream: 99)
        let params = inputs.enumerated().map { Parameter(name: "in\($0.offset)", value: $0.element, decays: false) }
        // analytic
        let tape = Tape(training: training)
        let out = build(tape, params.map { tape.param($0) })
        let r = randomTensor(out.shape, &rng)
        tape.backward(out, seed: r)
        func objective() -> Double {
            let t = Tape(training: training)
            let o = t.value(build(t, params.map { t.param($0) }))
            var s = 0.0
            for i in 0..<o.count { s += Double(o.ptr[i]) * Double(r.ptr[i]) }
            return s
        }
        var worst = 0.0
        for (pi, p) in params.enumerated() {
            let n = p.value.count
            let picks = n <= samples ? Array(0..<n) : (0..<samples).map { _ in rng.int(below: n) }
            var analyticVals = [Double](), numericVals = [Double]()
            for i in picks {
                let old = p.value.ptr[i]
                p.value.ptr[i] = old + h
                let up = objective()
                p.value.ptr[i] = old - h
                let down = objective()
                p.value.ptr[i] = old
                let numeric = (up - down) / (2 * Double(h))
                analyticVals.append(Double(p.grad.ptr[i]))
                numericVals.append(numeric)
            }
            let rel = relativeError(analytic: analyticVals, numeric: numericVals)
            let an = analyticVals.reduce(0) { $0 + $1 * $1 }, nn = numericVals.reduce(0) { $0 + $1 * $1 }
            worst = max(worst, rel)
            XCTAssertLessThan(rel, tolerance, "\(name): input \(pi) relative gradient error \(rel) (|analytic| \(an.squareRoot()), |numeric| \(nn.squareRoot()))",
                              file: file, line: line)
            XCTAssertGreaterThan(nn.squareRoot(), 1e-6, "\(name): input \(pi) numeric gradient is zero, check is vacuous",
                                 file: file, line: line)
        }
        return worst
    }
}
