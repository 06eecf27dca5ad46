import Common
import Datasets
import Foundation

/// Makes sure the dataset a profile asks for exists under `data/`, building it once.
/// The file name carries every builder parameter, so a changed profile never reuses a stale file; a file
/// already there is used only after its content checksum and build parameters check out, so a record's
/// provenance always describes the data actually trained on.
public enum DatasetCache {
    public static func path(kind: String, size: AblationDefinition.Profile.DatasetSize, seed: UInt64, markContrast: Double = 1,
                            dataDir: String) -> String {
        if kind == DatasetKind.fineShapes.rawValue {
            return "\(dataDir)/\(kind)-\(size.size)px-rgb-\(size.train)-\(size.val)-marks\(markContrast)-seed\(seed).h5"
        }
        if DatasetKind(rawValue: kind)?.isClassification == true {
            return "\(dataDir)/\(kind)-\(size.size)px-rgb-\(size.train)-\(size.val)-seed\(seed).h5"
        }
        return "\(dataDir)/\(kind)-\(size.size)px-\(size.train)-\(size.val)-obj\(size.maxObjects)-side\(size.minSide)-\(size.maxSide)-seed\(seed).h5"
    }

    /// Returns the path of a ready dataset; falls back to `fallback` when the first kind's
    /// source files are not installed (Fashion-MNIST missing). Logs what it built.
    public static func ensure(_ choice: AblationDefinition.DatasetChoice, size: AblationDefinition.Profile.DatasetSize,
                              dataDir: String, log: (String) -> Void) throws -> String {
        var kinds = [choice.kind]
        if let f = choice.fallback { kinds.append(f) }
        var lastError: Error?
        DurableFile.removeStaleTemporaries(in: dataDir)
        for name in kinds {
            guard let kind = DatasetKind(rawValue: name) else {
                throw HarnessError.badConfig(file: "ablation file", field: "dataset.kind",
                                             expected: DatasetKind.allCases.map(\.rawValue).joined(separator: ", "))
            }
            let markContrast = choice.markContrast ?? 1   // not fine-shapes: buildDataset refuses any other value
            let path = self.path(kind: name, size: size, seed: choice.seed, markContrast: markContrast, dataDir: dataDir)
            var options = BuildOptions.defaults(for: kind)
            options.size = size.size
            options.trainCount = size.train
            options.valCount = size.val
            if kind.isClassification {
                // One label per image; three channels, as every network's input has (gray items are repeated).
                options.maxObjects = 1
                options.channels = 3
                options.minSide = max(2, size.size / 6)
                options.maxSide = max(2, size.size * 3 / 4)
            } else {
                options.maxObjects = size.maxObjects
                options.minSide = size.minSide
                options.maxSide = size.maxSide
            }
            options.seed = choice.seed
            options.markContrast = markContrast
            if FileManager.default.fileExists(atPath: path) {
                try DatasetFile.open(path, verify: true).checkBuilt(as: kind, options: options)
                return path
            }
            try FileSystem.createDirectory(dataDir)
            do {
                let summary = try buildDataset(kind, options: options, to: path)
                log("built \(path): \(summary.images["train"] ?? 0) train / \(summary.images["val"] ?? 0) val images, checksum \(summary.checksum)")
                return path
            } catch {
                log("could not build \(name): \(error)")
                lastError = error
            }
        }
        throw lastError ?? HarnessError.badArgument("no dataset kind to build")
    }
}
