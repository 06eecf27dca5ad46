import Foundation

/// Box regression targets relative to an anchor, 4 numbers per anchor in the order (dx, dy, dw, dh):
/// dx = (gx - ax) / aw * wx, dy = (gy - ay) / ah * wy, dw = log(gw / aw) * ww, dh = log(gh / ah) * wh,
/// where (x, y) are centers and (wx, wy, ww, wh) the scale factors (all 1 by default).
public struct BoxCoder: Equatable, Sendable {
    public var scaleFactors: (x: Float, y: Float, w: Float, h: Float)
    /// Decoding clamps dw, dh (after dividing by the factors) to this, so exp never overflows:
    /// log(1000/16) as in Detectron, a box at most 62.5 times its anchor.
    public var maxLogRatio: Float

    public init(scaleFactors: (x: Float, y: Float, w: Float, h: Float) = (1, 1, 1, 1),
                maxLogRatio: Float = Float(log(1000.0 / 16.0))) {
        self.scaleFactors = scaleFactors; self.maxLogRatio = maxLogRatio
    }

    public static func == (a: BoxCoder, b: BoxCoder) -> Bool {
        a.scaleFactors == b.scaleFactors && a.maxLogRatio == b.maxLogRatio
    }

    /// Targets for `box` against `anchor`. Both must have positive width and height.
    public func encode(_ box: Box, anchor: Box) -> (Float, Float, Float, Float) {
        let aw = anchor.width, ah = anchor.height
        let dx = (box.centerX - anchor.centerX) / aw * scaleFactors.x
        let dy = (box.centerY - anchor.centerY) / ah * scaleFactors.y
        let dw = log(box.width / aw) * scaleFactors.w
        let dh = log(box.height / ah) * scaleFactors.h
        return (dx, dy, dw, dh)
    }

    /// The inverse of `encode`, clamping the log size ratios to `maxLogRatio`.
    public func decode(_ d: (Float, Float, Float, Float), anchor: Box) -> Box {
        let aw = anchor.width, ah = anchor.height
        let cx = d.0 / scaleFactors.x * aw + anchor.centerX
        let cy = d.1 / scaleFactors.y * ah + anchor.centerY
        let w = exp(min(d.2 / scaleFactors.w, maxLogRatio)) * aw
        let h = exp(min(d.3 / scaleFactors.h, maxLogRatio)) * ah
        return Box(centerX: cx, centerY: cy, width: w, height: h)
    }
}
