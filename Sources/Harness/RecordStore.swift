import Foundation

/// Reads result records from the working tree or from any git revision.
public enum RecordStore {
    /// Every record under `resultsDir/records`.
    public static func load(resultsDir: String) throws -> [ResultRecord] {
        try FileSystem.files(under: resultsDir + "/records", suffix: ".json").map(ResultRecord.read)
    }

    /// Every record committed at `revision` (read with `git show`, the working tree is untouched).
    public static func load(revision: String, repo: String = ".") throws -> [ResultRecord] {
        _ = try Subprocess.run(["git", "-C", repo, "rev-parse", "--verify", revision + "^{commit}"])
        let list = try Subprocess.run(["git", "-C", repo, "ls-tree", "-r", "--name-only", revision, "--", "results/records"])
        return try list.split(separator: "\n").filter { $0.hasSuffix(".json") }.map { path in
            let text = try Subprocess.run(["git", "-C", repo, "show", "\(revision):\(path)"])
            return try ResultRecord.decode(Data(text.utf8), path: "\(revision):\(path)")
        }
    }

    /// Regenerates every table of every ablation file from the records: `results/NAME.{md,csv,svg}`
    /// for the quick profile, `results/PROFILE/NAME.*` for the others. Returns the paths written.
    @discardableResult
    public static func writeTables(ablationsDir: String, resultsDir: String) throws -> [String] {
        let records = try load(resultsDir: resultsDir)
        var written: [String] = []
        // Ablation files sit directly in the folder; subfolders hold specs and search spaces.
        for file in FileSystem.files(under: ablationsDir, suffix: ".yaml") where !file.dropFirst(ablationsDir.count + 1).contains("/") {
            let def = try AblationDefinition.load(file)
            let profiles = Set(records.filter { $0.ablation == def.name }.map(\.profile))
            for profile in profiles.sorted() {
                let writer = TableWriter(definition: def, profile: profile, records: records)
                let dir = profile == "quick" ? resultsDir : resultsDir + "/" + profile
                for (ext, text) in [("md", writer.markdown()), ("csv", writer.csv()), ("svg", writer.svg())] {
                    let path = "\(dir)/\(def.name).\(ext)"
                    try FileSystem.writeAtomically(text, to: path)
                    written.append(path)
                }
            }
        }
        return written
    }
}
