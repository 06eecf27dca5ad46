import Common
import Foundation
import Harness

/// One evaluated candidate: a line of a search log.
public struct LogEntry: Codable, Equatable, Sendable {
    /// Step within its shard's evolution (0-based).
    public var index: Int
    /// "i/n": the shard that evaluated it.
    public var shard: String
    /// `random` (initial population or random search) or the mutation kind.
    public var origin: String
    /// The parent's index (same shard) for mutations.
    public var parent: Int?
    public var candidate: Candidate
    public var reward: Double
    /// Every metric of the held-out evaluation (AP, AP50, ...), or empty when training diverged.
    public var metrics: Metrics
    /// Wall-clock seconds of the evaluation (training + scoring).
    public var seconds: Double
    public var commit: String
    public var spaceHash: String
    /// Set when the candidate could not be scored (training diverged): its reward is 0.
    public var failure: String?
    /// Successive halving only (absent otherwise): the rung, and the fidelity the reward was measured at.
    public var rung: Int?
    public var epochs: Int?
    public var seed: Int?

    enum CodingKeys: String, CodingKey {
        case index, shard, origin, parent, candidate, reward, metrics, seconds, commit, failure, rung, epochs, seed
        case spaceHash = "space_hash"
    }
}

/// An append-only JSON-lines file of evaluated candidates. Each line is written and fsync'd before the
/// search goes on, so a killed search loses at most the candidate it was training; `read` drops a torn
/// last line (no newline) and rewrites the file without it.
public struct SearchLog: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    /// One shard's log in a space's folder: `shard-I-of-N.jsonl`.
    public static func path(folder: String, shard: Shard) -> String {
        "\(folder)/shard-\(shard.index)-of-\(shard.count).jsonl"
    }

    public func read() throws -> [LogEntry] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if let last = lines.last, last.isEmpty { lines.removeLast() }
        let torn = !data.isEmpty && data.last != UInt8(ascii: "\n")
        var entries: [LogEntry] = []
        for (i, line) in lines.enumerated() {
            do {
                entries.append(try JSONDecoder().decode(LogEntry.self, from: Data(line)))
            } catch {
                if torn && i == lines.count - 1 {
                    // A write cut off by a kill: drop it (the candidate is evaluated again).
                    let kept = lines.dropLast().map { Data($0) + Data("\n".utf8) }.reduce(Data(), +)
                    try FileSystem.writeAtomically(kept, to: path)
                    break
                }
                throw SearchError.badLog(file: path, line: i + 1, reason: "\(error)")
            }
        }
        return entries
    }

    /// `read`, refusing entries of another version of the space (`hash`: the space's `hash`, or its
    /// `rewardHash` for the noise log) or another shard, or out of order.
    public func readChecked(space: SpaceDefinition, shard: Shard, hash: String? = nil) throws -> [LogEntry] {
        let entries = try read()
        let expected = hash ?? space.hash
        for (i, e) in entries.enumerated() {
            if e.spaceHash != expected {
                throw SearchError.foreignLog(file: path, line: i + 1,
                                             reason: "written for space hash \(e.spaceHash), the space file now hashes to \(expected)")
            }
            if e.shard != shard.description || e.index != i {
                throw SearchError.foreignLog(file: path, line: i + 1,
                                             reason: "entry \(e.index) of shard \(e.shard) where entry \(i) of shard \(shard) belongs")
            }
        }
        return entries
    }

    /// Appends one line and fsyncs it. A write that fails part-way (a full disk) is cut back off, so the
    /// log never keeps half a line, and the error says what the system said.
    public func append(_ entry: LogEntry) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let line = try encoder.encode(entry) + Data("\n".utf8)
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileSystem.createDirectory(dir) }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        guard fd >= 0 else { throw HarnessError.io(path: path, reason: "cannot open for append: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let before = lseek(fd, 0, SEEK_END)
        var done = 0, failure: String?
        line.withUnsafeBytes { raw in
            while done < raw.count {
                let n = write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    let code = errno
                    failure = "append failed after \(done) of \(raw.count) bytes: \(String(cString: strerror(code)))"
                        + (code == ENOSPC ? " (disk full)" : "")
                    return
                }
                done += n
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = "fsync failed: \(String(cString: strerror(errno)))" }
        if let failure {
            _ = ftruncate(fd, before)
            throw HarnessError.io(path: path, reason: failure)
        }
    }

    /// Every search log of a space's folder (all shards; not the noise measurement), in file order; merging shards is reading them together.
    public static func readAll(folder: String) throws -> [(file: String, entries: [LogEntry])] {
        try FileSystem.files(under: folder, suffix: ".jsonl").filter { $0 != RewardNoise.path(folder: folder) }
            .map { ($0, try SearchLog(path: $0).read()) }
    }
}
