/// Mean and sample standard deviation over seeds (std is nil with a single seed: no spread to report).
public struct SeedSummary: Sendable, Equatable {
    public var mean: Double
    public var std: Double?
    public var count: Int

    public init(_ values: [Double]) {
        count = values.count
        mean = values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count)
        if values.count > 1 {
            let m = mean
            std = (values.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(values.count - 1)).squareRoot()
        } else {
            std = nil
        }
    }

    /// "41.2 ± 0.3" or "41.2" for one seed.
    public func formatted(_ digits: Int = 1) -> String {
        guard !mean.isNaN else { return "—" }
        let m = fixed(mean, digits)
        if let std { return "\(m) ± \(fixed(std, digits))" }
        return m
    }
}

func fixed(_ x: Double, _ digits: Int) -> String {
    String(format: "%.\(digits)f", x)
}
