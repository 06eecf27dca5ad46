import Foundation

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

// MARK: - Deciding whether a claim holds
//
// The unit of replication is the seed: one seed fixes the RNG behind the initial weights and the data order, and that is
// the run-to-run noise a claim has to beat. Two models trained with the same seed share that noise, so comparisons pair
// runs by seed and test the per-seed differences; what is left is the difference the models make.

/// Regularized incomplete beta I_x(a, b), for the tails of Student's t.
/// Evaluated by its continued fraction (modified Lentz), on whichever side of the mean a/(a+b) converges fast.
public func regularizedIncompleteBeta(_ x: Double, _ a: Double, _ b: Double) -> Double {
    incompleteBeta(x, 1 - x, a, b)
}

/// I_x(a, b) with y = 1 - x passed separately, so that callers who know y exactly (the t tails) keep its precision.
func incompleteBeta(_ x: Double, _ y: Double, _ a: Double, _ b: Double) -> Double {
    guard !x.isNaN, !y.isNaN, a > 0, b > 0 else { return .nan }
    if x <= 0 { return 0 }
    if y <= 0 { return 1 }
    // x^a y^b / (a B(a, b)), in logs to stay finite for large a, b.
    let logFront = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log(y)
    if x < (a + 1) / (a + b + 2) {
        return exp(logFront) * betaContinuedFraction(x, a, b) / a
    } else {
        // Symmetry I_x(a, b) = 1 - I_y(b, a): the fraction converges quickly only below the mean.
        return 1 - exp(logFront) * betaContinuedFraction(y, b, a) / b
    }
}

/// The continued fraction 1/(1+ d1/(1+ d2/(1+ ...))) of the incomplete beta, evaluated forward with modified Lentz.
private func betaContinuedFraction(_ x: Double, _ a: Double, _ b: Double) -> Double {
    let tiny = 1e-300
    let epsilon = 4 * Double.ulpOfOne     // |delta - 1| at this size means h no longer changes
    var c = 1.0
    var d = 1 - (a + b) * x / (a + 1)
    if abs(d) < tiny { d = tiny }
    d = 1 / d
    var h = d
    func step(_ coefficient: Double) -> Double {
        d = 1 + coefficient * d
        if abs(d) < tiny { d = tiny }
        c = 1 + coefficient / c
        if abs(c) < tiny { c = tiny }
        d = 1 / d
        let delta = c * d
        h *= delta
        return delta
    }
    for m in 1...10_000 {
        let m = Double(m)
        // Even term d_{2m}, then odd term d_{2m+1}.
        _ = step(m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)))
        let delta = step(-(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)))
        if abs(delta - 1) < epsilon { return h }
    }
    return h
}

/// Student's t distribution: the distribution of a mean difference over its standard error when only a few seeds
/// estimate the spread (a normal approximation would overstate the evidence at n = 3 or 5).
public enum StudentT {
    /// P(T <= t) for T with `df` degrees of freedom (df > 0, need not be an integer).
    public static func cdf(_ t: Double, df: Double) -> Double {
        guard !t.isNaN, df > 0 else { return .nan }
        if t == 0 { return 0.5 }
        let tail = upperTail(abs(t), df: df)
        return t > 0 ? 1 - tail : tail
    }

    /// P(T > t) for t >= 0, computed directly (not as 1 - cdf) so small tail probabilities keep their precision.
    static func upperTail(_ t: Double, df: Double) -> Double {
        if t.isInfinite { return 0 }
        // P(|T| > t) = I_{df/(df+t²)}(df/2, 1/2); both x and 1 - x are formed without cancellation.
        let t2 = t * t
        let x = df / (df + t2)
        let y = t2 / (df + t2)
        return 0.5 * incompleteBeta(x, y, df / 2, 0.5)
    }

    /// Density of T, the derivative Newton's method needs.
    static func pdf(_ t: Double, df: Double) -> Double {
        let logNorm = lgamma((df + 1) / 2) - lgamma(df / 2) - 0.5 * log(df * Double.pi)
        return exp(logNorm - (df + 1) / 2 * log1p(t * t / df))
    }

    /// The t with cdf(t) = p: Newton on the upper tail, kept inside a shrinking bracket (bisection when Newton leaves it).
    public static func quantile(_ p: Double, df: Double) -> Double {
        guard p >= 0, p <= 1, df > 0 else { return .nan }
        if p == 0 { return -.infinity }
        if p == 1 { return .infinity }
        if p == 0.5 { return 0 }
        if p < 0.5 { return -quantile(1 - p, df: df) }
        // Solve upperTail(t) = q with q = 1 - p (exact in floating point for p >= 0.5).
        let q = 1 - p
        var lo = 0.0
        var hi = 1.0
        while upperTail(hi, df: df) > q {
            lo = hi
            hi *= 2
            if hi.isInfinite { return .infinity }
        }
        var t = (lo + hi) / 2
        for _ in 0..<500 {
            let f = upperTail(t, df: df) - q        // decreasing in t
            if f == 0 { return t }
            if f > 0 { lo = t } else { hi = t }
            let density = pdf(t, df: df)
            var next = t + f / density              // t - f / f', f' = -pdf
            if !(next > lo && next < hi) { next = (lo + hi) / 2 }
            if abs(next - t) <= 1e-15 * max(1, abs(t)) || hi - lo <= 1e-15 * max(1, hi) { return next }
            t = next
        }
        return t
    }
}

/// Mean of values that are all equal is returned exactly, and their sd as exactly 0
/// (summing n copies of 0.1 and dividing by n does not give back 0.1, which would fake a spread).
private func meanAndVariance(_ values: [Double]) -> (mean: Double, variance: Double?) {
    guard let first = values.first else { return (.nan, nil) }
    if values.allSatisfy({ $0 == first }) { return (first, values.count > 1 ? 0 : nil) }
    let n = Double(values.count)
    let mean = values.reduce(0, +) / n
    guard values.count > 1 else { return (mean, nil) }
    let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)
    return (mean, variance)
}

/// A paired comparison of two models over seeds: differences d_i = better_i - worse_i for the seeds both have.
/// Pairing by seed removes the variance both runs share (same initial-weight RNG, same data order), so the paired
/// t-test sees the model difference against the much smaller spread of the differences.
public struct PairedComparison: Sendable, Equatable {
    public let differences: [Double]

    public init(differences: [Double]) {
        self.differences = differences
    }

    /// Pairs `better` and `worse` by key (the seed): only keys present in both count, in ascending key order.
    /// A seed that one model lacks (a failed or missing run) has no partner and is dropped, not imputed.
    public init(better: [Int: Double], worse: [Int: Double]) {
        differences = better.keys.filter { worse[$0] != nil }.sorted().map { better[$0]! - worse[$0]! }
    }

    public var n: Int { differences.count }
    public var meanDifference: Double { meanAndVariance(differences).mean }
    /// Sample sd of the differences (n - 1 denominator); nil for n < 2.
    public var sd: Double? { meanAndVariance(differences).variance.map { $0.squareRoot() } }
    public var standardError: Double? { sd.map { $0 / Double(n).squareRoot() } }
    public var degreesOfFreedom: Int { n - 1 }

    /// mean / se; nil when n < 2 or every seed gives the same difference (sd = 0, t undefined).
    public var t: Double? {
        guard let se = standardError, se > 0 else { return nil }
        return meanDifference / se
    }

    /// Two-sided p-value from the t distribution; nil for n < 2. With sd = 0 the seeds agree exactly:
    /// 0 if that common difference is non-zero, 1 if it is zero.
    public var pValue: Double? {
        guard n >= 2 else { return nil }
        guard let t else { return meanDifference == 0 ? 1 : 0 }
        return min(1, 2 * StudentT.upperTail(abs(t), df: Double(degreesOfFreedom)))
    }

    /// mean ± t_{(1+level)/2, n-1} · se; nil for n < 2; the mean itself when sd = 0.
    public func confidenceInterval(level: Double = 0.95) -> (lower: Double, upper: Double)? {
        precondition(level > 0 && level < 1, "confidence level must be in (0, 1)")
        guard let se = standardError else { return nil }
        let half = se == 0 ? 0 : StudentT.quantile((1 + level) / 2, df: Double(degreesOfFreedom)) * se
        return (meanDifference - half, meanDifference + half)
    }
}

/// Welch's unpaired comparison (unequal variances, Welch–Satterthwaite df): for groups that cannot be paired by seed,
/// e.g. runs from different seed sets. Weaker than the paired test because the seed variance stays in.
public struct WelchComparison: Sendable {
    public let countA: Int
    public let countB: Int
    /// mean(a) - mean(b).
    public let meanDifference: Double
    /// sqrt(var(a)/n_a + var(b)/n_b); nil when either group has < 2 values.
    public let standardError: Double?
    /// Welch–Satterthwaite df; nil when either group has < 2 values. When both groups have zero spread the formula is
    /// 0/0; n_a + n_b - 2 is reported then (the p-value does not use it).
    public let degreesOfFreedom: Double?

    public init(_ a: [Double], _ b: [Double]) {
        countA = a.count
        countB = b.count
        let (meanA, varA) = meanAndVariance(a)
        let (meanB, varB) = meanAndVariance(b)
        meanDifference = meanA - meanB
        guard let varA, let varB else {
            standardError = nil
            degreesOfFreedom = nil
            return
        }
        let sa = varA / Double(a.count)
        let sb = varB / Double(b.count)
        standardError = (sa + sb).squareRoot()
        if sa + sb == 0 {
            degreesOfFreedom = Double(a.count + b.count - 2)
        } else {
            degreesOfFreedom = (sa + sb) * (sa + sb) / (sa * sa / Double(a.count - 1) + sb * sb / Double(b.count - 1))
        }
    }

    /// mean difference / se; nil when either group has < 2 values or both have zero spread.
    public var t: Double? {
        guard let se = standardError, se > 0 else { return nil }
        return meanDifference / se
    }

    /// Two-sided; nil when either group has < 2 values. With zero spread in both groups: 0 if the means differ, else 1.
    public var pValue: Double? {
        guard let df = degreesOfFreedom else { return nil }
        guard let t else { return meanDifference == 0 ? 1 : 0 }
        return min(1, 2 * StudentT.upperTail(abs(t), df: df))
    }

    /// mean difference ± t_{(1+level)/2, df} · se; nil when either group has < 2 values.
    public func confidenceInterval(level: Double = 0.95) -> (lower: Double, upper: Double)? {
        precondition(level > 0 && level < 1, "confidence level must be in (0, 1)")
        guard let se = standardError, let df = degreesOfFreedom else { return nil }
        let half = se == 0 ? 0 : StudentT.quantile((1 + level) / 2, df: df) * se
        return (meanDifference - half, meanDifference + half)
    }
}

/// Holm's step-down adjustment: a table states several claims, and testing each at alpha would let some pass by chance;
/// Holm keeps the family-wise error at alpha and is uniformly more powerful than Bonferroni.
/// Returns adjusted p-values in the input order, monotone in the raw p, capped at 1. nil entries (untested claims)
/// stay nil and do not count in m; a NaN p-value is treated as nil.
public func holmAdjusted(_ p: [Double?]) -> [Double?] {
    let tested = p.indices.filter { p[$0].map { !$0.isNaN } ?? false }
    // Stable sort: ties keep input order (their adjusted values are equal either way).
    let order = tested.enumerated().sorted { (p[$0.element]!, $0.offset) < (p[$1.element]!, $1.offset) }.map(\.element)
    let m = order.count
    var adjusted = [Double?](repeating: nil, count: p.count)
    var running = 0.0
    for (rank, index) in order.enumerated() {
        running = max(running, min(1, Double(m - rank) * p[index]!))
        adjusted[index] = running
    }
    return adjusted
}

/// The smallest true mean paired difference a two-sided paired t-test at `alpha` detects with probability `power`,
/// given the sd of the paired differences and n seeds: says whether "inconclusive" means "no effect" or "too few seeds".
/// Standard approximation (t_{1-alpha/2, n-1} + t_{power, n-1}) · sd / sqrt(n); nil for n < 2.
public func minimumDetectableDifference(sd: Double, n: Int, alpha: Double = 0.05, power: Double = 0.8) -> Double? {
    guard n >= 2 else { return nil }
    let df = Double(n - 1)
    return (StudentT.quantile(1 - alpha / 2, df: df) + StudentT.quantile(power, df: df)) * sd / Double(n).squareRoot()
}

/// The verdict on a claim "better > worse".
public enum ClaimVerdict: String, Sendable, Codable {
    case supported, contradicted, inconclusive
    case notTested = "not tested"
}

/// supported: adjusted p < alpha and mean difference > 0; contradicted: adjusted p < alpha and mean difference < 0;
/// inconclusive otherwise; notTested when n < 2 (a single seed has no spread, so cannot be judged) or adjustedP is nil.
public func verdict(meanDifference: Double, adjustedP: Double?, n: Int, alpha: Double = 0.05) -> ClaimVerdict {
    guard n >= 2, let p = adjustedP else { return .notTested }
    guard p < alpha else { return .inconclusive }
    if meanDifference > 0 { return .supported }
    if meanDifference < 0 { return .contradicted }
    return .inconclusive
}
