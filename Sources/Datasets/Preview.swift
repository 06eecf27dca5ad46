/// A PNG contact sheet of the first images of a split with their boxes and class indices drawn on,
/// to see at a glance whether a build looks right.
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

    static func write(split: DatasetSplit, count: Int, columns: Int = 4, to path: String) throws {
        let n = min(count, split.count)
        guard n > 0 else { return }
        let zoom = max(1, 256 / max(split.width, split.height))
        let cw = split.width * zoom, ch = split.height * zoom, gap = 4
        let cols = min(columns, n), rows = (n + cols - 1) / cols
        let width = cols * (cw + gap) + gap, height = rows * (ch + gap) + gap
        var rgb = [UInt8](repeating: 255, count: width * height * 3)
        func put(_ x: Int, _ y: Int, _ c: (UInt8, UInt8, UInt8)) {
            guard x >= 0, y >= 0, x < width, y < height else { return }
            let i = (y * width + x) * 3
            (rgb[i], rgb[i + 1], rgb[i + 2]) = c
        }
        for i in 0..<n {
            let ox = gap + (i % cols) * (cw + gap), oy = gap + (i / cols) * (ch + gap)
            let img = try split.readImages(start: i, count: 1)
            let c = split.channels
            for y in 0..<ch {
                for x in 0..<cw {
                    let p = ((y / zoom) * split.width + x / zoom) * c
                    put(ox + x, oy + y, c == 3 ? (img[p], img[p + 1], img[p + 2]) : (img[p], img[p], img[p]))
                }
            }
            for (b, label) in zip(split.boxes(of: i), split.labels(of: i)) {
                let color = palette[Int(label) % palette.count]
                let x1 = ox + Int(b.x1) * zoom, y1 = oy + Int(b.y1) * zoom
                let x2 = ox + Int(b.x2.rounded(.up)) * zoom - 1, y2 = oy + Int(b.y2.rounded(.up)) * zoom - 1
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
