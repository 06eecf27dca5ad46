import Foundation
import Models
import XCTest
@testable import Search

/// The random baseline of a space is fixed by the space file, live, distinct, shared with the noise
/// measurement, and written as specs the library reads.
final class RandomBaselineTests: XCTestCase {
    func testMembersAreFixedLiveDistinctAndTheNoiseMeasurementsOwn() throws {
        let space = try TestSupport.shipped("r35-sp18")
        let first = try RandomBaseline.members(of: space, count: 5)
        XCTAssertEqual(first, try RandomBaseline.members(of: space, count: 5), "the same space gives the same members")
        XCTAssertEqual(Set(first).count, 5)
        XCTAssertTrue(first.allSatisfy { space.violations(of: $0).isEmpty })
        XCTAssertEqual(Array(first.prefix(3)), try RandomBaseline.members(of: space, count: 3), "a prefix of a longer draw")
        let noise = try RewardNoise.plan(space: space, named: [], random: 3, seeds: 1).map(\.0)
        XCTAssertEqual(noise, Array(first.prefix(3)), "noise is measured on the baseline's first members")
        var other = space
        other.seed += 1
        XCTAssertNotEqual(try RandomBaseline.members(of: other, count: 5), first, "another space seed, other members")
    }

    func testWrittenSpecsAreReadByTheLibraryAsRandomMembers() throws {
        let dir = try TestSupport.scratch("random-specs")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let specs = TestSupport.root + "/ablations/specs"
        for file in try FileManager.default.contentsOfDirectory(atPath: specs) where file.hasSuffix(".yaml") {
            try FileManager.default.copyItem(atPath: specs + "/" + file, toPath: dir + "/" + file)
        }
        let space = try TestSupport.shipped("fish")
        let paths = try RandomBaseline.writeSpecs(of: space, spacePath: "ablations/search/fish.yaml", count: 2, to: dir + "/random")
        XCTAssertEqual(paths.map { ($0 as NSString).lastPathComponent }, ["fish-random-1.yaml", "fish-random-2.yaml"])
        let library = try SpecLibrary(directory: dir)
        let members = try RandomBaseline.members(of: space, count: 2)
        for (k, member) in members.enumerated() {
            let spec = try library.spec(named: "fish-random-\(k + 1)")
            XCTAssertEqual(spec.provenance, .random)
            XCTAssertEqual(spec.aliases, [], "a random member must not take the searched spec's names")
            XCTAssertEqual(Candidate(spec: spec), member)
        }
        XCTAssertNoThrow(try library.spec(named: "fish"), "the searched spec is still there")
    }
}
