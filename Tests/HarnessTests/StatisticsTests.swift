import Foundation
import XCTest
@testable import Harness

/// The statistics behind claim verdicts, checked against reference values from scipy 1.17.1 (numpy 2.4.6).
/// Each literal names the scipy call that produced it.
final class StatisticsTests: XCTestCase {

    // MARK: Student's t and the incomplete beta

    func testStudentTCDFMatchesScipy() {
        // (t, df, scipy.stats.t.cdf(t, df))
        let cases: [(Double, Double, Double)] = [
            (0.0, 1, 0.5),
            (1.0, 1, 0.75),
            (-2.5, 1, 0.12111894159084341),
            (12.7, 1, 0.9749878361553279),
            (0.5, 2, 0.6666666666666666),
            (-3.2, 2, 0.04267043961997642),
            (2.776, 4, 0.9749886108400118),
            (-1.0, 4, 0.18695048315002943),
            (2.262, 9, 0.9749935772487727),
            (-4.5, 9, 0.0007444747077058662),
            (1.697, 30, 0.9499750753969193),
            (-2.0, 30, 0.027312522481491547),
            (0.3, 2.5, 0.6063288142524014),
            (40.0, 3, 0.9999828096596054),
        ]
        for (t, df, expected) in cases {
            XCTAssertEqual(StudentT.cdf(t, df: df), expected, accuracy: 1e-12, "cdf(\(t), df: \(df))")
        }
        // scipy.stats.t.cdf(-40.0, 3): a far tail, checked relative to its size.
        XCTAssertEqual(StudentT.cdf(-40, df: 3), 1.7190340394579253e-05, accuracy: 1e-16)
        XCTAssertEqual(StudentT.cdf(.infinity, df: 4), 1)
        XCTAssertEqual(StudentT.cdf(-.infinity, df: 4), 0)
    }

    func testStudentTQuantileMatchesScipy() {
        // (p, df, scipy.stats.t.ppf(p, df))
        let cases: [(Double, Double, Double)] = [
            (0.975, 1, 12.706204736174694),
            (0.975, 2, 4.302652729749462),
            (0.975, 4, 2.7764451051977934),
            (0.975, 9, 2.262157162798205),
            (0.975, 30, 2.0422724563012378),
            (0.995, 1, 63.656741162871526),
            (0.995, 2, 9.924843200918287),
            (0.995, 4, 4.604094871349992),
            (0.995, 9, 3.249835541592126),
            (0.995, 30, 2.7499956535672254),
            (0.8, 1, 1.3763819204711738),
            (0.8, 2, 1.0606601717798214),
            (0.8, 4, 0.9409645772351816),
            (0.8, 9, 0.8834038596855346),
            (0.8, 30, 0.8537672614712979),
            (0.01, 1, -31.82051595377396),
            (0.01, 2, -6.964556734283274),
            (0.01, 4, -3.746947387979197),
            (0.01, 9, -2.8214379250258093),
            (0.01, 30, -2.4572615424005915),
            (0.5, 4, 0.0),
            (0.9, 2.5, 1.7302509288071766),
            (0.999999, 2, 707.1057205157672),
            (0.999999, 9, 10.720160409872824),
            (0.999999, 30, 5.871117120408624),
        ]
        for (p, df, expected) in cases {
            XCTAssertEqual(StudentT.quantile(p, df: df), expected, accuracy: 1e-9 * max(1, abs(expected)),
                           "quantile(\(p), df: \(df))")
        }
        // scipy.stats.t.ppf(0.999999, 1): the Cauchy far tail.
        XCTAssertEqual(StudentT.quantile(0.999999, df: 1), 318309.88617359026, accuracy: 1e-4)
        XCTAssertEqual(StudentT.quantile(0, df: 3), -.infinity)
        XCTAssertEqual(StudentT.quantile(1, df: 3), .infinity)
        XCTAssertTrue(StudentT.quantile(1.5, df: 3).isNaN)
    }

    func testQuantileInvertsCDF() {
        for df in [1.0, 2, 3.5, 7, 50] {
            for p in [0.001, 0.05, 0.3, 0.6, 0.9, 0.999] {
                XCTAssertEqual(StudentT.cdf(StudentT.quantile(p, df: df), df: df), p, accuracy: 1e-13)
            }
        }
    }

    func testRegularizedIncompleteBetaMatchesScipy() {
        // (a, b, x, scipy.special.betainc(a, b, x)); note the Swift argument order is (x, a, b).
        let cases: [(Double, Double, Double, Double)] = [
            (2, 3, 0.4, 0.5247999999999999),
            (0.5, 0.5, 0.1, 0.20483276469913345),
            (5, 1.5, 0.9, 0.7761721343162159),
            (10, 20, 0.3, 0.3640040810719437),
            (0.5, 15, 0.999, 1.0),
            (1, 1, 0.37, 0.37),
            (30, 0.5, 0.95, 0.08062942690643064),
        ]
        for (a, b, x, expected) in cases {
            XCTAssertEqual(regularizedIncompleteBeta(x, a, b), expected, accuracy: 1e-13, "I_\(x)(\(a), \(b))")
        }
        XCTAssertEqual(regularizedIncompleteBeta(0, 2, 3), 0)
        XCTAssertEqual(regularizedIncompleteBeta(1, 2, 3), 1)
    }

    // MARK: Paired comparison

    static let better = [41.3, 40.8, 42.1, 41.7, 40.9]
    static let worse = [40.6, 40.9, 41.2, 40.8, 40.1]

    func testPairedComparisonMatchesScipyTtestRel() throws {
        let c = PairedComparison(differences: zip(Self.better, Self.worse).map { $0 - $1 })
        XCTAssertEqual(c.n, 5)
        XCTAssertEqual(c.degreesOfFreedom, 4)
        // numpy: d.mean(), d.std(ddof=1), d.std(ddof=1) / sqrt(5)
        XCTAssertEqual(c.meanDifference, 0.6399999999999991, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(c.sd), 0.42190046219458066, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(c.standardError), 0.18867962264113247, accuracy: 1e-12)
        // scipy.stats.ttest_rel(better, worse): statistic, pvalue
        XCTAssertEqual(try XCTUnwrap(c.t), 3.39199321602034, accuracy: 1e-10)
        XCTAssertEqual(try XCTUnwrap(c.pValue), 0.027479416340148874, accuracy: 1e-12)
        // mean ± scipy.stats.t.ppf(0.975, 4) * se (equals ttest_rel(...).confidence_interval(0.95))
        let ci95 = try XCTUnwrap(c.confidenceInterval())
        XCTAssertEqual(ci95.lower, 0.1161413852674601, accuracy: 1e-10)
        XCTAssertEqual(ci95.upper, 1.163858614732538, accuracy: 1e-10)
        // mean ± scipy.stats.t.ppf(0.95, 4) * se
        let ci90 = try XCTUnwrap(c.confidenceInterval(level: 0.9))
        XCTAssertEqual(ci90.lower, 0.23776395282717594, accuracy: 1e-10)
        XCTAssertEqual(ci90.upper, 1.0422360471728223, accuracy: 1e-10)
    }

    func testPairedComparisonNegativeDifference() throws {
        // scipy.stats.ttest_1samp([0.2, -0.5, -0.3, -0.9], 0): statistic, pvalue
        let c = PairedComparison(differences: [0.2, -0.5, -0.3, -0.9])
        XCTAssertEqual(try XCTUnwrap(c.t), -1.6398911634277582, accuracy: 1e-10)
        XCTAssertEqual(try XCTUnwrap(c.pValue), 0.19956064641993598, accuracy: 1e-12)
    }

    func testPairedDictionaryInitPairsBySeedAndDropsUnpaired() {
        // Seeds 4 (better only) and 9 (worse only) have no partner; the dictionaries' order is irrelevant.
        var better: [Int: Double] = [4: 100]
        var worse: [Int: Double] = [9: -100]
        for (i, seed) in [2, 0, 3, 1, 5].enumerated() {
            better[seed] = Self.better[i]
            worse[seed] = Self.worse[i]
        }
        let c = PairedComparison(better: better, worse: worse)
        // Ascending seed order 0, 1, 2, 3, 5 -> sample indices 1, 3, 0, 2, 4.
        XCTAssertEqual(c.differences, [1, 3, 0, 2, 4].map { Self.better[$0] - Self.worse[$0] })
        XCTAssertEqual(c.n, 5)
        XCTAssertEqual(c.pValue!, 0.027479416340148874, accuracy: 1e-12)     // same as ttest_rel above
        XCTAssertEqual(PairedComparison(better: [1: 2], worse: [2: 1]).n, 0)
    }

    func testPairedComparisonDegenerateCases() throws {
        let one = PairedComparison(differences: [0.4])
        XCTAssertNil(one.sd)
        XCTAssertNil(one.standardError)
        XCTAssertNil(one.t)
        XCTAssertNil(one.pValue)
        XCTAssertNil(one.confidenceInterval())
        XCTAssertEqual(one.meanDifference, 0.4)

        let empty = PairedComparison(differences: [])
        XCTAssertNil(empty.pValue)
        XCTAssertNil(empty.confidenceInterval())

        // Every seed agrees exactly: no spread, t undefined, the sign alone decides.
        let agree = PairedComparison(differences: [0.1, 0.1, 0.1])
        XCTAssertEqual(agree.sd, 0)
        XCTAssertNil(agree.t)
        XCTAssertEqual(agree.pValue, 0)
        let ci = try XCTUnwrap(agree.confidenceInterval())
        XCTAssertEqual(ci.lower, 0.1)
        XCTAssertEqual(ci.upper, 0.1)

        let tie = PairedComparison(differences: [0, 0])
        XCTAssertNil(tie.t)
        XCTAssertEqual(tie.pValue, 1)
    }

    // MARK: Welch

    func testWelchMatchesScipy() throws {
        let a = [41.3, 40.8, 42.1, 41.7, 40.9, 41.5]
        let b = [40.6, 40.9, 41.2, 40.8]
        let w = WelchComparison(a, b)
        // scipy.stats.ttest_ind(a, b, equal_var=False): statistic, pvalue, df
        XCTAssertEqual(try XCTUnwrap(w.t), 2.149967499393226, accuracy: 1e-10)
        XCTAssertEqual(try XCTUnwrap(w.pValue), 0.06509316591483094, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(w.degreesOfFreedom), 7.7003743093102015, accuracy: 1e-10)
        XCTAssertEqual(w.meanDifference, a.reduce(0, +) / 6 - b.reduce(0, +) / 4, accuracy: 1e-12)
        // ttest_ind(a, b, equal_var=False).confidence_interval(0.95) and (0.9)
        let ci95 = try XCTUnwrap(w.confidenceInterval())
        XCTAssertEqual(ci95.lower, -0.04060787357938089, accuracy: 1e-10)
        XCTAssertEqual(ci95.upper, 1.0572745402460466, accuracy: 1e-10)
        let ci90 = try XCTUnwrap(w.confidenceInterval(level: 0.9))
        XCTAssertEqual(ci90.lower, 0.06643798491023495, accuracy: 1e-10)
        XCTAssertEqual(ci90.upper, 0.9502286817564305, accuracy: 1e-10)
    }

    func testWelchEdgeCases() throws {
        // One group without spread: scipy.stats.ttest_ind([1, 1, 1], [0.5, 0.9, 0.7, 0.2], equal_var=False)
        let w = WelchComparison([1, 1, 1], [0.5, 0.9, 0.7, 0.2])
        XCTAssertEqual(try XCTUnwrap(w.t), 2.8465424181483336, accuracy: 1e-10)
        XCTAssertEqual(try XCTUnwrap(w.pValue), 0.06529426992156558, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(w.degreesOfFreedom), 3.0, accuracy: 1e-12)

        let single = WelchComparison([1], [0.5, 0.9])
        XCTAssertNil(single.pValue)
        XCTAssertNil(single.degreesOfFreedom)
        XCTAssertNil(single.confidenceInterval())

        XCTAssertEqual(WelchComparison([2, 2], [1, 1, 1]).pValue, 0)
        XCTAssertEqual(WelchComparison([2, 2], [2, 2]).pValue, 1)
    }

    // MARK: Holm

    func testHolmAdjusted() {
        // Holm step-down computed in python: sort ascending, adjusted_(k) = max_{j<=k} min(1, (m - j) p_(j)).
        func check(_ p: [Double?], _ expected: [Double?], line: UInt = #line) {
            let got = holmAdjusted(p)
            XCTAssertEqual(got.count, expected.count, line: line)
            for (g, e) in zip(got, expected) {
                if let e {
                    XCTAssertNotNil(g, line: line)
                    XCTAssertEqual(g ?? .nan, e, accuracy: 1e-15, line: line)
                } else {
                    XCTAssertNil(g, line: line)
                }
            }
        }
        check([0.01, 0.04, 0.03, 0.005], [0.03, 0.06, 0.06, 0.02])
        check([0.5, 0.001, 0.02], [0.5, 0.003, 0.04])
        check([0.2, 0.3, 0.4], [0.6000000000000001, 0.6000000000000001, 0.6000000000000001])
        check([0.04], [0.04])
        check([0.6, 0.7], [1, 1])                              // capped at 1
        // nil entries stay nil and do not count in m: same as [0.5, 0.001, 0.02] alone.
        check([nil, 0.5, nil, 0.001, 0.02], [nil, 0.5, nil, 0.003, 0.04])
        check([nil, .nan], [nil, nil])
        check([], [])
    }

    // MARK: Minimum detectable difference

    func testMinimumDetectableDifference() throws {
        // (scipy.stats.t.ppf(0.975, n-1) + scipy.stats.t.ppf(0.8, n-1)) * sd / sqrt(n)
        XCTAssertEqual(try XCTUnwrap(minimumDetectableDifference(sd: 0.4, n: 5)), 0.664990460010883, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(minimumDetectableDifference(sd: 1.0, n: 3)), 3.096510147446125, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(minimumDetectableDifference(sd: 0.25, n: 10)), 0.24867843375241835, accuracy: 1e-9)
        // (scipy.stats.t.ppf(0.995, 7) + scipy.stats.t.ppf(0.9, 7)) * 0.5 / sqrt(8)
        XCTAssertEqual(try XCTUnwrap(minimumDetectableDifference(sd: 0.5, n: 8, alpha: 0.01, power: 0.9)),
                       0.8687526685775926, accuracy: 1e-9)
        XCTAssertNil(minimumDetectableDifference(sd: 0.4, n: 1))
    }

    // MARK: Verdicts

    func testVerdict() {
        XCTAssertEqual(verdict(meanDifference: 0.6, adjustedP: 0.01, n: 5), .supported)
        XCTAssertEqual(verdict(meanDifference: -0.6, adjustedP: 0.01, n: 5), .contradicted)
        XCTAssertEqual(verdict(meanDifference: 0.6, adjustedP: 0.2, n: 5), .inconclusive)
        XCTAssertEqual(verdict(meanDifference: -0.6, adjustedP: 0.2, n: 5), .inconclusive)
        XCTAssertEqual(verdict(meanDifference: 0.6, adjustedP: 0.05, n: 5), .inconclusive)   // p < alpha is strict
        XCTAssertEqual(verdict(meanDifference: 0.6, adjustedP: 0.05, n: 5, alpha: 0.1), .supported)
        XCTAssertEqual(verdict(meanDifference: 0, adjustedP: 0.001, n: 5), .inconclusive)
        XCTAssertEqual(verdict(meanDifference: 0.6, adjustedP: 0.001, n: 1), .notTested)
        XCTAssertEqual(verdict(meanDifference: 0.6, adjustedP: nil, n: 5), .notTested)
        XCTAssertEqual(ClaimVerdict.notTested.rawValue, "not tested")
    }

    /// End to end on the paired sample: p = 0.0275 is below 0.05 alone, but not as the smallest of 3 claims (Holm: 3p = 0.082).
    func testVerdictAfterHolm() {
        let c = PairedComparison(differences: zip(Self.better, Self.worse).map { $0 - $1 })
        let alone = holmAdjusted([c.pValue])[0]
        XCTAssertEqual(verdict(meanDifference: c.meanDifference, adjustedP: alone, n: c.n), .supported)
        let inFamily = holmAdjusted([c.pValue, 0.5, 0.6])[0]
        XCTAssertEqual(verdict(meanDifference: c.meanDifference, adjustedP: inFamily, n: c.n), .inconclusive)
    }
}
