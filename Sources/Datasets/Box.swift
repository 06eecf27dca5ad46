/// An axis-aligned box in pixels, (x1, y1) top-left and (x2, y2) bottom-right pixel edges
/// (a box around pixel columns 3...5 is x1 = 3, x2 = 6).
public struct Box: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var x1: Float, y1: Float, x2: Float, y2: Float

    public init(_ x1: Float, _ y1: Float, _ x2: Float, _ y2: Float) {
        self.x1 = x1; self.y1 = y1; self.x2 = x2; self.y2 = y2
    }

    public var width: Float { x2 - x1 }
    public var height: Float { y2 - y1 }
    public var area: Float { max(0, width) * max(0, height) }

    public func iou(_ o: Box) -> Float {
        let w = min(x2, o.x2) - max(x1, o.x1), h = min(y2, o.y2) - max(y1, o.y1)
        if w <= 0 || h <= 0 { return 0 }
        let inter = w * h
        return inter / (area + o.area - inter)
    }

    public var description: String { "(\(x1), \(y1), \(x2), \(y2))" }
}

/// COCO's object-size classes: areas below 32^2, below 96^2, and above, times `areaScale`. The harness
/// places them in the anchor pyramid with areaScale = (anchor_size / 3)^2 (docs/geometry.md). Area is
/// the box area (w*h) in pixels.
public enum SizeClass: Int, CaseIterable, Sendable, CustomStringConvertible {
    case small, medium, large

    public static func thresholds(areaScale: Double) -> (small: Float, medium: Float) {
        (Float(32 * 32 * areaScale), Float(96 * 96 * areaScale))
    }

    public static func of(area: Float, areaScale: Double) -> SizeClass {
        let t = thresholds(areaScale: areaScale)
        return area < t.small ? .small : area < t.medium ? .medium : .large
    }

    public var description: String { ["small", "medium", "large"][rawValue] }
}
