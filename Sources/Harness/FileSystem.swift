import Common
import Foundation

/// File helpers that keep what is already written safe.
public enum FileSystem {
    /// Writes through `DurableFile` (temp file, fsync, rename): on any failure (full disk, permissions)
    /// the old file stays byte for byte and the temporary one is removed.
    public static func writeAtomically(_ data: Data, to path: String) throws {
        do {
            try DurableFile.write(data, to: path)
        } catch let e as DurableFileError {
            throw HarnessError.io(path: path, reason: e.reason)
        }
    }

    public static func writeAtomically(_ text: String, to path: String) throws {
        try writeAtomically(Data(text.utf8), to: path)
    }

    /// Fails now, not after hours of training, if files cannot be written in `dir` (read-only folder, a
    /// file in the way, a full disk): writes and removes a small probe file. `what` says what would be lost.
    public static func checkWritable(_ dir: String, what: String) throws {
        let probe = dir + "/.write-check"
        do {
            try DurableFile.write(Data("ok\n".utf8), to: probe)
            try? FileManager.default.removeItem(atPath: probe)
        } catch let e as DurableFileError {
            throw HarnessError.io(path: dir, reason: "\(what) cannot be written there: \(e.reason)")
        }
    }

    public static func createDirectory(_ path: String) throws {
        do {
            try DurableFile.createDirectory(path)
        } catch let e as DurableFileError {
            throw HarnessError.io(path: path, reason: e.reason)
        }
    }

    /// Every regular file under `dir` whose name ends in `suffix`, sorted for a stable order.
    public static func files(under dir: String, suffix: String) -> [String] {
        guard let e = FileManager.default.enumerator(atPath: dir) else { return [] }
        var out: [String] = []
        while let rel = e.nextObject() as? String {
            if rel.hasSuffix(suffix), !rel.contains(DurableFile.temporaryMarker) { out.append(dir + "/" + rel) }
        }
        return out.sorted()
    }
}
