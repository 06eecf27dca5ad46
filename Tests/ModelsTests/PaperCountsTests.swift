import XCTest
@testable import Models

/// docs/paper-facts.md §9: whole-detector params and multiply-adds (91 classes, 9 anchors, paper heads).
final class PaperCountsTests: XCTestCase {
    func check(_ name: String, input: Int? = nil, params: Double, macs: Double, file: StaticString = #filePath, line: UInt = #line) {
        let c = plan(name, ModelOptions(inputSize: input)).counts
        let dp = abs(Double(c.params) / 1e6 - params) / params
        let dm = abs(Double(c.macs) / 1e9 - macs) / macs
        XCTAssertLessThan(dp, 0.001, "\(name)@\(input ?? 0): params \(c.params) vs \(params)M", file: file, line: line)
        XCTAssertLessThan(dm, 0.005, "\(name)@\(input ?? 0): MACs \(c.macs) vs \(macs)B", file: file, line: line)
    }

    func testSection6Rows() {
        check("spinenet-49s", params: 11.94, macs: 33.75)
        check("spinenet-49", params: 28.54, macs: 85.28)
        check("spinenet-49", input: 896, params: 28.54, macs: 167.15)
        check("spinenet-96", params: 42.97, macs: 265.02)
        check("spinenet-143", params: 66.96, macs: 523.34)
        check("spinenet-190", params: 163.64, macs: 1881.66)
        check("r50-fpn", params: 34.09, macs: 96.88)
        check("r101-fpn", params: 53.08, macs: 127.18)
        check("r152-fpn", params: 68.73, macs: 157.49)
    }

    /// TF Model Garden's own counts of the same detectors (tf-models-official 2.20.0 on tensorflow-cpu 2.20.0,
    /// `bench/tensorflow/counts.py`, docs/paper-facts.md §9): parameters and multiply-adds within 0.1%
    /// (today they agree to the unit).
    func testTensorFlowModelGardenCounts() {
        let tfm: [(String, Int, Int, Int)] = [
            ("r50-fpn", 640, 34_091_159, 96_880_198_400),
            ("r101-fpn", 640, 53_083_287, 127_184_044_800),
            ("r152-fpn", 640, 68_726_935, 157_487_891_200),
            ("spinenet-49s", 640, 11_944_598, 33_745_248_375),
            ("spinenet-49", 640, 28_543_383, 85_281_555_200),
            ("spinenet-96", 1024, 42_974_871, 265_024_356_352),
            ("spinenet-143", 1280, 66_959_511, 523_337_600_000),
        ]
        for (name, input, params, macs) in tfm {
            let c = plan(name, ModelOptions(inputSize: input)).counts
            XCTAssertLessThan(abs(Double(c.params - params)) / Double(params), 0.001, "\(name): params \(c.params) vs TFM \(params)")
            XCTAssertLessThan(abs(Double(c.macs - macs)) / Double(macs), 0.001, "\(name): MACs \(c.macs) vs TFM \(macs)")
        }
    }

    /// The paper's own FLOPs figures are within 0.5% too.
    func testPaperFLOPs() {
        check("spinenet-49s", params: 11.94, macs: 33.8)
        check("spinenet-49", params: 28.54, macs: 85.4)
        check("spinenet-190", params: 163.64, macs: 1885)
        check("r50-fpn", params: 34.09, macs: 97.0)
    }

    func testBackboneOnlyParams() {
        for (name, expected) in [("spinenet-49", 21.83), ("spinenet-96", 36.26), ("spinenet-143", 60.25)] {
            let backbone = plan(name, ModelOptions(head: HeadConfig.none)).counts
            XCTAssertEqual(backbone.params, backbone.backboneParams)
            XCTAssertLessThan(abs(Double(backbone.params) / 1e6 - expected) / expected, 0.001, "\(name): \(backbone.params)")
            XCTAssertEqual(plan(name).counts.backboneParams, backbone.params)
        }
    }

    /// Known answer by hand: 4 shared 3x3x256x256 (+bias) convs per subnet, BN per level and conv (5 x 4 x 512
    /// per subnet), predictions 3x3x256x(91*9) and 3x3x256x36 with bias; MACs over 80^2+40^2+20^2+10^2+5^2 positions.
    func testRetinaNetHeadByHand() {
        let c = plan("spinenet-49").counts
        let tower = 4 * (9 * 256 * 256 + 256)
        let bn = 2 * 4 * 5 * 2 * 256
        let predict = (9 * 256 * 819 + 819) + (9 * 256 * 36 + 36)
        XCTAssertEqual(c.params - c.backboneParams, 2 * tower + bn + predict)
        XCTAssertEqual(c.macs - c.backboneMACs, 8525 * (8 * 9 * 256 * 256 + 9 * 256 * (819 + 36)))
    }

    /// ResNet-50 without its classifier has 23,508,032 trainable params (torchvision: 25,557,032 - 2,049,000).
    func testResNet50Trunk() {
        let p = plan("r50-fpn", ModelOptions(head: HeadConfig.none))
        var seen = Set<String>()
        var trunk = 0
        for node in p.nodes where node.name.hasPrefix("stem/") && seen.insert(node.weightKey).inserted {
            trunk += node.parameterCount(inputChannels: p.inputChannels(of: node))
        }
        XCTAssertEqual(trunk, 23_508_032)
    }

    func testClassificationHead() {
        let p = plan("spinenet-49", ModelOptions(head: .classification(classes: 10)))
        let c = p.counts
        XCTAssertEqual(c.params - c.backboneParams, 256 * 10 + 10)
        XCTAssertEqual(c.macs - c.backboneMACs, 256 * 10)
        XCTAssertEqual(p.nodes[p.outputs["logits"]!].shape, FeatureShape(h: 1, w: 1, c: 10))
    }
}
