#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

#if canImport(Glibc)
private let systemWrite = Glibc.write
#else
private let systemWrite = Darwin.write
#endif

/// A failed durable write: the file it was for and what the system said.
public struct DurableFileError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let reason: String
    public var description: String { "\(path): \(reason)" }
}

/// The one way spinebench puts a file on disk (datasets, checkpoints, records, tables, specs).
///
/// Bytes go to `PATH.tmp-<host>-<pid>` in the same directory, are fsynced, and only then renamed over `PATH`,
/// whose directory is fsynced too. Every system call is checked, so a full disk, a read-only folder or a
/// crash leaves the previous `PATH` byte for byte as it was. On an error the temporary file is removed;
/// one left by a killed process is removed by `removeStaleTemporaries`, which every successful write runs
/// on its folder (and the dataset cache and run folders on start).
public enum DurableFile {
    /// The marker between a final name and the writer's pid.
    public static let temporaryMarker = ".tmp-"

    /// The temporary name this process uses for `path`. The host is in it because a folder may be shared by
    /// several machines (a Slurm array on a shared file system): only this host's pids can be checked.
    public static func temporaryPath(for path: String) -> String { path + temporaryMarker + host + "-" + String(getpid()) }

    /// This machine's name, as temporary names carry it (the pid after the last "-" is parsed first).
    public static let host: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count - 1)
        let name = String(cString: buffer)
        return name.isEmpty ? "localhost" : name
    }()

    /// Writes `bytes` to `path` atomically and durably (see the type's doc).
    public static func write(_ bytes: UnsafeRawBufferPointer, to path: String) throws {
        let parent = (path as NSString).deletingLastPathComponent, dir = parent.isEmpty ? "." : parent
        try createDirectory(dir)
        let tmp = temporaryPath(for: path)
        do {
            try writeAndSync(bytes, to: tmp)
            guard rename(tmp, path) == 0 else { throw failure(path, "cannot rename \(tmp) into place") }
        } catch {
            unlink(tmp)
            throw error
        }
        syncDirectory(dir)
        removeStaleTemporaries(in: dir)
    }

    public static func write(_ data: Data, to path: String) throws {
        try data.withUnsafeBytes { try write($0, to: path) }
    }

    public static func write(_ bytes: [UInt8], to path: String) throws {
        try bytes.withUnsafeBytes { try write($0, to: path) }
    }

    /// Renames a finished directory (built under a temporary name) over `path`, keeping the old one until
    /// the new one is in place: a crash leaves either the old directory or the new one under `path`.
    public static func replaceDirectory(_ path: String, with built: String) throws {
        let old = path + ".old"
        let fm = FileManager.default
        try? fm.removeItem(atPath: old)
        if fm.fileExists(atPath: path), rename(path, old) != 0 { throw failure(path, "cannot move aside to \(old)") }
        guard rename(built, path) == 0 else {
            let e = failure(path, "cannot rename \(built) into place")
            _ = rename(old, path)
            throw e
        }
        syncDirectory((path as NSString).deletingLastPathComponent)
        try? fm.removeItem(atPath: old)
    }

    public static func createDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw DurableFileError(path: path, reason: "cannot create directory: \(error.localizedDescription)")
        }
    }

    /// Removes `NAME.tmp-<host>-<pid>` files and folders directly in `dir` written on this host by a
    /// process no longer running (a killed build or checkpoint); another host's are left alone. Returns the
    /// paths removed.
    @discardableResult
    public static func removeStaleTemporaries(in dir: String) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
        var removed: [String] = []
        for name in names {
            guard let marker = name.range(of: temporaryMarker, options: .backwards),
                  let dash = name[marker.upperBound...].lastIndex(of: "-"),
                  name[marker.upperBound..<dash] == host,
                  let pid = Int32(name[name.index(after: dash)...]), pid > 0, !isRunning(pid) else { continue }
            let path = dir + "/" + name
            if (try? FileManager.default.removeItem(atPath: path)) != nil { removed.append(path) }
        }
        return removed.sorted()
    }

    /// True if a process with this id exists (ours or another user's).
    static func isRunning(_ pid: Int32) -> Bool {
        if pid == getpid() { return true }
        return kill(pid, 0) == 0 || errno == EPERM
    }

    private static func writeAndSync(_ bytes: UnsafeRawBufferPointer, to tmp: String) throws {
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure(tmp, "cannot create") }
        var done = 0
        while done < bytes.count {
            let n = systemWrite(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                let e = failure(tmp, "write failed after \(done) of \(bytes.count) bytes")
                close(fd)
                throw e
            }
            done += n
        }
        if fsync(fd) != 0 {
            let e = failure(tmp, "fsync failed")
            close(fd)
            throw e
        }
        guard close(fd) == 0 else { throw failure(tmp, "close failed") }
    }

    /// Makes a rename in `dir` durable; best effort (some file systems refuse to fsync a directory).
    private static func syncDirectory(_ dir: String) {
        let fd = open(dir, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    private static func failure(_ path: String, _ what: String) -> DurableFileError {
        let code = errno
        let hint = code == ENOSPC || code == EDQUOT ? " (disk full)" : code == EFBIG ? " (file size limit)" : ""
        return DurableFileError(path: path, reason: "\(what): \(String(cString: strerror(code)))\(hint)")
    }
}
