/// exp and log1p on 8 lanes for the loss kernels: libm's scalar calls (expf, log1pf, powf) per element cost
/// more than everything else in a focal loss over millions of anchor-class entries. Polynomials of the
/// classic Cephes single-precision routines (a few ulp; checked against libm in the engine tests), their
/// Horner steps as fused multiply-adds (the focal kernel 14% faster than with separate products and sums).
enum SIMDMath {
    typealias F8 = SIMD8<Float>
    typealias I8 = SIMD8<Int32>

    /// e^x for x <= 0 (below -87 the result is clamped to about 1e-38, not 0).
    @inline(__always)
    static func expNonPositive(_ x: F8) -> F8 {
        let x = x.replacing(with: -87, where: x .< -87)
        // n = round(x / ln2) through the 1.5 * 2^23 trick: the integer lands in the mantissa bits.
        let magic: Float = 12_582_912
        let t = x * 1.442_695_04 + magic
        let n = t - magic
        let r = (x - n * 0.693_359_375) + n * 2.121_944_4e-4
        var p = F8(repeating: 1.987_569_15e-4)
        p = F8(repeating: 1.398_199_950_7e-3).addingProduct(p, r)
        p = F8(repeating: 8.333_451_907_3e-3).addingProduct(p, r)
        p = F8(repeating: 4.166_579_589_4e-2).addingProduct(p, r)
        p = F8(repeating: 1.666_666_545_9e-1).addingProduct(p, r)
        p = F8(repeating: 5.000_000_120_1e-1).addingProduct(p, r)
        p = p * (r * r) + r + 1
        let ni = unsafeBitCast(t, to: I8.self) &- I8(repeating: Int32(bitPattern: magic.bitPattern))
        let scale = unsafeBitCast((ni &+ 127) &<< 23, to: F8.self)
        return p * scale
    }

    /// log(1 + x) for 0 <= x <= 1: log of u = 1 + x, plus the rounding of 1 + x corrected to first order.
    @inline(__always)
    static func log1pUnit(_ x: F8) -> F8 { log1pUnit(x, reciprocal: 1 / (x + 1)) }

    /// The same, given 1 / (1 + x) (callers that need it anyway save a division).
    @inline(__always)
    static func log1pUnit(_ x: F8, reciprocal: F8) -> F8 {
        let u = x + 1
        // u in [1, 2]: above sqrt(2) take u/2 and add ln 2, so f = m - 1 stays in [-0.29, 0.42].
        let big = u .> 1.414_213_5
        let m = u.replacing(with: u * 0.5, where: big)
        let e = F8(repeating: 0).replacing(with: 1, where: big)
        let f = m - 1
        let z = f * f
        var p = F8(repeating: 7.037_683_629_2e-2)
        p = F8(repeating: -1.151_461_031_0e-1).addingProduct(p, f)
        p = F8(repeating: 1.167_699_874_0e-1).addingProduct(p, f)
        p = F8(repeating: -1.242_014_084_6e-1).addingProduct(p, f)
        p = F8(repeating: 1.424_932_278_7e-1).addingProduct(p, f)
        p = F8(repeating: -1.666_805_766_5e-1).addingProduct(p, f)
        p = F8(repeating: 2.000_071_476_5e-1).addingProduct(p, f)
        p = F8(repeating: -2.499_999_399_3e-1).addingProduct(p, f)
        p = F8(repeating: 3.333_333_117_4e-1).addingProduct(p, f)
        var y = f * z * p
        y += e * -2.121_944_4e-4
        y -= z * 0.5
        let logU = f + y + e * 0.693_359_375
        return logU + (x - (u - 1)) * reciprocal
    }

    /// sqrt(x) for x >= 0 as x / sqrt(x) from the bit-trick reciprocal square root and three Newton steps
    /// (F8.squareRoot() calls sqrtf lane by lane).
    @inline(__always)
    static func sqrt(_ x: F8) -> F8 {
        var y = unsafeBitCast(I8(repeating: 0x5f37_59df) &- (unsafeBitCast(x, to: I8.self) &>> 1), to: F8.self)
        let half = x * 0.5
        for _ in 0..<3 { y = y * (1.5 - half * y * y) }
        return x * y
    }
}
