/// Draws one multi-object detection image: a textured background with objects pasted at random
/// positions, sizes and aspect ratios. Object sides are log-uniform over `sides`: a profile picks that
/// range so that the detector's anchors can match the boxes (docs/geometry.md), with an equal share of
/// objects per octave, hence per pyramid level. Objects are pasted largest first, so
/// small ones are never hidden behind big ones; overlap between objects is allowed up to IoU 0.3.
/// Boxes are tight around the pasted mask (coverage >= maskThreshold), not around the pasted patch.
struct DetectionComposer: Sendable {
    let source: any ObjectSource
    let size: Int
    let channels: Int
    let maxObjects: Int
    /// Range of sqrt(drawn area) in pixels.
    let sides: ClosedRange<Int>

    static let maxOverlap: Float = 0.3
    static let maskThreshold: Float = 0.2

    struct Drawn {
        var pixels: [UInt8]
        var boxes: [Box]
        var labels: [Int32]
    }

    func draw(_ rng: inout SplitMix64) -> Drawn {
        var pixels = background(&rng)
        let n = 1 + rng.below(maxObjects)
        var planned: [(pick: ObjectPick, w: Int, h: Int)] = []
        for _ in 0..<n {
            let side = exp(rng.uniform(log(Double(sides.lowerBound)), log(Double(sides.upperBound))))
            let pick = source.pick(&rng)
            let aspect = pick.aspect * exp(rng.uniform(log(0.75), log(4.0 / 3)))
            let limit = 0.9 * Double(size)
            let w = Int(min(limit, max(2, side * aspect.squareRoot())).rounded())
            let h = Int(min(limit, max(2, side / aspect.squareRoot())).rounded())
            planned.append((pick, w, h))
        }
        planned.sort { $0.w * $0.h > $1.w * $1.h }

        var boxes: [Box] = [], labels: [Int32] = []
        var placed: [Box] = []
        for p in planned {
            var spot: (Int, Int)?
            for _ in 0..<30 {
                let x = rng.below(size - p.w + 1), y = rng.below(size - p.h + 1)
                let b = Box(x1: Float(x), y1: Float(y), x2: Float(x + p.w), y2: Float(y + p.h))
                if placed.allSatisfy({ $0.iou(b) <= Self.maxOverlap }) { spot = (x, y); break }
            }
            guard let (x0, y0) = spot else { continue }
            let alpha = source.render(p.pick, width: p.w, height: p.h, rng: &rng)
            let tint = self.tint(&rng)
            var (bx0, by0, bx1, by1) = (Int.max, Int.max, -1, -1)
            for y in 0..<p.h {
                for x in 0..<p.w {
                    let v = alpha[y * p.w + x]
                    if v <= 0 { continue }
                    let a = min(1, 1.6 * v)
                    let base = ((y0 + y) * size + x0 + x) * channels
                    for k in 0..<channels {
                        let color = tint[k] * (0.35 + 0.65 * v) * 255
                        let old = Float(pixels[base + k])
                        pixels[base + k] = UInt8(min(255, max(0, old * (1 - a) + color * a)).rounded())
                    }
                    if v >= Self.maskThreshold {
                        bx0 = min(bx0, x); by0 = min(by0, y); bx1 = max(bx1, x); by1 = max(by1, y)
                    }
                }
            }
            placed.append(Box(x1: Float(x0), y1: Float(y0), x2: Float(x0 + p.w), y2: Float(y0 + p.h)))
            guard bx1 >= 0 else { continue }
            boxes.append(Box(x1: Float(x0 + bx0), y1: Float(y0 + by0), x2: Float(x0 + bx1 + 1), y2: Float(y0 + by1 + 1)))
            labels.append(p.pick.label)
        }
        return Drawn(pixels: pixels, boxes: boxes, labels: labels)
    }

    /// A bright colour (max channel 1) so objects stand out from the darker background; gray for C = 1.
    func tint(_ rng: inout SplitMix64) -> [Float] {
        if channels == 1 { return [Float(rng.uniform(0.8, 1))] }
        let c = (0..<channels).map { _ in Float(rng.uniform(0.2, 1)) }
        let m = c.max()!
        return c.map { $0 / m }
    }

    /// Dark base colour + linear gradient + coarse value noise (5x5 grid, bilinear) + per-pixel noise.
    func background(_ rng: inout SplitMix64) -> [UInt8] {
        let base = (0..<channels).map { _ in rng.uniform(10, 90) }
        let gx = rng.uniform(-30, 30), gy = rng.uniform(-30, 30)
        let grid = (0..<25).map { _ in Float(rng.uniform(-25, 25)) }
        let blobs = resizeBilinear(grid, width: 5, height: 5, channels: 1, toWidth: size, toHeight: size)
        var out = [UInt8](repeating: 0, count: size * size * channels)
        let inv = 1 / Double(size)
        for y in 0..<size {
            for x in 0..<size {
                let smooth = gx * (Double(x) * inv - 0.5) + gy * (Double(y) * inv - 0.5) + Double(blobs[y * size + x])
                for k in 0..<channels {
                    let v = base[k] + smooth + rng.uniform(-8, 8)
                    out[(y * size + x) * channels + k] = UInt8(min(255, max(0, v)).rounded())
                }
            }
        }
        return out
    }
}

import Foundation
