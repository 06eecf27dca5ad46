import Foundation

/// What `spinebench data inspect` prints: provenance, per-split counts, class and object-size histograms
/// (COCO thresholds times `areaScale`) and a checksum check; optionally a PNG preview.
public struct InspectReport: Sendable {
    public let text: String
    public let checksumOK: Bool
    /// Object counts per split per size class (small, medium, large).
    public let sizeHistogram: [String: [Int]]
    public let classHistogram: [String: [Int]]
}

public func inspectDataset(_ path: String, areaScale: Double, preview: String? = nil, previewCount: Int = 16) throws -> InspectReport {
    let f = try DatasetFile.open(path)
    var lines = ["file: \(path)", "name: \(f.name)   builder: \(f.builder)   format_version: \(DatasetFile.formatVersion)",
                 "source: \(f.source)", "seed: \(f.seed)   params: \(f.builderParams)",
                 "classes (\(f.classNames.count)): " + f.classNames.enumerated().map { "\($0) \($1)" }.joined(separator: ", ")]
    var sizes: [String: [Int]] = [:], classes: [String: [Int]] = [:]
    func pct(_ a: Int, _ total: Int) -> String { String(format: "%.1f%%", total == 0 ? 0 : 100 * Double(a) / Double(total)) }
    for name in DatasetFile.splitNames {
        let s = f.splits[name]!
        let m = s.allBoxes.count
        let perImage = (0..<s.count).map { Int(s.offsets[$0 + 1] - s.offsets[$0]) }
        lines.append("split \(name): \(s.count) images \(s.height)x\(s.width)x\(s.channels), \(m) boxes "
                     + String(format: "(%.2f per image, max %d, %d images without boxes)",
                              Double(m) / Double(max(1, s.count)), perImage.max() ?? 0, perImage.filter { $0 == 0 }.count))
        var hist = [Int](repeating: 0, count: f.classNames.count)
        for l in s.allLabels { hist[Int(l)] += 1 }
        classes[name] = hist
        lines.append("  classes: " + zip(f.classNames, hist).map { "\($0) \($1)" }.joined(separator: ", "))
        var sz = [0, 0, 0]
        for b in s.allBoxes { sz[SizeClass.of(area: b.area, areaScale: areaScale).rawValue] += 1 }
        sizes[name] = sz
        let t = SizeClass.thresholds(areaScale: areaScale)
        lines.append("  object sizes (area < \(String(format: "%.1f", t.small)) small, < \(String(format: "%.1f", t.medium)) medium, else large; COCO's 32^2/96^2 times \(String(format: "%.4g", areaScale))): "
                     + "small \(sz[0]) (\(pct(sz[0], m))), medium \(sz[1]) (\(pct(sz[1], m))), large \(sz[2]) (\(pct(sz[2], m)))")
    }
    let check = try f.verifyChecksum()
    lines.append("checksum: stored \(check.stored), computed \(check.computed): " + (check.ok ? "OK" : "MISMATCH"))
    if let preview {
        try Preview.write(split: f.splits["train"]!, count: previewCount, to: preview)
        lines.append("preview: \(preview) (first \(min(previewCount, f.splits["train"]!.count)) train images)")
    }
    return InspectReport(text: lines.joined(separator: "\n"), checksumOK: check.ok, sizeHistogram: sizes, classHistogram: classes)
}
