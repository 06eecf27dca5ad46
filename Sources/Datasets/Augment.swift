/// How one stored image maps to the square network input (protocol A): optionally flip horizontally,
/// resize by `scale`, then place at (offsetX, offsetY) in the output (negative offset = random crop,
/// zero = the image sits top-left and the rest is padding).
/// Forward: x_out = (flipped ? W - x : x) * scale + offsetX, y_out = y * scale + offsetY.
public struct ImageTransform: Equatable, Sendable {
    public var scale: Float
    public var offsetX: Float
    public var offsetY: Float
    public var flipped: Bool
    /// Stored image size, needed to undo the flip.
    public var originalWidth: Int
    public var originalHeight: Int

    public init(scale: Float, offsetX: Float = 0, offsetY: Float = 0, flipped: Bool = false,
                originalWidth: Int, originalHeight: Int) {
        self.scale = scale
        self.offsetX = offsetX
        self.offsetY = offsetY
        self.flipped = flipped
        self.originalWidth = originalWidth
        self.originalHeight = originalHeight
    }

    /// A stored-image box in output pixels (not clipped).
    public func apply(_ b: Box) -> Box {
        let w = Float(originalWidth)
        let (x1, x2) = flipped ? (w - b.x2, w - b.x1) : (b.x1, b.x2)
        return Box(x1: x1 * scale + offsetX, y1: b.y1 * scale + offsetY, x2: x2 * scale + offsetX, y2: b.y2 * scale + offsetY)
    }

    /// An output-pixel box (e.g. a detection) back in the stored image's pixels.
    public func toOriginal(_ b: Box) -> Box {
        let x1 = (b.x1 - offsetX) / scale, x2 = (b.x2 - offsetX) / scale
        let y1 = (b.y1 - offsetY) / scale, y2 = (b.y2 - offsetY) / scale
        let w = Float(originalWidth)
        return flipped ? Box(x1: w - x2, y1: y1, x2: w - x1, y2: y2) : Box(x1: x1, y1: y1, x2: x2, y2: y2)
    }

    /// Moves boxes into the output, clips them to [0, size]^2 and drops those left narrower or shorter
    /// than `minSide` output pixels (they fell out of the crop).
    func transform(boxes: ArraySlice<Box>, labels: ArraySlice<Int32>, outputSize: Int,
                   minSide: Float = 1) -> ([Box], [Int32]) {
        let s = Float(outputSize)
        var outBoxes: [Box] = [], outLabels: [Int32] = []
        for (b, l) in zip(boxes, labels) {
            let t = apply(b)
            let c = Box(x1: min(max(t.x1, 0), s), y1: min(max(t.y1, 0), s), x2: min(max(t.x2, 0), s), y2: min(max(t.y2, 0), s))
            if c.width >= minSide && c.height >= minSide {
                outBoxes.append(c)
                outLabels.append(l)
            }
        }
        return (outBoxes, outLabels)
    }

    /// Resamples a uint8 HWC image into a float size x size x C output: bilinear inside the placed
    /// image, `normalised(v) = v * gain[c] + bias[c]`, and 0 (the normalised mean) in the padding.
    func warp(_ src: UnsafePointer<UInt8>, channels c: Int, outputSize size: Int,
              gain: [Float], bias: [Float], into dst: UnsafeMutablePointer<Float>) {
        var xs = AxisTable(outCount: size, scale: Double(scale), offset: Double(offsetX), sourceCount: originalWidth)
        let ys = AxisTable(outCount: size, scale: Double(scale), offset: Double(offsetY), sourceCount: originalHeight)
        if flipped {
            let last = Int32(originalWidth - 1)
            for o in 0..<size { xs.i0[o] = last - xs.i0[o]; xs.i1[o] = last - xs.i1[o] }
        }
        let w = originalWidth
        for oy in 0..<size {
            let row = dst + oy * size * c
            guard ys.inside[oy] else { row.update(repeating: 0, count: size * c); continue }
            let r0 = src + Int(ys.i0[oy]) * w * c, r1 = src + Int(ys.i1[oy]) * w * c
            let wy = ys.w1[oy]
            for ox in 0..<size {
                let o = row + ox * c
                guard xs.inside[ox] else { for k in 0..<c { o[k] = 0 }; continue }
                let a = Int(xs.i0[ox]) * c, b = Int(xs.i1[ox]) * c, wx = xs.w1[ox]
                for k in 0..<c {
                    let top = Float(r0[a + k]) + (Float(r0[b + k]) - Float(r0[a + k])) * wx
                    let bottom = Float(r1[a + k]) + (Float(r1[b + k]) - Float(r1[a + k])) * wx
                    o[k] = (top + (bottom - top) * wy) * gain[k] + bias[k]
                }
            }
        }
    }
}
