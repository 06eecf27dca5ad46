/// PNG contact sheets of images with their boxes and class indices drawn on, to see at a glance whether a
/// build (or an augmented batch) looks right.
enum Preview {
    static let palette: [(UInt8, UInt8, UInt8)] = [
        (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
        (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
    ]

    /// 3x5 digit glyphs, one row of 3 bits per line, top to bottom.
    static let digits: [[UInt8]] = [
        [7, 5, 5, 5, 7], [2, 6, 2, 2, 7], [7, 1, 7, 4, 7], [7, 1, 7, 1, 7], [5, 5, 7, 1, 1],
        [7, 4, 7, 1, 7], [7, 4, 7, 5, 7], [7, 1, 1, 1, 1], [7, 5, 7, 5, 7], [7, 5, 7, 1, 7],
    ]

    /// One tile: RGB pixels (height x width x 3) with boxes and labels in the same pixel coordinates.
    struct Tile {
        var rgb: [UInt8]
        var width: Int
        var height: Int
        var boxes: [Box]
        var labels: [Int32]
    }

    /// The first `count` stored images of a split.
    static func write(split: DatasetSplit, count: Int, to path: String) throws {
        let tiles = try (0..<min(count, split.count)).map { i in
            let img = try split.readImages(start: i, count: 1)
            let rgb = split.channels == 3 ? img : img.flatMap { [$0, $0, $0] }
            return Tile(rgb: rgb, width: split.width, height: split.height,
                        boxes: Array(split.boxes(of: i)), labels: Array(split.labels(of: i)))
        }
        try write(tiles, to: path)
    }

    /// Lays tiles out in a grid (zoomed to about 256 px each), draws boxes, writes a PNG.
    static func write(_ tiles: [Tile], columns: Int = 4, to path: String) throws {
        guard let first = tiles.first else { return }
        let zoom = max(1, 256 / max(first.width, first.height))
        let cw = first.width * zoom, ch = first.height * zoom, gap = 4
        let cols = min(columns, tiles.count), rows = (tiles.count + cols - 1) / cols
        let width = cols * (cw + gap) + gap, height = rows * (ch + gap) + gap
        var rgb = [UInt8](repeating: 255, count: width * height * 3)
        func put(_ x: Int, _ y: Int, _ c: (UInt8, UInt8, UInt8)) {
            guard x >= 0, y >= 0, x < width, y < height else { return }
            let i = (y * width + x) * 3
            (rgb[i], rgb[i + 1], rgb[i + 2]) = c
        }
        for (i, tile) in tiles.enumerated() {
            let ox = gap + (i % cols) * (cw + gap), oy = gap + (i / cols) * (ch + gap)
            for y in 0..<ch {
                for x in 0..<cw {
                    let p = ((y / zoom) * tile.width + x / zoom) * 3
                    put(ox + x, oy + y, (tile.rgb[p], tile.rgb[p + 1], tile.rgb[p + 2]))
                }
            }
            for (b, label) in zip(tile.boxes, tile.labels) {
                let color = palette[Int(label) % palette.count]
                let x1 = ox + Int(b.x1 * Float(zoom)), y1 = oy + Int(b.y1 * Float(zoom))
                let x2 = max(x1, ox + Int((b.x2 * Float(zoom)).rounded(.up)) - 1)
                let y2 = max(y1, oy + Int((b.y2 * Float(zoom)).rounded(.up)) - 1)
                for x in x1...x2 { put(x, y1, color); put(x, y2, color) }
                for y in y1...y2 { put(x1, y, color); put(x2, y, color) }
                // Class index in the box's top-left corner, on a dark tab so it reads on any background.
                let text = String(label).compactMap { $0.wholeNumberValue }
                for yy in 0..<7 { for xx in 0..<(4 * text.count + 1) { put(x1 + 1 + xx, y1 + 1 + yy, (0, 0, 0)) } }
                for (k, d) in text.enumerated() {
                    for (row, bits) in digits[d].enumerated() {
                        for col in 0..<3 where bits >> (2 - col) & 1 == 1 {
                            put(x1 + 2 + 4 * k + col, y1 + 2 + row, color)
                        }
                    }
                }
            }
        }
        try PNG.write(rgb: rgb, width: width, height: height, to: path)
    }
}
