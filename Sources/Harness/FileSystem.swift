import Foundation

/// File helpers that keep what is already written safe.
public enum FileSystem {
    /// Write to `path.tmp-PID` in the same directory, then rename over `path`.
    /// On any failure (full disk, permissions) the old file stays and the temporary one is removed.
    public static func writeAtomically(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        try createDirectory(url.deletingLastPathComponent().path)
        let tmp = path + ".tmp-\(getpid())"
        do {
            try data.write(to: URL(fileURLWithPath: tmp))
            if rename(tmp, path) != 0 {
                throw HarnessError.io(path: path, reason: "rename failed: \(String(cString: strerror(errno)))")
            }
        } catch {
            try? FileManager.default.removeItem(atPath: tmp)
            if let e = error as? HarnessError { throw e }
            throw HarnessError.io(path: path, reason: "write failed (disk full or not writable?): \(error.localizedDescription)")
        }
    }

    public static func writeAtomically(_ text: String, to path: String) throws {
        try writeAtomically(Data(text.utf8), to: path)
    }

    public static func createDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw HarnessError.io(path: path, reason: "cannot create directory: \(error.localizedDescription)")
        }
    }

    /// Every regular file under `dir` whose name ends in `suffix`, sorted for a stable order.
    public static func files(under dir: String, suffix: String) -> [String] {
        guard let e = FileManager.default.enumerator(atPath: dir) else { return [] }
        var out: [String] = []
        while let rel = e.nextObject() as? String {
            if rel.hasSuffix(suffix), !rel.contains(".tmp-") { out.append(dir + "/" + rel) }
        }
        return out.sorted()
    }
}
