import Foundation

/// RetinaNet anchor settings (docs/paper-facts.md §8): per location `numScales` octave scales
/// 2^(i/numScales) times each aspect ratio, base size anchorSize * 2^level * scale.
public struct AnchorConfig: Equatable, Sendable {
    public var minLevel: Int
    public var maxLevel: Int
    public var numScales: Int
    /// Width over height. A ratio r gives width base*sqrt(r), height base/sqrt(r) (the TF Model Garden rule).
    public var aspectRatios: [Float]
    public var anchorSize: Float

    public init(minLevel: Int = 3, maxLevel: Int = 7, numScales: Int = 3,
                aspectRatios: [Float] = [1, 2, 0.5], anchorSize: Float = 3) {
        guard minLevel >= 0 && maxLevel >= minLevel else { fatalError("AnchorConfig: need 0 <= minLevel <= maxLevel") }
        guard numScales >= 1 && !aspectRatios.isEmpty else { fatalError("AnchorConfig: need scales and aspect ratios") }
        self.minLevel = minLevel; self.maxLevel = maxLevel; self.numScales = numScales
        self.aspectRatios = aspectRatios; self.anchorSize = anchorSize
    }

    /// Anchors per feature-map location (9 by default): the A in a head output of A*K channels.
    public var anchorsPerLocation: Int { numScales * aspectRatios.count }
    public var levels: ClosedRange<Int> { minLevel...maxLevel }
}

/// Where one level's anchors sit inside the flat anchor list.
public struct AnchorLevel: Equatable, Sendable {
    public let level: Int
    public let stride: Int
    /// Feature-map size: ceil(input / 2^level).
    public let height: Int, width: Int
    /// Index of this level's first anchor in `AnchorSet.boxes`.
    public let offset: Int
    /// height * width * anchorsPerLocation.
    public let count: Int
}

/// All anchors of one input size, in the order a head output is read when each level's NHWC tensor
/// [N, H, W, A*K] is reshaped to [N, H*W*A, K] and the levels are concatenated (minLevel first):
/// index = level offset + (y * W + x) * A + a, with a = scaleIndex * ratios.count + ratioIndex.
/// The same order holds for box outputs [N, H, W, A*4] (4 numbers per anchor, see BoxCoder).
public struct AnchorSet: Sendable {
    public let config: AnchorConfig
    public let imageHeight: Int, imageWidth: Int
    public let levels: [AnchorLevel]
    public let boxes: [Box]
    public var count: Int { boxes.count }

    public init(config: AnchorConfig = AnchorConfig(), imageHeight: Int, imageWidth: Int) {
        guard imageHeight > 0 && imageWidth > 0 else { fatalError("AnchorSet: image size must be positive") }
        self.config = config; self.imageHeight = imageHeight; self.imageWidth = imageWidth
        // Per-location shapes (half width, half height) in (scale, ratio) order.
        var levels: [AnchorLevel] = []
        var boxes: [Box] = []
        for level in config.levels {
            let stride = 1 << level
            let h = (imageHeight + stride - 1) / stride, w = (imageWidth + stride - 1) / stride
            var shapes: [(Float, Float)] = []
            for s in 0..<config.numScales {
                let base = config.anchorSize * Float(stride) * Float(pow(2.0, Double(s) / Double(config.numScales)))
                for r in config.aspectRatios {
                    let root = r.squareRoot()
                    shapes.append((base * root / 2, base / root / 2))
                }
            }
            let offset = boxes.count
            boxes.reserveCapacity(offset + h * w * shapes.count)
            for y in 0..<h {
                let cy = (Float(y) + 0.5) * Float(stride)
                for x in 0..<w {
                    let cx = (Float(x) + 0.5) * Float(stride)
                    for (hw, hh) in shapes {
                        boxes.append(Box(x1: cx - hw, y1: cy - hh, x2: cx + hw, y2: cy + hh))
                    }
                }
            }
            levels.append(AnchorLevel(level: level, stride: stride, height: h, width: w,
                                      offset: offset, count: boxes.count - offset))
        }
        self.levels = levels
        self.boxes = boxes
    }
}
