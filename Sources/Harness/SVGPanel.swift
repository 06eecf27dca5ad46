/// One panel of an SVG figure: its plot area and the markup of its frame (title above, the x and y axes and their
/// labels). Tables, the scaling curve and the calibration report draw their panels alike through it.
struct SVGPanel {
    let left: Double, right: Double, top: Double, bottom: Double
    let frame: String

    /// A panel `width` x `height` at `x0`; `margin` is the room left of the y axis for its tick labels.
    init(x0: Double, width: Double, height: Double, margin: Double, title: String, xLabel: String, yLabel: String) {
        (left, right, top, bottom) = (x0 + margin, x0 + width - 16, 30, height - 40)
        let middleY = (top + bottom) / 2
        var s = "<text x=\"\(x0 + width / 2)\" y=\"16\" text-anchor=\"middle\" font-size=\"12\">\(escape(title))</text>\n"
        s += "<line x1=\"\(left)\" y1=\"\(bottom)\" x2=\"\(right)\" y2=\"\(bottom)\" stroke=\"black\"/>"
        s += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(bottom)\" stroke=\"black\"/>\n"
        s += "<text x=\"\((left + right) / 2)\" y=\"\(height - 8)\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        s += "<text x=\"\(x0 + 14)\" y=\"\(middleY)\" transform=\"rotate(-90 \(x0 + 14) \(middleY))\" "
        s += "text-anchor=\"middle\">\(escape(yLabel))</text>\n"
        frame = s
    }
}

/// An axis range around [lo, hi] with a tenth of the span (at least 5% of the larger end) to spare on each side.
func padded(_ lo: Double, _ hi: Double) -> (Double, Double) {
    let span = max(hi - lo, max(abs(hi), 1) * 0.05)
    return (lo - span * 0.1, hi + span * 0.1)
}

func escape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;")
}
