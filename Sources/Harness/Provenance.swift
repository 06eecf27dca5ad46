import Common
import Foundation

/// Where a record came from: the commit, whether the tree was dirty, and the toolchain.
public enum ProvenanceProbe {
    /// `git rev-parse HEAD`, or "unknown" outside a checkout.
    public static func commit(in dir: String = ".") -> String {
        (try? Subprocess.run(["git", "-C", dir, "rev-parse", "HEAD"]))?.trimmed ?? "unknown"
    }

    /// What decides a run's numbers besides its config: the git trees of Sources/ and ablations/specs/ and
    /// the blob of Package.swift at HEAD, hashed. Commits that change only documents, tests, records or
    /// experiment files (those are in the config hash) keep it, so their runs stay comparable and are not
    /// trained again; "unknown" outside a checkout.
    public static func sourceTree(in dir: String = ".") -> String {
        guard let out = try? Subprocess.run(["git", "-C", dir, "rev-parse", "HEAD:Sources", "HEAD:ablations/specs",
                                             "HEAD:Package.swift"]) else { return "unknown" }
        return stableHash(Data(out.trimmed.utf8))
    }

    /// The code version a record made in `dir` carries (`ResultRecord.codeVersion`): the source tree, or the
    /// commit where git cannot name the tree.
    public static func codeVersion(in dir: String = ".") -> String {
        let tree = sourceTree(in: dir)
        return tree == "unknown" ? commit(in: dir) : tree
    }

    /// True when tracked files other than results/ differ from HEAD (records themselves don't count).
    public static func dirty(in dir: String = ".") -> Bool {
        guard let out = try? Subprocess.run(["git", "-C", dir, "status", "--porcelain", "--untracked-files=no",
                                             "--", ".", ":(exclude)results"]) else { return true }
        return !out.trimmed.isEmpty
    }

    /// The Swift compiler this binary was built with.
    public static var toolchain: String {
        #if compiler(>=6.4)
        return "Swift >= 6.4"
        #elseif compiler(>=6.3)
        return "Swift 6.3"
        #elseif compiler(>=6.2)
        return "Swift 6.2"
        #elseif compiler(>=6.1)
        return "Swift 6.1"
        #else
        return "Swift 6.0"
        #endif
    }
}

/// Runs a program and returns its standard output; throws on a non-zero exit.
public enum Subprocess {
    public static func run(_ args: [String], cwd: String? = nil) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            let msg = String(decoding: errData, as: UTF8.self).trimmed
            throw HarnessError.git("\(args.joined(separator: " ")) failed: \(msg)")
        }
        return String(decoding: data, as: UTF8.self)
    }
}

/// A stable 64-bit FNV-1a hash, hex: config hashes that do not change between runs or machines.
public func stableHash(_ data: Data) -> String {
    var h = FNV1a64()
    data.withUnsafeBytes { h.update($0) }
    return h.digits
}

extension String {
    var trimmed: String { trimmingCharacters(in: .whitespacesAndNewlines) }
}
