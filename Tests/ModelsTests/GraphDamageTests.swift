import XCTest
@testable import Models

final class GraphDamageTests: XCTestCase {
    /// Damaged lists differ from R0-SP53 only in each block's parents, exactly as Table 9 defines.
    func testDamagedListsDifferOnlyInParents() {
        let intact = spec("r0-sp53")
        for damage in GraphDamage.allCases {
            let d = spec("r0-sp53-\(damage.rawValue)")
            XCTAssertEqual(d.stem, intact.stem); XCTAssertEqual(d.scaling, intact.scaling)
            XCTAssertFalse(d.mergeUnconsumed)
            XCTAssertEqual(d.blocks.count, intact.blocks.count)
            for (k, (a, b)) in zip(intact.blocks, d.blocks).enumerated() {
                XCTAssertEqual(a.level, b.level); XCTAssertEqual(a.type, b.type); XCTAssertEqual(a.output, b.output)
                let parents = a.inputs!
                let expected: [Int]
                switch damage {
                case .noShort: expected = [parents.min()!]
                case .noLong: expected = [parents.max()!]
                case .sequential: expected = [intact.index(ofBlock: k) - 1]
                }
                XCTAssertEqual(b.inputs, expected, "\(damage) block \(k)")
            }
        }
        XCTAssertEqual(spec("r0-sp53-sequential").blocks.map { $0.inputs! }, (1...15).map { [$0] })
        XCTAssertEqual(spec("r0-sp53-no-short").blocks[5].inputs, [5])
        XCTAssertEqual(spec("r0-sp53-no-long").blocks[5].inputs, [6])
    }

    /// In the built graphs every permuted block's merge has exactly one input, so the output-block rule
    /// added nothing back; the intact R0-SP53 does merge its unconsumed L4 block (index 11) into the L4 output.
    func testBuiltGraphsHaveOneInputPerBlock() {
        for damage in GraphDamage.allCases {
            let p = plan("r0-sp53-\(damage.rawValue)", ModelOptions(head: HeadConfig.none))
            XCTAssertNil(p.nodes.first { $0.name.hasSuffix("/sum") }, "\(damage): a block sums several inputs")
            for k in 0..<15 where p.nodes.contains(where: { $0.name == "block\(k)/sum_act" }) {
                XCTAssertNotNil(p.nodes.first { $0.name == "block\(k)/in0/expand/bn" })
                XCTAssertNil(p.nodes.first { $0.name == "block\(k)/in1/expand/bn" })
            }
        }
        let intact = plan("r0-sp53", ModelOptions(head: HeadConfig.none))
        let merged = intact.nodes.first { $0.name == "block11/sum" }!
        XCTAssertEqual(merged.inputs.count, 3)
        XCTAssertTrue(merged.inputs.contains { intact.nodes[$0].name == "block9/act" })
        XCTAssertEqual(intact.nodes.filter { $0.name.hasSuffix("/sum") }.map { $0.inputs.count }.filter { $0 != 2 }, [3])
    }

    /// Damage leaves some blocks feeding nothing; they are pruned (as a Keras model would) and the models shrink.
    func testDamageShrinksTheModel() {
        let intact = plan("r0-sp53").counts
        for damage in GraphDamage.allCases {
            let c = plan("r0-sp53-\(damage.rawValue)").counts
            XCTAssertLessThan(c.params, intact.params, "\(damage)")
            XCTAssertEqual(c.params - c.backboneParams, intact.params - intact.backboneParams, "same head")
        }
        let noShort = plan("r0-sp53-no-short", ModelOptions(head: HeadConfig.none))
        XCTAssertFalse(noShort.nodes.contains { $0.name.hasPrefix("block9/") }, "block9 (index 11) only fed by the output rule")
    }
}
