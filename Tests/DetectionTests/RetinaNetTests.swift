import XCTest
import Engine
import Models
@testable import Detection

final class RetinaNetTests: XCTestCase {
    /// The head builder emits, for every level the anchors cover, class outputs [N,H,W,A*K] and box outputs
    /// [N,H,W,A*4] with the anchor set's H, W and A: the layout `RetinaNet` reads.
    func testHeadOutputsHaveTheLayoutTheDetectorReads() throws {
        let retinaNet = RetinaNet(imageSize: 33, numClasses: 3, loss: .paper)
        let a = retinaNet.anchors.config.anchorsPerLocation
        let plan = try ModelBuilder.build(try SpecLibrary.standard().spec(named: "r0-sp53"), options: ModelOptions(
            inputSize: 33, filterSizeScale: 0.125, resampleAlpha: 0.25, endpointsNumFilters: 8,
            head: .retinaNet(filters: 8, convs: 1, classes: 3, anchors: ModelBuilder.anchorsPerLocation)))
        let tape = Tape(training: false)
        let head = Network(plan: plan, seed: 1)(tape.input(Tensor(shape: [2, 33, 33, 3], repeating: 0.5)), on: tape).retinaNet
        XCTAssertEqual(head.classes.count, retinaNet.anchors.levels.count)
        XCTAssertEqual(head.boxes.count, retinaNet.anchors.levels.count)
        for (i, level) in retinaNet.anchors.levels.enumerated() {
            XCTAssertEqual(head.classes[i].shape, [2, level.height, level.width, a * 3], "L\(level.level)")
            XCTAssertEqual(head.boxes[i].shape, [2, level.height, level.width, a * 4], "L\(level.level)")
        }
        XCTAssertEqual(retinaNet.detections(head, on: tape).count, 2)
    }

    /// The loss is focal (dense targets, ignored anchors weighted 0) plus box weight x Huber, both over the
    /// batch's positives, on the levels flattened in anchor order; detections are `postProcess` of that order.
    func testLossAndDetectionsAreTheComposition() throws {
        let settings = RetinaNetLoss(focalAlpha: 0.3, focalGamma: 2, huberDelta: 0.2, boxWeight: 7)
        let retinaNet = RetinaNet(anchors: AnchorConfig(minLevel: 3, maxLevel: 4), imageSize: 32, numClasses: 3, loss: settings)
        let (n, k) = (2, 3)
        var targets = try retinaNet.targets(boxes: [[Box(x1: 4, y1: 4, x2: 20, y2: 18)], [Box(x1: 10, y1: 2, x2: 30, y2: 30)]],
                                            labels: [[2], [0]])
        targets.anchorClasses[1] = AnchorCode.ignored
        XCTAssertGreaterThan(targets.numPositives, 1)

        var rng = RNG(seed: 5)
        let tape = Tape(training: false)
        func level(_ l: AnchorLevel, _ c: Int) -> Var {
            let count = n * l.height * l.width * 9 * c
            return tape.input(Tensor(shape: [n, l.height, l.width, 9 * c], data: (0..<count).map { _ in rng.normal() }))
        }
        let head = (classes: retinaNet.anchors.levels.map { level($0, k) }, boxes: retinaNet.anchors.levels.map { level($0, 4) })
        // Anchor order: image after image, each image's levels lowest first.
        func flat(_ levels: [Var], _ c: Int) -> [Float] {
            var all: [Float] = []
            for b in 0..<n {
                for (v, l) in zip(levels, retinaNet.anchors.levels) {
                    let size = l.count * c
                    all += tape.value(v).data[(b * size)..<((b + 1) * size)]
                }
            }
            return all
        }
        let logits = flat(head.classes, k), deltas = flat(head.boxes, 4)
        let anchors = retinaNet.anchors.count
        let focal = tape.sigmoidFocalLoss(tape.input(Tensor(shape: [n, anchors, k], data: logits)),
                                          targets: Tensor(shape: [n, anchors, k], data: targets.classTargets),
                                          weights: Tensor(shape: [n, anchors, k], data: targets.classWeights),
                                          alpha: 0.3, gamma: 2, normalizer: targets.normalizer)
        let huber = tape.huberLoss(tape.input(Tensor(shape: [n, anchors, 4], data: deltas)),
                                   targets: Tensor(shape: [n, anchors, 4], data: targets.boxTargets),
                                   weights: Tensor(shape: [n, anchors, 4], data: targets.boxWeights),
                                   delta: 0.2, normalizer: 4 * targets.normalizer)
        let expected = tape.value(focal).scalar + 7 * tape.value(huber).scalar
        XCTAssertEqual(tape.value(retinaNet.loss(head, targets: targets, on: tape)).scalar, expected,
                       accuracy: 1e-5 * abs(expected))

        let found = retinaNet.detections(head, on: tape)
        for b in 0..<n {
            XCTAssertEqual(found[b], postProcess(classLogits: Array(logits[(b * anchors * k)..<((b + 1) * anchors * k)]),
                                                 boxDeltas: Array(deltas[(b * anchors * 4)..<((b + 1) * anchors * 4)]),
                                                 anchors: retinaNet.anchors, numClasses: k))
        }
        XCTAssertFalse(found[0].isEmpty)
    }
}
