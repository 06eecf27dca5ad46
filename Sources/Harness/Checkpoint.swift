import Common
import Engine
import Foundation
import Models

/// A run's state after an epoch: weights, BN running statistics, momentum buffers and progress.
/// Written as a directory (`state.bin` tensors + `meta.json`) built aside and renamed into place,
/// so a kill at any moment leaves either the previous checkpoint or the new one, never half of one.
struct Checkpoint {
    static let formatVersion = 1
    var state: TrainingState
    var tensors: [String: Tensor] = [:]
    /// The folder it was read from, for errors.
    var source = "checkpoint"

    struct Meta: Codable {
        var formatVersion: Int
        var configHash: String
        var state: TrainingState
    }

    init(state: TrainingState) { self.state = state }

    static func entries(detector: Network, optimizer: SGD) -> [(String, Tensor)] {
        var out: [(String, Tensor)] = detector.parameters.map { ("param/\($0.name)", $0.value) }
        for bn in detector.batchNorms {
            out.append(("bn/\(bn.name)/mean", bn.runningMean))
            out.append(("bn/\(bn.name)/var", bn.runningVar))
        }
        for (i, m) in optimizer.state.enumerated() { out.append(("momentum/\(i)", m)) }
        return out
    }

    func write(to runDir: String, configHash: String, detector: Network, optimizer: SGD) throws {
        let final = runDir + "/checkpoint", tmp = DurableFile.temporaryPath(for: final)
        try? FileManager.default.removeItem(atPath: tmp)
        do {
            try FileSystem.createDirectory(tmp)
            try TensorArchive.write(Self.entries(detector: detector, optimizer: optimizer), to: tmp + "/state.bin")
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try FileSystem.writeAtomically(try encoder.encode(Meta(formatVersion: Self.formatVersion, configHash: configHash, state: state)),
                                           to: tmp + "/meta.json")
            try DurableFile.replaceDirectory(final, with: tmp)
        } catch {
            // A full disk must not stay full because of us: drop the half-built checkpoint, keep the last good one.
            try? FileManager.default.removeItem(atPath: tmp)
            throw error
        }
    }

    /// The newest complete checkpoint of this config, or nil to start from scratch.
    static func latest(in runDir: String, configHash: String) throws -> Checkpoint? {
        for dir in [runDir + "/checkpoint", runDir + "/checkpoint.old"] {
            guard let meta = meta(in: dir) else { continue }
            guard meta.formatVersion == formatVersion, meta.configHash == configHash else { return nil }
            return try load(dir, meta)
        }
        return nil
    }

    /// The checkpoint of a run folder whatever its config (for `first-step --checkpoint`); restore checks shapes.
    static func read(runDir: String) throws -> Checkpoint {
        let dir = runDir + "/checkpoint"
        guard let meta = meta(in: dir) else {
            throw HarnessError.io(path: dir + "/meta.json", reason: "no checkpoint here (missing, or not a checkpoint's meta.json)")
        }
        guard meta.formatVersion == formatVersion else {
            throw HarnessError.io(path: dir + "/meta.json", reason: "formatVersion \(meta.formatVersion), expected \(formatVersion)")
        }
        return try load(dir, meta)
    }

    private static func meta(in dir: String) -> Meta? {
        FileManager.default.contents(atPath: dir + "/meta.json").flatMap { try? JSONDecoder().decode(Meta.self, from: $0) }
    }

    private static func load(_ dir: String, _ meta: Meta) throws -> Checkpoint {
        var cp = Checkpoint(state: meta.state)
        cp.source = dir
        for (name, t) in try TensorArchive.read(dir + "/state.bin") { cp.tensors[name] = t }
        return cp
    }

    /// Copies the saved tensors into the live detector and optimiser, checking every shape.
    func restore(into detector: Network, optimizer: SGD) throws {
        let path = source
        func take(_ name: String, into t: Tensor) throws {
            guard let saved = tensors[name] else {
                throw HarnessError.io(path: path, reason: "entry '\(name)' is missing")
            }
            guard saved.shape == t.shape else {
                throw HarnessError.io(path: path, reason: "entry '\(name)' has shape \(saved.shape), expected \(t.shape)")
            }
            t.data = saved.data
        }
        for p in detector.parameters { try take("param/\(p.name)", into: p.value) }
        for bn in detector.batchNorms {
            try take("bn/\(bn.name)/mean", into: bn.runningMean)
            try take("bn/\(bn.name)/var", into: bn.runningVar)
        }
        for (i, m) in optimizer.state.enumerated() { try take("momentum/\(i)", into: m) }
        optimizer.stepCount = state.steps
    }
}
