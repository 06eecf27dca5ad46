import ArgumentParser
import Foundation
import Harness

/// `--jobs N` on one machine: N copies of this command, each taking shard k/N of this invocation's runs
/// with threads/N threads. Two single-threaded trainings keep 2 cores busier than one with two threads
/// (the engine's serial stretches no longer leave a core idle), and shards are already how runs split
/// over a Slurm array, so nothing new decides what runs where. Each child's lines are prefixed "[k] ".
enum LocalJobs {
    /// Runs the children and returns the exit code to report: 0 when all succeeded, else the largest.
    static func run(jobs: Int, shard: Shard, threads: Int, arguments: (Shard, Int) -> [String]) throws -> Int32 {
        let perJob = max(1, threads / jobs)
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var children: [(Process, PrefixedRelay)] = []
        for (k, child) in shard.split(into: jobs).enumerated() {
            let p = Process()
            p.executableURL = exe
            p.arguments = arguments(child, perJob)
            p.environment = ProcessInfo.processInfo.environment.merging([parentVariable: String(getpid())]) { $1 }
            let pipe = Pipe()
            p.standardOutput = pipe
            p.standardError = pipe
            let relay = PrefixedRelay(prefix: "[\(k)] ")
            pipe.fileHandleForReading.readabilityHandler = { relay.take($0) }
            try p.run()
            children.append((p, relay))
        }
        var code: Int32 = 0
        for (p, relay) in children {
            p.waitUntilExit()
            _ = relay.done.wait(timeout: .now() + 10)   // the last lines, still in the pipe
            code = max(code, p.terminationStatus)
        }
        return code
    }

    /// Names the parent in a child's environment.
    static let parentVariable = "SPINEBENCH_PARENT"

    /// In a child: exit as soon as the parent is gone (killed with -9 it cannot stop us), so a rerun never
    /// trains beside orphans writing into the same run folders. Checks twice a second.
    static func followParent() {
        guard let value = ProcessInfo.processInfo.environment[parentVariable], let parent = Int32(value) else { return }
        unsetenv(parentVariable)
        Thread.detachNewThread {
            while getppid() == parent { usleep(500_000) }
            FileHandle.standardError.write(Data("spinebench: the parent process \(parent) is gone; stopping\n".utf8))
            kill(getpid(), SIGKILL)
        }
    }
}

/// Copies a child's output to our standard error line by line, each line prefixed (whole lines only, so
/// the children's lines never interleave mid-line).
final class PrefixedRelay: @unchecked Sendable {
    let prefix: Data
    private var pending = Data()
    /// Signalled at the end of the child's output.
    let done = DispatchSemaphore(value: 0)
    private static let lock = NSLock()

    init(prefix: String) { self.prefix = Data(prefix.utf8) }

    func take(_ handle: FileHandle) {
        let chunk = handle.availableData
        Self.lock.lock(); defer { Self.lock.unlock() }
        pending.append(chunk)
        while let newline = pending.firstIndex(of: 0x0A) {
            FileHandle.standardError.write(prefix + pending[pending.startIndex...newline])
            pending.removeSubrange(pending.startIndex...newline)
        }
        if chunk.isEmpty {
            if !pending.isEmpty { FileHandle.standardError.write(prefix + pending + Data("\n".utf8)) }
            pending.removeAll()
            handle.readabilityHandler = nil
            done.signal()
        }
    }
}
