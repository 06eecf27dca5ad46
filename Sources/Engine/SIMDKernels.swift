/// Branch-free kernels for data-dependent selects (relu mask, running max): a mispredicted branch per
/// element costs more than the arithmetic, so these work on 8 lanes with vector selects.
enum SIMDKernels {
    typealias F8 = SIMD8<Float>
    typealias I8 = SIMD8<Int32>

    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> F8 { UnsafeRawPointer(p).loadUnaligned(as: F8.self) }
    @inline(__always) static func store(_ v: F8, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: F8.self)
    }

    /// dx[i] = y[i] > 0 ? dy[i] : 0 over range r.
    static func reluBackward(_ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ r: Range<Int>) {
        var i = r.lowerBound
        while i + 8 <= r.upperBound {
            store(load(dy + i).replacing(with: 0, where: load(y + i) .<= 0), dx + i)
            i += 8
        }
        while i < r.upperBound { dx[i] = y[i] > 0 ? dy[i] : 0; i += 1 }
    }

    /// Running max over c channels: where row > best, best = row and arg = base + channel.
    static func maxUpdate(_ row: UnsafePointer<Float>, base: Int32, _ best: UnsafeMutablePointer<Float>,
                          _ arg: UnsafeMutablePointer<Int32>, _ c: Int) {
        var ch = 0
        let lanes = I8(0, 1, 2, 3, 4, 5, 6, 7)
        while ch + 8 <= c {
            let v = load(row + ch), b = load(best + ch)
            let m = v .> b
            store(b.replacing(with: v, where: m), best + ch)
            let ap = UnsafeMutableRawPointer(arg + ch)
            let a = ap.loadUnaligned(as: I8.self)
            ap.storeBytes(of: a.replacing(with: I8(repeating: base + Int32(ch)) &+ lanes, where: m), as: I8.self)
            ch += 8
        }
        while ch < c {
            if row[ch] > best[ch] { best[ch] = row[ch]; arg[ch] = base + Int32(ch) }
            ch += 1
        }
    }

    /// Sum of squares: 8 float lanes within blocks of 1024 elements, blocks added in Double.
    static func sumOfSquares(_ x: UnsafePointer<Float>, _ n: Int) -> Double {
        var total = 0.0, i = 0
        while i < n {
            let end = min(n, i + 1024)
            var acc = F8()
            while i + 8 <= end { let v = load(x + i); acc += v * v; i += 8 }
            var s = Double(acc.sum())
            while i < end { s += Double(x[i] * x[i]); i += 1 }
            total += s
        }
        return total
    }
}
