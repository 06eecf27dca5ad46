/// Bilinear resampling with half-pixel centres (TF "align_corners=false"): output pixel o samples source
/// coordinate (o + 0.5 - offset) / scale - 0.5, clamped to the edge pixels. Weights are tabulated once per
/// axis, so the per-pixel work is four multiply-adds.
struct AxisTable {
    var i0: [Int32]
    var i1: [Int32]
    var w1: [Float]
    /// False where the output pixel falls outside the scaled source (it is padding).
    var inside: [Bool]

    init(outCount: Int, scale: Double, offset: Double, sourceCount: Int) {
        i0 = []; i1 = []; w1 = []; inside = []
        i0.reserveCapacity(outCount); i1.reserveCapacity(outCount); w1.reserveCapacity(outCount)
        let extent = Double(sourceCount) * scale
        for o in 0..<outCount {
            let pos = Double(o) + 0.5 - offset
            inside.append(pos >= 0 && pos <= extent)
            let s = min(max(pos / scale - 0.5, 0), Double(sourceCount - 1))
            let f = s.rounded(.down)
            i0.append(Int32(f))
            i1.append(Int32(min(Int(f) + 1, sourceCount - 1)))
            w1.append(Float(s - f))
        }
    }
}

/// Resizes an HWC float image to (toWidth, toHeight).
func resizeBilinear(_ src: [Float], width: Int, height: Int, channels c: Int, toWidth: Int, toHeight: Int) -> [Float] {
    let xs = AxisTable(outCount: toWidth, scale: Double(toWidth) / Double(width), offset: 0, sourceCount: width)
    let ys = AxisTable(outCount: toHeight, scale: Double(toHeight) / Double(height), offset: 0, sourceCount: height)
    var out = [Float](repeating: 0, count: toWidth * toHeight * c)
    for oy in 0..<toHeight {
        let r0 = Int(ys.i0[oy]) * width, r1 = Int(ys.i1[oy]) * width, wy = ys.w1[oy]
        for ox in 0..<toWidth {
            let a = Int(xs.i0[ox]), b = Int(xs.i1[ox]), wx = xs.w1[ox]
            for k in 0..<c {
                let top = src[(r0 + a) * c + k] * (1 - wx) + src[(r0 + b) * c + k] * wx
                let bottom = src[(r1 + a) * c + k] * (1 - wx) + src[(r1 + b) * c + k] * wx
                out[(oy * toWidth + ox) * c + k] = top * (1 - wy) + bottom * wy
            }
        }
    }
    return out
}
