/// The Winograd transforms written out for F(2,3) and F(4,3) on 8 channels at a time: per tile (B^T d B,
/// A^T m A, A dy A^T) and per kernel (G w G^T, G^T dU G). The tile ones run once per tile per channel, so the
/// general matrix form (`Sandwich`), with its coefficient lookups per vector, cost as much as the products on
/// narrow layers; `Sandwich` stays the definition these are tested against.
enum WinogradTiles {
    enum Kind: Sendable { case f2, f4 }

    /// Which transform: of input tiles, of products back to outputs, of output gradients, of a kernel, of a
    /// transformed weight gradient back to a kernel.
    enum Transform: Sendable { case input, output, outputGrad, filter, filterGrad }

    /// Scratch floats `run` needs (any transform, either variant).
    static let scratch = 6 * 6 * 8

    /// out = P in P^T over entries of `channels` (>= 8) floats: entry (i, j) at src + i*srcRow + j*srcCol,
    /// result (a, b) at dst + a*dstRow + b*dstCol.
    static func run(_ which: Transform, _ kind: Kind, _ src: UnsafePointer<Float>, srcRow: Int, srcCol: Int,
                    _ dst: UnsafeMutablePointer<Float>, dstRow: Int, dstCol: Int, channels: Int,
                    scratch: UnsafeMutablePointer<Float>) {
        func go<T: Transform1D>(_ t: T.Type) {
            apply(t, src, srcRow: srcRow, srcCol: srcCol, dst, dstRow: dstRow, dstCol: dstCol, channels: channels,
                  scratch: scratch)
        }
        switch (which, kind) {
        case (.input, .f2): go(InputF2.self)
        case (.input, .f4): go(InputF4.self)
        case (.output, .f2): go(OutputF2.self)
        case (.output, .f4): go(OutputF4.self)
        case (.outputGrad, .f2): go(OutputGradF2.self)
        case (.outputGrad, .f4): go(OutputGradF4.self)
        case (.filter, .f2): go(FilterF2.self)
        case (.filter, .f4): go(FilterF4.self)
        case (.filterGrad, .f2): go(FilterGradF2.self)
        case (.filterGrad, .f4): go(FilterGradF4.self)
        }
    }

    /// The 2-D transform as two passes of a 1-D one, 8 channels at a time. The last 8-channel slice overlaps
    /// the one before when channels is not a multiple of 8 (the overlap is written twice with the same values).
    @inline(__always)
    static func apply<T: Transform1D>(_: T.Type, _ src: UnsafePointer<Float>, srcRow: Int, srcCol: Int,
                                      _ dst: UnsafeMutablePointer<Float>, dstRow: Int, dstCol: Int,
                                      channels c: Int, scratch: UnsafeMutablePointer<Float>) {
        var c0 = 0
        while c0 < c {
            let s = min(c0, c - 8)
            for j in 0..<T.ins { T.apply(src + s + j * srcCol, srcRow, scratch + j * 8, T.ins * 8) }
            for a in 0..<T.outs { T.apply(scratch + a * T.ins * 8, 8, dst + s + a * dstRow, dstCol) }
            c0 += 8
        }
    }
}

/// One 1-D transform on 8 channels: `ins` vectors at s, s+ss, ... to `outs` vectors at d, d+ds, ...
protocol Transform1D {
    static var ins: Int { get }
    static var outs: Int { get }
    static func apply(_ s: UnsafePointer<Float>, _ ss: Int, _ d: UnsafeMutablePointer<Float>, _ ds: Int)
}

private typealias V = SIMD8<Float>
@inline(__always) private func ld(_ p: UnsafePointer<Float>) -> V { SIMDKernels.load(p) }
@inline(__always) private func st(_ v: V, _ p: UnsafeMutablePointer<Float>) { SIMDKernels.store(v, p) }

/// B^T of F(2,3): rows [1 0 -1 0], [0 1 1 0], [0 -1 1 0], [0 1 0 -1].
enum InputF2: Transform1D {
    static let ins = 4, outs = 4
    @inline(__always) static func apply(_ s: UnsafePointer<Float>, _ ss: Int, _ d: UnsafeMutablePointer<Float>, _ ds: Int) {
        let d0 = ld(s), d1 = ld(s + ss), d2 = ld(s + 2 * ss), d3 = ld(s + 3 * ss)
        st(d0 - d2, d); st(d1 + d2, d + ds); st(d2 - d1, d + 2 * ds); st(d1 - d3, d + 3 * ds)
    }
}

/// A^T of F(2,3): rows [1 1 1 0], [0 1 -1 -1].
enum OutputF2: Transform1D {
    static let ins = 4, outs = 2
    @inline(__always) static func apply(_ s: UnsafePointer<Float>, _ ss: Int, _ d: UnsafeMutablePointer<Float>, _ ds: Int) {
        let m0 = ld(s), m1 = ld(s + ss), m2 = ld(s + 2 * ss), m3 = ld(s + 3 * ss)
        st(m0 + m1 + m2, d); st(m1 - m2 - m3, d + ds)
    }
}

/// A of F(2,3) (A^T transposed): rows [1 0], [1 1], [1 -1], [0 -1].
enum OutputGradF2: Transform1D {
    static let ins = 2, outs = 4
    @inline(__always) static func apply(_ s: UnsafePointer<Float>, _ ss: Int, _ d: UnsafeMutablePointer<Float>, _ ds: Int) {
        let y0 = ld(s), y1 = ld(s + ss)
        st(y0, d); st(y0 + y1, d + ds); st(y0 - y1, d + 2 * ds); st(-y1, d + 3 * ds)
    }
}

/// B^T of F(4,3): rows [4 0 -5 0 1 0], [0 -4 -4 1 1 0], [0 4 -4 -1 1 0], [0 -2 -1 2 1 0], [0 2 -1 -2 1 0],
/// [0 4 0 -5 0 1].
enum InputF4: Transform1D {
    static let ins = 6, outs = 6
    @inline(__always) static func apply(_ s: UnsafePointer<Float>, _ ss: Int, _ d: UnsafeMutablePointer<Float>, _ ds: Int) {
        let d0 = ld(s), d1 = ld(s + ss), d2 = ld(s + 2 * ss), d3 = ld(s + 3 * ss), d4 = ld(s + 4 * ss), d5 = ld(s + 5 * ss)
        let four = V(repeating: 4), five = V(repeating: 5), two = V(repeating: 2)
        let a = d4 - four * d2, b = d3 - four * d1          // rows 1, 2: (d4 - 4 d2) -/+ (4 d1 - d3)
        let c = d4 - d2, e = two * (d3 - d1)                // rows 3, 4: (d4 - d2) +/- 2 (d3 - d1)
        st(four * d0 - five * d2 + d4, d)
        st(a + b, d + ds)
        st(a - b, d + 2 * ds)
        st(c + e, d + 3 * ds)
        st(c - e, d + 4 * ds)
        st(four * d1 - five * d3 + d5, d + 5 * ds)
    }
}

/// A^T of F(4,3): rows [1 1 1 1 1 0], [0 1 -1 2 -2 0], [0 1 1 4 4 0], [0 1 -1 8 -8 1].
enum OutputF4: Transform1D {
    static let ins = 6, outs = 4
    @inline(__always) static func apply(_ s: UnsafePointer<Float>, _ ss: Int, _ d: UnsafeMutablePointer<Float>, _ ds: Int) {
        let m0 = ld(s), m1 = ld(s + ss), m2 = ld(s + 2 * ss), m3 = ld(s + 3 * ss), m4 = ld(s + 4 * ss), m5 = ld(s + 5 * ss)
        let p12 = m1 + m2, d12 = m1 - m2, p34 = m3 + m4, d34 = m3 - m4
        st(m0 + p12 + p34, d)
        st(d12 + V(repeating: 2) * d34, d + ds)
        st(p12 + V(repeating: 4) * p34, d + 2 * ds)
        st(d12 + V(repeating: 8) * d34 + m5, d + 3 * ds)
    }
}

/// A of F(4,3): rows [1 0 0 0], [1 1 1 1], [1 -1 1 -1], [1 2 4 8], [1 -2 4 -8], [0 0 0 1].
enum OutputGradF4: Transform1D {
    static let ins = 4, outs = 6
    @inline(__always) static func apply(_ s: UnsafePointer<Float>, _ ss: Int, _ d: UnsafeMutablePointer<Float>, _ ds: Int) {
        let y0 = ld(s), y1 = ld(s + ss), y2 = ld(s + 2 * ss), y3 = ld(s + 3 * ss)
        let even1 = y0 + y2, odd1 = y1 + y3
        let even2 = y0 + V(repeating: 4) * y2, odd2 = V(repeating: 2) * y1 + V(repeating: 8) * y3
        st(y0, d)
        st(even1 + odd1, d + ds)
        st(even1 - odd1, d + 2 * ds)
        st(even2 + odd2, d + 3 * ds)
        st(even2 - odd2, d + 4 * ds)
        st(y3, d + 5 * ds)
    }
}

/// G of F(2,3): rows [1 0 0], [1/2 1/2 1/2], [1/2 -1/2 1/2], [0 0 1].
enum FilterF2: Transform1D {
    static let ins = 3, outs = 4
    @inline(__always) static func apply(_ s: UnsafePointer<Float>, _ ss: Int, _ d: UnsafeMutablePointer<Float>, _ ds: Int) {
        let g0 = ld(s), g1 = ld(s + ss), g2 = ld(s + 2 * ss)
        let half = V(repeating: 0.5), even = half * (g0 + g2), odd = half * g1
        st(g0, d); st(even + odd, d + ds); st(even - odd, d + 2 * ds); st(g2, d + 3 * ds)
    }
}

/// G^T of F(2,3): rows [1 1/2 1/2 0], [0 1/2 -1/2 0], [0 1/2 1/2 1].
enum FilterGradF2: Transform1D {
    static let ins = 4, outs = 3
    @inline(__always) static func apply(_ s: UnsafePointer<Float>, _ ss: Int, _ d: UnsafeMutablePointer<Float>, _ ds: Int) {
        let u0 = ld(s), u1 = ld(s + ss), u2 = ld(s + 2 * ss), u3 = ld(s + 3 * ss)
        let half = V(repeating: 0.5), p = half * (u1 + u2)
        st(u0 + p, d); st(half * (u1 - u2), d + ds); st(p + u3, d + 2 * ds)
    }
}

/// G of F(4,3): rows [1/4 0 0], [-1/6 -1/6 -1/6], [-1/6 1/6 -1/6], [1/24 1/12 1/6], [1/24 -1/12 1/6], [0 0 1].
enum FilterF4: Transform1D {
    static let ins = 3, outs = 6
    @inline(__always) static func apply(_ s: UnsafePointer<Float>, _ ss: Int, _ d: UnsafeMutablePointer<Float>, _ ds: Int) {
        let g0 = ld(s), g1 = ld(s + ss), g2 = ld(s + 2 * ss)
        let a = V(repeating: -1.0 / 6) * (g0 + g2), b = V(repeating: -1.0 / 6) * g1
        let c = V(repeating: 1.0 / 24) * g0 + V(repeating: 1.0 / 6) * g2, e = V(repeating: 1.0 / 12) * g1
        st(V(repeating: 0.25) * g0, d)
        st(a + b, d + ds)
        st(a - b, d + 2 * ds)
        st(c + e, d + 3 * ds)
        st(c - e, d + 4 * ds)
        st(g2, d + 5 * ds)
    }
}

/// G^T of F(4,3): rows [1/4 -1/6 -1/6 1/24 1/24 0], [0 -1/6 1/6 1/12 -1/12 0], [0 -1/6 -1/6 1/6 1/6 1].
enum FilterGradF4: Transform1D {
    static let ins = 6, outs = 3
    @inline(__always) static func apply(_ s: UnsafePointer<Float>, _ ss: Int, _ d: UnsafeMutablePointer<Float>, _ ds: Int) {
        let u0 = ld(s), u1 = ld(s + ss), u2 = ld(s + 2 * ss), u3 = ld(s + 3 * ss), u4 = ld(s + 4 * ss), u5 = ld(s + 5 * ss)
        let p12 = u1 + u2, m12 = u2 - u1, p34 = u3 + u4, m34 = u3 - u4
        st(V(repeating: 0.25) * u0 - V(repeating: 1.0 / 6) * p12 + V(repeating: 1.0 / 24) * p34, d)
        st(V(repeating: 1.0 / 6) * m12 + V(repeating: 1.0 / 12) * m34, d + ds)
        st(V(repeating: 1.0 / 6) * p34 - V(repeating: 1.0 / 6) * p12 + u5, d + 2 * ds)
    }
}
