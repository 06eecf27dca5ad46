import XCTest
@testable import Models

final class ShapeTests: XCTestCase {
    func expectedLevels(_ input: Int) -> [Int] { (3...7).map { (input + (1 << $0) - 1) >> $0 } }

    /// Level l has ceil(input / 2^l) rows and columns, also for odd sizes, in every family.
    func testOddInputSizes() {
        XCTAssertEqual(expectedLevels(129), [17, 9, 5, 3, 2])
        XCTAssertEqual(expectedLevels(97), [13, 7, 4, 2, 1])
        for name in ["spinenet-49", "spinenet-96", "r50-fpn", "r0-sp53", "r23-sp30", "fish", "r0-sp53-sequential"] {
            for input in [129, 97, 640] {
                let p = plan(name, ModelOptions(inputSize: input))
                XCTAssertEqual((3...7).map { p.shape(ofLevel: $0)!.h }, expectedLevels(input), "\(name)@\(input)")
                XCTAssertEqual((3...7).map { p.shape(ofLevel: $0)!.w }, expectedLevels(input), "\(name)@\(input)")
                for (key, id) in p.outputs {
                    let level = Int(key.split(separator: "/").last!)!
                    XCTAssertEqual(p.nodes[id].shape.h, expectedLevels(input)[level - 3], "\(name) \(key)")
                }
            }
        }
    }

    /// Every node's shape follows from its inputs: SAME convs and pools give ceil(n / stride), sums agree.
    func testNodeShapesAreConsistent() {
        let p = plan("spinenet-49", ModelOptions(inputSize: 129))
        for node in p.nodes {
            let ins = node.inputs.map { p.nodes[$0].shape }
            switch node.op {
            case let .conv(_, stride, _):
                XCTAssertEqual(node.shape.h, (ins[0].h + stride - 1) / stride, node.name)
            case .maxPool:
                XCTAssertEqual(node.shape.h, (ins[0].h + 1) / 2, node.name)
                XCTAssertEqual(node.shape.c, ins[0].c, node.name)
            case .add:
                XCTAssertTrue(ins.allSatisfy { $0 == node.shape }, node.name)
            case let .upsample(factor):
                XCTAssertLessThanOrEqual(node.shape.h, ins[0].h * factor, node.name)
                XCTAssertGreaterThan(node.shape.h, (ins[0].h - 1) * factor, node.name)
            default: break
            }
            XCTAssertTrue(node.inputs.allSatisfy { $0 < node.id }, "\(node.name) is not in topological order")
        }
    }

    func testWidthsAndScaling() {
        // 49S: int(64 * 0.65) = 41, so L2 bottlenecks output 164 channels.
        let s = plan("spinenet-49s", ModelOptions(head: HeadConfig.none))
        XCTAssertEqual(s.nodes.first { $0.name == "stem/block0/conv1/conv" }!.shape.c, 41)
        XCTAssertEqual(s.nodes.first { $0.name == "stem/conv7/conv" }!.shape.c, 64, "stem conv is never scaled")
        // Resampling a bottleneck parent: int(Cp/4 * alpha): block2 (L3) from block0 (L2, 256 ch) -> 64.
        let p = plan("spinenet-49", ModelOptions(head: HeadConfig.none))
        XCTAssertEqual(p.nodes.first { $0.name == "block2/in0/reduce/conv" }!.shape.c, 32)
        // ... and from the residual block1 (L4, 256 ch, base Cp) -> 128, upsampled by 2 to L3.
        XCTAssertEqual(p.nodes.first { $0.name == "block2/in1/reduce/conv" }!.shape.c, 128)
        XCTAssertEqual(p.nodes.first { $0.name == "block2/in1/up" }!.op, .upsample(factor: 2))
        // Downsampling L2 -> L4: one stride-2 conv then one max pool.
        XCTAssertNotNil(p.nodes.first { $0.name == "block1/in0/down/conv" })
        XCTAssertNotNil(p.nodes.first { $0.name == "block1/in0/pool1" })
        XCTAssertNil(p.nodes.first { $0.name == "block1/in0/pool2" })
    }

    func testStemProjectionOnlyWhenChannelsDiffer() {
        let proxy = plan("spinenet-49", ModelOptions(filterSizeScale: 0.25, resampleAlpha: 0.25, head: HeadConfig.none))
        XCTAssertNil(proxy.nodes.first { $0.name == "stem/block0/shortcut/conv" }, "64 == 4 * int(64 * 0.25)")
        let full = plan("spinenet-49", ModelOptions(head: HeadConfig.none))
        XCTAssertNotNil(full.nodes.first { $0.name == "stem/block0/shortcut/conv" })
        XCTAssertNil(full.nodes.first { $0.name.hasPrefix("block") && $0.name.contains("shortcut") },
                     "permuted blocks get their width from the resampling, so their shortcut is identity")
    }

    func testBlockRepeats() {
        let p = plan("spinenet-143", ModelOptions(head: HeadConfig.none))
        XCTAssertNotNil(p.nodes.first { $0.name == "block14/r2/conv3/conv" })
        XCTAssertNil(p.nodes.first { $0.name == "block14/r3/conv3/conv" })
        XCTAssertNotNil(p.nodes.first { $0.name == "stem/block1/r2/conv3/conv" })
    }

    func testBadOptionsFailClearly() {
        XCTAssertThrowsError(try ModelBuilder.build(spec("spinenet-49"), options: ModelOptions(inputSize: 0)))
        XCTAssertThrowsError(try ModelBuilder.build(spec("spinenet-49"), options: ModelOptions(filterSizeScale: 0.01)))
    }
}
