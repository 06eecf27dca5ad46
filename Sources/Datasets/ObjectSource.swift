/// Where a detection builder gets its objects: a class, a natural aspect ratio, and an alpha mask.
protocol ObjectSource: Sendable {
    var classNames: [String] { get }
    /// Chooses an object (class, which item, its natural width/height ratio).
    func pick(_ rng: inout SplitMix64) -> ObjectPick
    /// The object as coverage in [0, 1], row-major width x height.
    func render(_ pick: ObjectPick, width: Int, height: Int, rng: inout SplitMix64) -> [Float]
}

struct ObjectPick: Sendable {
    var label: Int32
    var item: Int
    var aspect: Double
}

/// Seeded synthetic shapes: the built-in source that needs no installed files.
struct ShapeObjects: ObjectSource {
    static let names = ["circle", "square", "triangle", "cross", "ring", "diamond", "star", "bar"]
    var classNames: [String] { Self.names }

    func pick(_ rng: inout SplitMix64) -> ObjectPick {
        let label = rng.below(Self.names.count)
        // Bars are long and thin; everything else starts square and gets the builder's aspect jitter.
        return ObjectPick(label: Int32(label), item: 0, aspect: Self.names[label] == "bar" ? 3 : 1)
    }

    /// Inside test in coordinates u, v in [-1, 1].
    static func inside(_ label: Int, _ u: Double, _ v: Double) -> Bool {
        switch names[label] {
        case "circle": return u * u + v * v <= 1
        case "square", "bar": return true
        case "triangle": return v >= -1 && abs(u) <= (v + 1) / 2
        case "cross": return abs(u) <= 0.34 || abs(v) <= 0.34
        case "ring": let r = u * u + v * v; return r <= 1 && r >= 0.36
        case "diamond": return abs(u) + abs(v) <= 1
        default: // star: radius varies with angle, five points
            let r = (u * u + v * v).squareRoot(), a = atan2(v, u)
            return r <= 0.55 + 0.45 * cos(5 * a)
        }
    }

    /// 3x3 supersampled coverage times a random shade with a soft gradient, so shapes are not flat.
    func render(_ pick: ObjectPick, width: Int, height: Int, rng: inout SplitMix64) -> [Float] {
        let shade = rng.uniform(0.7, 1), tilt = rng.uniform(-0.25, 0.25)
        var out = [Float](repeating: 0, count: width * height)
        for y in 0..<height {
            for x in 0..<width {
                var hits = 0
                for sy in 0..<3 {
                    for sx in 0..<3 {
                        let u = (Double(x) + (Double(sx) + 0.5) / 3) / Double(width) * 2 - 1
                        let v = (Double(y) + (Double(sy) + 0.5) / 3) / Double(height) * 2 - 1
                        if Self.inside(Int(pick.label), u, v) { hits += 1 }
                    }
                }
                let g = shade * (1 + tilt * (Double(y) / Double(max(1, height - 1)) * 2 - 1))
                out[y * width + x] = Float(Double(hits) / 9 * min(1, g))
            }
        }
        return out
    }
}

import Foundation
