/// An axis-aligned box in pixel coordinates, corners (x1, y1) top-left and (x2, y2) bottom-right.
/// Coordinates are continuous (no "+1" pixel convention): width is x2 - x1, as in COCO and TF; a box
/// around pixel columns 3...5 is x1 = 3, x2 = 6. The one box type of datasets, anchors and detections.
public struct Box: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var x1: Float, y1: Float, x2: Float, y2: Float

    public init(x1: Float, y1: Float, x2: Float, y2: Float) {
        self.x1 = x1; self.y1 = y1; self.x2 = x2; self.y2 = y2
    }

    /// From a center and a size.
    public init(centerX: Float, centerY: Float, width: Float, height: Float) {
        self.init(x1: centerX - width / 2, y1: centerY - height / 2,
                  x2: centerX + width / 2, y2: centerY + height / 2)
    }

    public var width: Float { x2 - x1 }
    public var height: Float { y2 - y1 }
    public var centerX: Float { (x1 + x2) / 2 }
    public var centerY: Float { (y1 + y2) / 2 }
    /// Zero for empty or inverted boxes.
    public var area: Float { max(0, width) * max(0, height) }

    /// Intersection over union; 0 when either box is empty.
    public func iou(_ other: Box) -> Float {
        let iw = min(x2, other.x2) - max(x1, other.x1)
        let ih = min(y2, other.y2) - max(y1, other.y1)
        if iw <= 0 || ih <= 0 { return 0 }
        let inter = iw * ih
        let union = area + other.area - inter
        return union > 0 ? inter / union : 0
    }

    /// The box limited to [0, width] x [0, height].
    public func clipped(width w: Float, height h: Float) -> Box {
        Box(x1: min(max(x1, 0), w), y1: min(max(y1, 0), h), x2: min(max(x2, 0), w), y2: min(max(y2, 0), h))
    }

    /// Every coordinate multiplied by `s` (e.g. to map detections back to the original image size).
    public func scaled(by s: Float) -> Box { Box(x1: x1 * s, y1: y1 * s, x2: x2 * s, y2: y2 * s) }

    public var description: String { "Box(\(x1), \(y1), \(x2), \(y2))" }
}

/// COCO's object-size classes: areas below 32^2, below 96^2, and above, times `areaScale`. The harness
/// places them in the anchor pyramid with areaScale = (anchor_size / 3)^2 (docs/geometry.md). Area is
/// the box area (w*h) in pixels.
public enum SizeClass: Int, CaseIterable, Sendable, CustomStringConvertible {
    case small, medium, large

    /// The bounds: areas below `small` are small, below `medium` medium, the rest large.
    public static func bounds(areaScale: Double) -> (small: Double, medium: Double) {
        (32 * 32 * areaScale, 96 * 96 * areaScale)
    }

    public static func thresholds(areaScale: Double) -> (small: Float, medium: Float) {
        let b = bounds(areaScale: areaScale)
        return (Float(b.small), Float(b.medium))
    }

    public static func of(area: Float, areaScale: Double) -> SizeClass {
        let t = thresholds(areaScale: areaScale)
        return area < t.small ? .small : area < t.medium ? .medium : .large
    }

    public var description: String { ["small", "medium", "large"][rawValue] }
}
