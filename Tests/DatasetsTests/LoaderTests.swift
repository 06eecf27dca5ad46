import XCTest
@testable import Datasets

final class LoaderTests: XCTestCase {
    /// Evaluation mode at the stored size yields exactly what the builder drew: pixels (normalised
    /// v/255 - 0.5), boxes, labels, ids in file order, scale 1, and a smaller last batch.
    func testEvaluationBatchesEqualWhatTheBuilderDrew() throws {
        let (path, o) = try smallShapes(temporaryDirectory())
        let plan = try splitPlans(.shapes, o)[1]
        let loader = try DetectionLoader(path: path, split: "val", options: LoaderOptions(batchSize: 4, training: false))
        XCTAssertEqual(loader.batchesPerEpoch, 3)
        var seen = 0
        while let batch = try loader.next() {
            XCTAssertEqual([batch.height, batch.width, batch.channels], [64, 64, 3])
            XCTAssertEqual(batch.batchSize, batch.imageIds.count)
            for (j, id) in batch.imageIds.enumerated() {
                XCTAssertEqual(id, seen)
                var rng = SplitMix64(seed: o.seed, 1, UInt64(id))
                let drawn = plan.draw(id, &rng)
                let n = 64 * 64 * 3
                let got = Array(batch.images[(j * n)..<((j + 1) * n)])
                XCTAssertEqual(got, drawn.pixels.map { Float($0) * (1 / 255) + -0.5 })
                XCTAssertEqual(batch.boxes[j], drawn.boxes)
                XCTAssertEqual(batch.labels[j], drawn.labels)
                XCTAssertEqual(batch.scales[j], 1)
                seen += 1
            }
        }
        XCTAssertEqual(seen, 10)
        XCTAssertNil(try loader.next(), "an epoch ends with nil and stays ended")
    }

    /// Known cases: flipping moves x to W - x; scale and offset map boxes linearly; clipping and dropping.
    func testFlipAndJitterMoveBoxesCorrectly() {
        let b = Box(x1: 1, y1: 2, x2: 3, y2: 5)
        XCTAssertEqual(ImageTransform(scale: 1, flipped: true, originalWidth: 8, originalHeight: 8).apply(b), Box(x1: 5, y1: 2, x2: 7, y2: 5))
        let t = ImageTransform(scale: 1.5, offsetX: -2, offsetY: 0, flipped: true, originalWidth: 8, originalHeight: 8)
        XCTAssertEqual(t.apply(b), Box(x1: 5.5, y1: 3, x2: 8.5, y2: 7.5))
        XCTAssertEqual(t.toOriginal(t.apply(b)), b)
        let (boxes, labels) = t.transform(boxes: [b, Box(x1: 7.5, y1: 0, x2: 8, y2: 1), Box(x1: 0, y1: 0, x2: 2, y2: 2)], labels: [4, 5, 6], outputSize: 8)
        // (5.5,3,8.5,7.5) clips to x2 = 8; (7.5..8) flips to x 0..0.5 -> -2..-1.25 -> dropped; (0..2) -> 7..10 -> 7..8.
        XCTAssertEqual(boxes, [Box(x1: 5.5, y1: 3, x2: 8, y2: 7.5), Box(x1: 7, y1: 0, x2: 8, y2: 3)])
        XCTAssertEqual(labels, [4, 6])
    }

    /// Pixels follow the same mapping: a flipped copy is mirrored exactly; scale 2 doubles a block with
    /// half-pixel-centre bilinear weights; padding is 0.
    func testWarpPixelsKnownCases() {
        let src: [UInt8] = [0, 10, 20, 30,
                            40, 50, 60, 70]   // 4 wide, 2 high, 1 channel
        var out = [Float](repeating: -9, count: 16)
        let flip = ImageTransform(scale: 1, flipped: true, originalWidth: 4, originalHeight: 2)
        flip.warp(src, channels: 1, outputSize: 4, gain: [1], bias: [0], into: &out)
        XCTAssertEqual(out, [30, 20, 10, 0, 70, 60, 50, 40, 0, 0, 0, 0, 0, 0, 0, 0])

        let two = ImageTransform(scale: 2, offsetX: -2, originalWidth: 4, originalHeight: 2)
        var big = [Float](repeating: -9, count: 16)
        two.warp(src, channels: 1, outputSize: 4, gain: [1], bias: [0], into: &big)
        // Output x 0..3 with crop 2 samples source x (o + 2.5)/2 - 0.5 = 0.75, 1.25, 1.75, 2.25.
        XCTAssertEqual(Array(big[0..<4]), [7.5, 12.5, 17.5, 22.5])
        // Output row 1 samples y = 0.25: 25% of the way to the second row (+40 * 0.25).
        XCTAssertEqual(Array(big[4..<8]), [17.5, 22.5, 27.5, 32.5])
    }

    /// Training: shuffled order and augmentation depend only on (seed, epoch, image), never on thread
    /// timing: prefetched batches equal synchronously made ones; other epochs and seeds differ.
    func testTrainingIsDeterministicPerSeedAndEpoch() throws {
        let (path, _) = try smallShapes(temporaryDirectory())
        let options = LoaderOptions(batchSize: 5, outputSize: 48, training: true, seed: 21, prefetch: 1)
        let a = try DetectionLoader(path: path, split: "train", options: options)
        let b = try DetectionLoader(path: path, split: "train", options: options)
        XCTAssertEqual(a.batchesPerEpoch, 4, "24 images at batch 5 keep 4 full batches")
        a.start(epoch: 1)
        var prefetched: [Batch] = []
        while let batch = try a.next() { prefetched.append(batch) }
        XCTAssertEqual(prefetched.count, 4)
        for (i, batch) in prefetched.enumerated() {
            let again = try b.makeBatch(epoch: 1, index: i)
            XCTAssertEqual(batch.images, again.images)
            XCTAssertEqual(batch.boxes, again.boxes)
            XCTAssertEqual(batch.imageIds, again.imageIds)
            XCTAssertEqual(batch.transforms, again.transforms)
            XCTAssertEqual(batch.images.count, 5 * 48 * 48 * 3)
            for (boxes, t) in zip(batch.boxes, batch.transforms) {
                XCTAssertTrue(boxes.allSatisfy { $0.x1 >= 0 && $0.y1 >= 0 && $0.x2 <= 48 && $0.y2 <= 48 && $0.width >= 1 })
                XCTAssertTrue((0.8 * 0.75 - 1e-6)...(1.2 * 0.75 + 1e-6) ~= Double(t.scale))
            }
        }
        XCTAssertEqual(Set(prefetched.flatMap(\.imageIds)).count, 20, "no image twice in an epoch")
        XCTAssertNotEqual(a.order(epoch: 1), a.order(epoch: 2))
        let other = try DetectionLoader(path: path, split: "train",
                                        options: LoaderOptions(batchSize: 5, outputSize: 48, seed: 22))
        XCTAssertNotEqual(other.order(epoch: 1), a.order(epoch: 1))
        let transforms = (0..<24).map { a.transform(image: $0, epoch: 1) }
        XCTAssertTrue(transforms.contains { $0.flipped } && transforms.contains { !$0.flipped })
        XCTAssertTrue(transforms.contains { $0.offsetX < 0 }, "some jittered images are cropped")

        // Restarting mid-epoch gives the epoch from its beginning.
        a.start(epoch: 1)
        _ = try a.next()
        a.start(epoch: 1)
        XCTAssertEqual(try a.next()?.imageIds, prefetched[0].imageIds)
    }

    /// Each augmented box is the stored box under its transform (clipped), checked against the file.
    func testAugmentedBoxesMatchStoredBoxes() throws {
        let (path, _) = try smallShapes(temporaryDirectory())
        let loader = try DetectionLoader(path: path, split: "train", options: LoaderOptions(batchSize: 8, seed: 5))
        let split = loader.split
        let batch = try loader.makeBatch(epoch: 0, index: 0)
        for (j, id) in batch.imageIds.enumerated() {
            let t = batch.transforms[j]
            let expected = split.boxes(of: id).map { t.apply($0) }.map {
                Box(x1: max(0, $0.x1), y1: max(0, $0.y1), x2: min(64, $0.x2), y2: min(64, $0.y2))
            }.filter { $0.width >= 1 && $0.height >= 1 }
            XCTAssertEqual(batch.boxes[j], expected)
        }
    }

    func testMeanStdNormalisation() throws {
        let (path, _) = try smallShapes(temporaryDirectory())
        let norm = Normalization.meanStd(mean: [0.5, 0.4, 0.3], std: [0.2, 0.25, 0.5])
        let loader = try DetectionLoader(path: path, split: "val",
                                         options: LoaderOptions(batchSize: 1, training: false, normalization: norm))
        let batch = try loader.makeBatch(epoch: 0, index: 0)
        let raw = try loader.split.readImages(start: 0, count: 1)
        for i in [0, 1, 2, 3000, 7001] {
            let k = i % 3
            let expected = (Float(raw[i]) / 255 - [0.5, 0.4, 0.3][k]) / [0.2, 0.25, 0.5][k]
            XCTAssertEqual(batch.images[i], expected, accuracy: 1e-5)
        }
    }

    /// A train and a val loader on one open file prefetch at the same time (HDF5 calls are serialised);
    /// evaluation at a larger output size scales boxes by output/stored and pads nothing (square images).
    func testTwoLoadersOnOneFileAndEvaluationResize() throws {
        let (path, _) = try smallShapes(temporaryDirectory())
        let file = try DatasetFile.open(path)
        let train = try DetectionLoader(file: file, split: "train", options: LoaderOptions(batchSize: 4, seed: 1))
        let val = try DetectionLoader(file: file, split: "val",
                                      options: LoaderOptions(batchSize: 3, outputSize: 96, training: false, limit: 7))
        XCTAssertEqual(val.batchesPerEpoch, 3)
        train.start(epoch: 0)
        val.start(epoch: 0)
        var trainBatches = 0, valImages: [Int] = []
        while true {
            let t = try train.next(), v = try val.next()
            if t == nil && v == nil { break }
            if let t {
                XCTAssertEqual(t.images, try train.makeBatch(epoch: 0, index: t.index).images)
                trainBatches += 1
            }
            if let v {
                valImages += v.imageIds
                for (j, id) in v.imageIds.enumerated() {
                    XCTAssertEqual(v.scales[j], 1.5)
                    XCTAssertEqual(v.boxes[j], val.split.boxes(of: id).map { Box(x1: $0.x1 * 1.5, y1: $0.y1 * 1.5, x2: $0.x2 * 1.5, y2: $0.y2 * 1.5) })
                    XCTAssertEqual(v.boxes[j].map { v.transforms[j].toOriginal($0) }, Array(val.split.boxes(of: id)))
                }
            }
        }
        XCTAssertEqual(trainBatches, 6)
        XCTAssertEqual(valImages, Array(0..<7))
    }
}
