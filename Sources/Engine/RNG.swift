import Common
/// Seeded counter-based generator (SplitMix64 mixing of key + counter). A value depends only on
/// (seed, stream, index), so forked streams never depend on thread timing or on each other.
public struct RNG: Sendable {
    private let key: UInt64
    private var counter: UInt64 = 0

    public init(seed: UInt64, stream: UInt64 = 0) {
        key = RNG.mix(RNG.mix(seed &+ 0x9E37_79B9_7F4A_7C15) ^ RNG.mix(stream &* 0xD1B5_4A32_D192_ED03 &+ 1))
    }

    private init(key: UInt64) { self.key = key }

    @inline(__always)
    static func mix(_ x: UInt64) -> UInt64 { SplitMix64.mix(x) }

    public mutating func next() -> UInt64 {
        counter &+= 1
        return RNG.mix(key &+ counter &* 0x9E37_79B9_7F4A_7C15)
    }

    /// Uniform in [0, 1) with 24 random bits.
    public mutating func uniform() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

    /// Uniform in [lo, hi).
    public mutating func uniform(_ lo: Float, _ hi: Float) -> Float { lo + (hi - lo) * uniform() }

    /// Integer uniform in 0..<n.
    public mutating func int(below n: Int) -> Int {
        precondition(n > 0, "RNG.int(below:) needs n > 0, got \(n)")
        return Int(next() % UInt64(n))
    }

    /// Standard normal by Box-Muller (one value per call; deterministic in call count).
    public mutating func normal() -> Float {
        let u1 = (Double(next() >> 11) + 1) * (1.0 / 9_007_199_254_740_993.0)   // (0, 1]
        let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        return Float((-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2))
    }

    /// Independent child stream.
    public func fork(_ stream: UInt64) -> RNG {
        RNG(key: RNG.mix(key ^ RNG.mix(stream &+ 0x632B_E59B_D9B4_E019)))
    }
}

import Foundation
@inline(__always) private func _log(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Foundation.cos(x) }
