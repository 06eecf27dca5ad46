import XCTest
@testable import Engine

/// Winograd 3x3 convolutions against the im2col path they replace, and their gradients against finite
/// differences.
final class WinogradTests: XCTestCase {
    /// 1-D F(m, 3): A^T [(G g) . (B^T d)] is the correlation y[i] = sum_k d[i+k] g[k]. Catches a wrong
    /// entry in any transform matrix.
    func testTransformMatricesComputeCorrelation() {
        var rng = RNG(seed: 11)
        for wino in [Winograd.f2, Winograd.f4] {
            let t = wino.t, m = wino.m
            let d = (0..<t).map { _ in rng.normal() }, g = (0..<3).map { _ in rng.normal() }
            // one-vector sandwiches of a rank-one 2-D input d d^T reduce to the 1-D transforms squared
            func apply(_ s: Sandwich, _ input: [Float], _ n: Int) -> [Float] {
                var out = [Float](repeating: 0, count: s.rows * s.rows)
                var mid = [Float](repeating: 0, count: s.scratch(len: 1))
                input.withUnsafeBufferPointer { i in
                    out.withUnsafeMutableBufferPointer { o in
                        mid.withUnsafeMutableBufferPointer { sc in
                            s.apply(i.baseAddress!, srcRow: n, srcCol: 1, o.baseAddress!, dstRow: s.rows, dstCol: 1,
                                    len: 1, scratch: sc.baseAddress!)
                        }
                    }
                }
                return out
            }
            let v = apply(wino.input, (0..<(t * t)).map { d[$0 / t] * d[$0 % t] }, t)
            let u = apply(wino.filter, (0..<9).map { g[$0 / 3] * g[$0 % 3] }, 3)
            let y = apply(wino.output, zip(u, v).map(*), t)
            for i in 0..<m {
                for j in 0..<m {
                    let yi = (0..<3).reduce(Float(0)) { $0 + d[i + $1] * g[$1] }
                    let yj = (0..<3).reduce(Float(0)) { $0 + d[j + $1] * g[$1] }
                    XCTAssertEqual(y[i * m + j], yi * yj, accuracy: 1e-4 * (1 + abs(yi * yj)), "F(\(m),3) [\(i),\(j)]")
                }
            }
        }
    }

    /// The written-out tile and filter transforms equal the matrix form, with 13 channels (one overlapping slice).
    func testTileKernelsMatchMatrices() {
        var rng = RNG(seed: 14)
        let c = 13
        for wino in [Winograd.f2, Winograd.f4] {
            let t = wino.t, m = wino.m
            typealias Fast = (WinogradTiles.Kind, UnsafePointer<Float>, Int, Int, UnsafeMutablePointer<Float>, Int, Int,
                              Int, UnsafeMutablePointer<Float>) -> Void
            let pairs: [(String, Sandwich, Int, Fast)] = [
                ("input", wino.input, t, { WinogradTiles.run(.input, $0, $1, srcRow: $2, srcCol: $3, $4, dstRow: $5, dstCol: $6, channels: $7, scratch: $8) }),
                ("output", wino.output, t, { WinogradTiles.run(.output, $0, $1, srcRow: $2, srcCol: $3, $4, dstRow: $5, dstCol: $6, channels: $7, scratch: $8) }),
                ("outputGrad", wino.outputGrad, m, { WinogradTiles.run(.outputGrad, $0, $1, srcRow: $2, srcCol: $3, $4, dstRow: $5, dstCol: $6, channels: $7, scratch: $8) }),
                ("filter", wino.filter, 3, { WinogradTiles.run(.filter, $0, $1, srcRow: $2, srcCol: $3, $4, dstRow: $5, dstCol: $6, channels: $7, scratch: $8) }),
                ("filterGrad", wino.filterGrad, t, { WinogradTiles.run(.filterGrad, $0, $1, srcRow: $2, srcCol: $3, $4, dstRow: $5, dstCol: $6, channels: $7, scratch: $8) }),
            ]
            for (name, matrix, size, fast) in pairs {
                let src = GradCheck.randomTensor([size * size * c], &rng)
                let r = matrix.rows
                let want = Tensor(zeros: [r * r * c]), got = Tensor(zeros: [r * r * c])
                let scratch = Tensor(zeros: [max(matrix.scratch(len: c), WinogradTiles.scratch)])
                matrix.apply(src.ptr, srcRow: size * c, srcCol: c, want.ptr, dstRow: r * c, dstCol: c, len: c, scratch: scratch.ptr)
                fast(wino.tiles, src.ptr, size * c, c, got.ptr, r * c, c, c, scratch.ptr)
                XCTAssertLessThan(Self.relativeMaxError(got.data, want.data), 1e-6, "F(\(m),3) \(name)")
            }
        }
    }

    struct Case { let n, h, w, cin, cout: Int }

    /// Forward, input and weight gradients of both variants equal im2col's on shapes with ragged edge tiles,
    /// maps smaller than a tile, several chunks of tiles (wide), and items run whole on one thread (narrow, last).
    func testMatchesIm2col() {
        let cases = [Case(n: 2, h: 9, w: 7, cin: 8, cout: 11), Case(n: 1, h: 4, w: 4, cin: 12, cout: 8),
                     Case(n: 3, h: 2, w: 3, cin: 17, cout: 9), Case(n: 2, h: 16, w: 16, cin: 64, cout: 91),
                     Case(n: 4, h: 32, w: 30, cin: 256, cout: 768), Case(n: 6, h: 30, w: 29, cin: 16, cout: 24)]
        var rng = RNG(seed: 12)
        for c in cases {
            let x = GradCheck.randomTensor([c.n, c.h, c.w, c.cin], &rng)
            let w = GradCheck.randomTensor([3, 3, c.cin, c.cout], &rng, scale: (1 / Float(9 * c.cin)).squareRoot())
            let dy = GradCheck.randomTensor([c.n, c.h, c.w, c.cout], &rng)
            let g = ConvGeometry(x: x.shape, w: w.shape, stride: 1)
            if c.cin == 16 {
                XCTAssertNotNil(WinogradConv.Plan(.f4, n: c.n, h: c.h, w: c.w, channels: 40).fusedItems(cin: 16, cout: 24))
            }
            let y0 = Tensor(zeros: dy.shape), dx0 = Tensor(zeros: x.shape), dw0 = Tensor(zeros: w.shape)
            ConvKernels.forward(g, x: x.ptr, w: w.ptr, bias: nil, y: y0.ptr, winograd: false)
            ConvKernels.backward(g, x: x.ptr, w: w.ptr, dy: dy.ptr, dx: dx0.ptr, dw: dw0.ptr, winograd: false)
            for wino in [Winograd.f2, Winograd.f4] {
                let y = Tensor(zeros: dy.shape), dx = Tensor(zeros: x.shape), dw = Tensor(zeros: w.shape)
                WinogradConv.forward(g, wino, x: x.ptr, w: w.ptr, y: y.ptr)
                WinogradConv.backward(g, wino, x: x.ptr, w: w.ptr, dy: dy.ptr, dx: dx.ptr, dw: dw.ptr)
                for (name, got, want) in [("y", y, y0), ("dx", dx, dx0), ("dw", dw, dw0)] {
                    let err = Self.relativeMaxError(got.data, want.data)
                    XCTAssertLessThan(err, wino.m == 2 ? 2e-6 : 2e-5, "F(\(wino.m),3) \(name) \(c)")
                }
            }
        }
    }

    /// The tape's conv takes the Winograd path on a shape with enough tiles, and its gradients still match
    /// finite differences.
    func testTapeGradientsThroughWinograd() {
        var rng = RNG(seed: 13)
        let x = GradCheck.randomTensor([3, 16, 16, 8], &rng), w = GradCheck.randomTensor([3, 3, 8, 9], &rng, scale: 0.2)
        let g = ConvGeometry(x: x.shape, w: w.shape, stride: 1)
        XCTAssertEqual(Winograd.variant(for: g)?.m, 4)
        GradCheck.check("winograd conv", inputs: [x, w, GradCheck.randomTensor([9], &rng)]) { t, v in
            t.conv2d(v[0], v[1], bias: v[2], stride: 1)
        }
    }

    /// max |a - b| over max |b|.
    static func relativeMaxError(_ a: [Float], _ b: [Float]) -> Float {
        var diff: Float = 0, scale: Float = 0
        for (x, y) in zip(a, b) { diff = max(diff, abs(x - y)); scale = max(scale, abs(y)) }
        return diff / max(scale, 1e-20)
    }
}
