import XCTest
@testable import Models

final class SpecTests: XCTestCase {
    func testSpineNet49MatchesTheTable() {
        for name in ["spinenet-49s", "spinenet-49", "spinenet-96", "spinenet-143", "spinenet-190"] {
            let s = spec(name)
            XCTAssertEqual(s.stem.blocks, [2, 0, 0, 0])
            XCTAssertEqual(s.blocks.count, spineNet49Table.count)
            for (b, row) in zip(s.blocks, spineNet49Table) {
                XCTAssertEqual(b.level, row.0); XCTAssertEqual(b.type, row.1)
                XCTAssertEqual(b.inputs, row.2); XCTAssertEqual(b.output, row.3)
            }
        }
        // docs/paper-facts.md §4 scaling map (49S endpoints: see the spec note).
        let map: [(String, Int, Double, Double, Int)] = [
            ("spinenet-49s", 256, 0.65, 0.5, 1), ("spinenet-49", 256, 1.0, 0.5, 1), ("spinenet-96", 256, 1.0, 0.5, 2),
            ("spinenet-143", 256, 1.0, 1.0, 3), ("spinenet-190", 512, 1.3, 1.0, 4),
        ]
        for (name, e, s, a, r) in map {
            XCTAssertEqual(spec(name).scaling, Scaling(filterSizeScale: s, resampleAlpha: a, endpointsNumFilters: e,
                                                       blockRepeats: r, levelFilters: Scaling.spineNetFilters), name)
        }
    }

    /// Every scale-permuted spec obeys the search constraints (outputs last, one per level L3..L7,
    /// intermediate parents among the stem or the last 5 built).
    func testSearchConstraints() {
        for s in library.specs where s.family == .scalePermuted {
            XCTAssertEqual(SearchSpace.violations(of: s), [], s.name)
        }
        var bad = spec("r0-sp53")
        bad.blocks[9].inputs = [3, 10]   // index 11 taking index 3: outside the window of 5
        XCTAssertEqual(SearchSpace.violations(of: bad).count, 1)
        bad.blocks.swapAt(9, 10)
        XCTAssertTrue(SearchSpace.violations(of: bad).contains("output blocks must come last"))
    }

    /// Table 1's blocks per level, stem {L2..L5} and permuted {L2..L7}.
    func testAllocationPerTable1() {
        let table: [(String, [Int], [Int])] = [
            ("r50-fpn", [3, 4, 6, 3], [0, 0, 0, 0, 0, 0]),
            ("r35-sp18", [2, 3, 5, 1], [1, 1, 1, 1, 1, 1]),
            ("r23-sp30", [2, 2, 2, 1], [1, 2, 4, 1, 1, 1]),
            ("r14-sp39", [1, 1, 1, 1], [2, 3, 5, 1, 1, 1]),
            ("r0-sp53", [2, 0, 0, 0], [1, 4, 6, 2, 1, 1]),
            ("hourglass", [2, 0, 0, 0], [1, 4, 6, 2, 1, 1]),
            ("fish", [2, 0, 0, 0], [1, 4, 6, 2, 1, 1]),
            ("spinenet-49", [2, 0, 0, 0], [1, 2, 4, 4, 2, 2]),
        ]
        for (name, stem, permuted) in table {
            let a = SearchSpace.allocation(of: spec(name))
            XCTAssertEqual(a.stem, stem, name)
            XCTAssertEqual(a.permuted, permuted, name)
            XCTAssertEqual(a.stem.reduce(0, +) + a.permuted.reduce(0, +), name == "r50-fpn" ? 16 : 17, name)
        }
    }

    /// Hourglass and Fish keep the fixed orders of docs/paper-facts.md §5 (stem L2 blocks first); their connections and the
    /// R[N]-SP[M] lists come from `spinebench search` (ablations/search), R0-SP53 stays the reconstruction.
    func testFixedOrders() {
        XCTAssertEqual([2, 2] + spec("hourglass").blocks.map(\.level),
                       [2, 2, 2, 3, 3, 3, 4, 4, 4, 4, 4, 5, 7, 6, 5, 4, 3])
        XCTAssertEqual([2, 2] + spec("fish").blocks.map(\.level),
                       [2, 2, 3, 3, 4, 4, 4, 5, 4, 4, 3, 2, 3, 4, 5, 6, 7])
        for name in ["r35-sp18", "r23-sp30", "r14-sp39", "hourglass", "fish", "r0-sp53-searched", "r0-sp53"] {
            XCTAssertEqual(spec(name).provenance, name == "r0-sp53" ? .reconstructed : .searched, name)
            XCTAssertTrue(spec(name).blocks.allSatisfy { $0.type == .bottleneck }, name)
        }
    }

    /// The connection rule is deterministic; pinned for R23-SP30's Figure-4 order.
    func testConnectionRuleKnownAnswer() throws {
        let levels = [(4, false), (4, false), (4, false), (3, false), (2, false), (4, true), (3, true), (5, true), (7, true), (6, true)]
        let yaml = """
            name: r23-sp30-rule
            provenance: reconstructed
            stem: {blocks: [2, 2, 2, 1]}
            scaling: {}
            paper: {}
            blocks:
            """ + levels.map { "\n  - {level: \($0.0), output: \($0.1)}" }.joined()
        XCTAssertEqual(try ModelSpec.parse(yaml: yaml, file: "inline").blocks.map { $0.inputs! },
                       [[5, 6], [5, 7], [7, 8], [3, 9], [1, 10], [9, 11], [10, 12], [6, 13], [6, 14], [14, 15]])
        // Explicit inputs are kept.
        XCTAssertEqual(ConnectionRule.connect(spec("r0-sp53")), spec("r0-sp53"))
    }

    /// No block is dead: every block of every intact spec survives pruning of the layer graph.
    func testNoDeadBlocks() {
        for s in library.specs where s.family == .scalePermuted {
            let names = Set(try! ModelBuilder.build(s, options: ModelOptions(blockRepeats: 1, head: HeadConfig.none)).nodes.map(\.name))
            for k in s.blocks.indices {
                XCTAssertTrue(names.contains("block\(k)/conv1/conv"), "\(s.name): block\(k) feeds no output")
            }
        }
    }

    func testNames() {
        for name in SpecLibrary.paperNames { XCTAssertNoThrow(try library.spec(named: name), name) }
        // Then the random members of the search spaces (ablations/specs/random/), in file order.
        let random = ["fish", "hourglass", "r0-sp53", "r14-sp39", "r23-sp30", "r35-sp18"].flatMap { space in
            (1...5).map { "\(space)-random-\($0)" }
        }
        XCTAssertEqual(library.modelNames, SpecLibrary.paperNames + ["r0-sp53-searched"] + random)
        XCTAssertEqual(try library.spec(named: "SpineNet-49S").name, "spinenet-49s")
        XCTAssertEqual(try library.spec(named: "R0-SP53").name, "r0-sp53")
        XCTAssertEqual(try library.spec(named: "R0-SP53-No-Short").name, "r0-sp53-no-short")
        XCTAssertEqual(try library.spec(named: "spinenet_49").name, "spinenet-49")
        XCTAssertThrowsError(try library.spec(named: "R35-SP39")) { e in
            XCTAssertTrue("\(e)".contains("R35-SP18"), "\(e)")
        }
        XCTAssertThrowsError(try library.spec(named: "R23-SP53")) { e in
            XCTAssertTrue("\(e)".contains("R23-SP30"), "\(e)")
        }
        XCTAssertThrowsError(try library.spec(named: "resnet-1000")) { e in
            XCTAssertTrue("\(e)".contains("spinenet-49s, spinenet-49,"), "\(e)")
        }
        XCTAssertThrowsError(try library.spec(named: "r50-fpn-no-short"), "damage needs a block list")
    }

    func testSpecErrorsNameFileAndField() {
        let good = try! String(contentsOfFile: specsDirectory + "/r0-sp53.yaml", encoding: .utf8)
        func error(_ yaml: String) -> SpecError? {
            do { _ = try ModelSpec.parse(yaml: yaml, file: "x.yaml"); return nil } catch { return error as? SpecError }
        }
        XCTAssertNil(error(good))
        let e1 = error(good.replacingOccurrences(of: "{level: 5, inputs: [4, 7]}", with: "{level: 9, inputs: [4, 7]}"))
        XCTAssertEqual(e1?.file, "x.yaml"); XCTAssertEqual(e1?.field, "blocks[6].level")
        let e2 = error(good.replacingOccurrences(of: "{level: 5, inputs: [4, 7]}", with: "{level: 5, inputs: [4, 8]}"))
        XCTAssertEqual(e2?.field, "blocks[6].inputs")
        let e3 = error(good.replacingOccurrences(of: "provenance: reconstructed\n", with: ""))
        XCTAssertEqual(e3?.field, "provenance"); XCTAssertTrue(e3!.message.contains("missing"), e3!.message)
        let e4 = error(good.replacingOccurrences(of: "{level: 6, inputs: [7, 9], output: true}", with: "{level: 6, inputs: [7, 9]}"))
        XCTAssertTrue(e4!.message.contains("L6"), e4!.message)
        let e5 = error(good.replacingOccurrences(of: "{level: 2, inputs: [0, 1]}", with: "{level: 2, type: X, inputs: [0, 1]}"))
        XCTAssertEqual(e5?.field, "blocks[0].type")
        XCTAssertNotNil(error("name: [unclosed"))
    }

    /// A user adds an architecture by writing a file: a directory with one new spec loads and builds.
    func testLoadUserDirectory() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("specs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = try String(contentsOfFile: specsDirectory + "/r0-sp53.yaml", encoding: .utf8)
            .replacingOccurrences(of: "name: r0-sp53", with: "name: my-net")
            .replacingOccurrences(of: "aliases: [R0-SP53]", with: "aliases: []")
            .replacingOccurrences(of: #"inputs: \[\d+, \d+\]"#, with: "level_only: 1", options: .regularExpression)
        try text.write(to: dir.appendingPathComponent("my-net.yaml"), atomically: true, encoding: .utf8)
        let lib = try SpecLibrary(directory: dir.path)
        XCTAssertEqual(lib.modelNames, ["my-net"])
        let s = try lib.spec(named: "MY-NET")
        XCTAssertTrue(s.blocks.allSatisfy { $0.inputs?.count == 2 }, "missing inputs are filled by the rule")
        XCTAssertEqual(SearchSpace.violations(of: s), [])
        XCTAssertGreaterThan(try ModelBuilder.build(s).counts.params, 0)
        XCTAssertNoThrow(try lib.spec(named: "my-net-sequential"))
    }
}
