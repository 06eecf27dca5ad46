import Foundation

/// Weight initialisers in TF's conventions. Fans: conv HWIO [kh,kw,cin,cout] -> fan_in = kh*kw*cin,
/// fan_out = kh*kw*cout; dense [in,out] -> in, out.
public enum Initializer: Sendable {
    public enum FanMode: Sendable { case fanIn, fanOut, fanAvg }
    public enum Distribution: Sendable { case truncatedNormal, uniform, untruncatedNormal }

    case varianceScaling(scale: Float = 1, mode: FanMode = .fanIn, distribution: Distribution = .truncatedNormal)
    case normal(sigma: Float)
    case constant(Float)

    public static func fans(_ shape: [Int]) -> (fanIn: Int, fanOut: Int) {
        switch shape.count {
        case 0: return (1, 1)
        case 1: return (shape[0], shape[0])
        case 2: return (shape[0], shape[1])
        default:
            let receptive = shape.dropLast(2).reduce(1, *)
            return (receptive * shape[shape.count - 2], receptive * shape[shape.count - 1])
        }
    }

    public func make(shape: [Int], rng: inout RNG) -> Tensor {
        let t = Tensor(zeros: shape)
        let p = t.ptr
        switch self {
        case .constant(let v):
            t.fill(v)
        case .normal(let sigma):
            for i in 0..<t.count { p[i] = sigma * rng.normal() }
        case .varianceScaling(let scale, let mode, let dist):
            let (fi, fo) = Initializer.fans(shape)
            let n: Float
            switch mode {
            case .fanIn: n = Float(max(1, fi))
            case .fanOut: n = Float(max(1, fo))
            case .fanAvg: n = max(1, Float(fi + fo) / 2)
            }
            let variance = scale / n
            switch dist {
            case .truncatedNormal:
                // TF: stddev of a unit normal truncated to [-2, 2] is 0.87962566; divide to keep the variance.
                let sd = variance.squareRoot() / 0.879_625_66
                for i in 0..<t.count {
                    var z = rng.normal()
                    while abs(z) > 2 { z = rng.normal() }
                    p[i] = sd * z
                }
            case .untruncatedNormal:
                let sd = variance.squareRoot()
                for i in 0..<t.count { p[i] = sd * rng.normal() }
            case .uniform:
                let limit = (3 * variance).squareRoot()
                for i in 0..<t.count { p[i] = rng.uniform(-limit, limit) }
            }
        }
        return t
    }
}
