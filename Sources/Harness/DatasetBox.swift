import Datasets

/// The Datasets module's box (see DetectionBox.swift for why aliases).
typealias DatasetBox = Box

extension DetectionBox {
    init(_ b: DatasetBox) { self.init(x1: b.x1, y1: b.y1, x2: b.x2, y2: b.y2) }
}
