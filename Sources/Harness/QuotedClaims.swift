import Foundation

/// A table's claim quoted in another report. results/search/summary.md quotes, for each spec a search wrote,
/// its `above_median` claim (the spec against random members of its space, ablations/search-vs-random.yaml)
/// as the table prints it: the search's own reward chose the spec, so it cannot also judge the choice.
public struct QuotedClaim: Sendable, Equatable {
    /// The claim's subject: for `above_median`, the model tested against the median of the others.
    public var model: String
    public var ablation: String
    public var profile: String
    /// The claim line as the table prints it: difference, 95% CI, paired seeds, p and verdict.
    public var line: String
    /// The mean paired difference, its seeds and its two-sided p before any adjustment (nil: not tested), so a
    /// report quoting several claims can correct over them (`holmVerdicts`).
    public var difference: Double
    public var seeds: Int
    public var p: Double?
    /// The smallest difference the claim's table resolves (power 0.8); nil under 2 seeds.
    public var resolvable: Double?
    /// Source tree of the records behind the claim (`TableWriter.reference`), shortened.
    public var code: String?

    public init(model: String, ablation: String, profile: String, line: String, difference: Double, seeds: Int, p: Double?,
                resolvable: Double?, code: String?) {
        self.model = model
        self.ablation = ablation
        self.profile = profile
        self.line = line
        self.difference = difference
        self.seeds = seeds
        self.p = p
        self.resolvable = resolvable
        self.code = code
    }

    /// Holm's adjustment over `claims` taken as one family (e.g. one claim per search space: "does search beat
    /// random" asked of every space at once), with the verdict at that adjusted p; in the input order.
    public static func holmVerdicts(_ claims: [QuotedClaim]) -> [(p: Double?, verdict: ClaimVerdict)] {
        let adjusted = holmAdjusted(claims.map { $0.seeds >= 2 ? $0.p : nil })
        return zip(claims, adjusted).map { q, p in
            (p, verdict(meanDifference: q.difference, adjustedP: p, n: q.seeds, alpha: TableWriter.alpha))
        }
    }
}

extension TableWriter {
    /// Every `above_median` claim of this writer's tables, quoted.
    public func aboveMedianClaims() -> [QuotedClaim] {
        definition.tables.flatMap { table -> [QuotedClaim] in
            let rows = table.rows.map(summary), results = claims(table)
            let resolvable = Self.resolvableDifference(results.map(\.comparison))?.difference
            return results.compactMap { result in
                guard case let .aboveMedian(model, _) = result.claim else { return nil }
                let c = result.comparison
                return QuotedClaim(model: model, ablation: definition.name, profile: profile, line: line(result, rows: rows),
                                   difference: c.meanDifference, seeds: c.n, p: c.n >= 2 ? c.pValue : nil,
                                   resolvable: resolvable, code: reference.map { String($0.code.prefix(10)) })
            }
        }
    }
}

extension RecordStore {
    /// The `above_median` claims of the detection ablation files in `ablationsDir`, for every profile with
    /// records under `resultsDir/records`; none when either folder is missing (a search run outside a checkout).
    public static func aboveMedianClaims(ablationsDir: String, resultsDir: String) throws -> [QuotedClaim] {
        let fm = FileManager.default
        guard fm.fileExists(atPath: ablationsDir), fm.fileExists(atPath: resultsDir + "/records") else { return [] }
        let records = try load(resultsDir: resultsDir)
        var out: [QuotedClaim] = []
        for file in try ablationFiles(ablationsDir) {
            let def = try AblationDefinition.load(file)
            let quotes = def.tables.contains { $0.claims.contains { if case .aboveMedian = $0 { true } else { false } } }
            guard quotes, def.task != .classification, def.report == .tables else { continue }
            for profile in Set(records.filter { $0.ablation == def.name }.map(\.profile)).sorted() {
                out += TableWriter(definition: def, profile: profile, records: records).aboveMedianClaims()
            }
        }
        return out
    }
}
