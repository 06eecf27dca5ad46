import Engine
import XCTest
@testable import Harness

/// Evaluation with `eval_batch_norm: moving` uses batch norm's moving averages, which every training path
/// (plain, fused with a conv, joint conv groups, the stem's pool) must keep: after one training forward with
/// momentum 0 no layer may still hold its initial statistics (mean 0, variance 1).
final class BatchNormStatisticsTests: XCTestCase {
    func testEveryLayerUpdatesItsMovingStatistics() throws {
        FileManager.default.changeCurrentDirectoryPath(TablesTests.packageRoot)
        for model in ["r0-sp53", "r50-fpn", "spinenet-49", "r0-sp53-sequential"] {
            var p = TablesTests.profile
            p.bnMomentum = 0
            let built = try DetectorFactory.build(model: model, profile: p, numClasses: 4, seed: 3)
            var rng = RNG(seed: 7)
            let images = Tensor(shape: [4, 64, 64, 3], data: (0..<(4 * 64 * 64 * 3)).map { _ in rng.normal() })
            let tape = Tape(training: true)
            _ = built.network(tape.input(images), on: tape)
            for bn in built.network.batchNorms {
                let untouched = bn.runningMean.data.allSatisfy { $0 == 0 } && bn.runningVar.data.allSatisfy { $0 == 1 }
                XCTAssertFalse(untouched, "\(model): \(bn.name) kept its initial moving statistics")
            }
        }
    }

    /// Only evaluation settings are left out of the training hash: changing them re-scores a checkpoint.
    func testEvaluationSettingsStayOutOfTheTrainingHash() throws {
        var a = TablesTests.config("r0-sp53", seed: 0)
        let (hash, training) = (a.hash, a.trainingHash)
        a.profile.evalBatchNorm = a.profile.evalBatchNorm == .batch ? .moving : .batch
        XCTAssertNotEqual(a.hash, hash)
        XCTAssertEqual(a.trainingHash, training)
        a.profile.epochs += 1
        XCTAssertNotEqual(a.trainingHash, training)
    }
}
