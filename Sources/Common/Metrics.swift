/// One score a run reports. The raw value is its name in records, tables and experiment files.
public enum Metric: String, CaseIterable, Codable, Sendable, Comparable, CustomStringConvertible {
    /// Detection: the 12 COCO box metrics in pycocotools' summary order, in percent.
    case ap = "AP", ap50 = "AP50", ap75 = "AP75", apSmall = "APs", apMedium = "APm", apLarge = "APl"
    case ar1 = "AR1", ar10 = "AR10", ar100 = "AR100", arSmall = "ARs", arMedium = "ARm", arLarge = "ARl"
    /// Classification: top-1 and top-5 accuracy in percent, and the val split's mean cross-entropy.
    case top1, top5, loss

    public static let detection: [Metric] = [.ap, .ap50, .ap75, .apSmall, .apMedium, .apLarge,
                                             .ar1, .ar10, .ar100, .arSmall, .arMedium, .arLarge]
    public static let classification: [Metric] = [.top1, .top5, .loss]

    public var description: String { rawValue }

    /// Declaration order, so that sorted metrics read as a table does.
    public static func < (a: Metric, b: Metric) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// A run's scores by metric. Encoded as a JSON object keyed by metric name (the records' format before this
/// type existed, byte for byte); a name that is not a `Metric` is a decoding error, not a silently dropped key.
public struct Metrics: Codable, Sendable, Equatable, ExpressibleByDictionaryLiteral {
    public private(set) var values: [Metric: Double]

    public init(_ values: [Metric: Double] = [:]) { self.values = values }
    public init(dictionaryLiteral elements: (Metric, Double)...) { self.init(Dictionary(uniqueKeysWithValues: elements)) }

    public subscript(metric: Metric) -> Double? {
        get { values[metric] }
        set { values[metric] = newValue }
    }

    /// The metrics present, in declaration order.
    public var names: [Metric] { values.keys.sorted() }

    public init(from decoder: Decoder) throws {
        let named = try [String: Double](from: decoder)
        var values: [Metric: Double] = [:]
        for (name, value) in named {
            guard let metric = Metric(rawValue: name) else {
                throw DecodingError.dataCorrupted(.init(
                    codingPath: decoder.codingPath,
                    debugDescription: "unknown metric '\(name)'; expected one of \(Metric.allCases.map(\.rawValue).joined(separator: ", "))"))
            }
            values[metric] = value
        }
        self.values = values
    }

    public func encode(to encoder: Encoder) throws {
        try Dictionary(uniqueKeysWithValues: values.map { ($0.key.rawValue, $0.value) }).encode(to: encoder)
    }
}
