import Common
import Foundation
import Models

/// Reads result records from the working tree or from any git revision.
public enum RecordStore {
    /// Every record under `resultsDir/records`; a missing records folder is an error (a mistyped
    /// `--results` must not read as "no runs yet").
    public static func load(resultsDir: String) throws -> [ResultRecord] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: resultsDir + "/records", isDirectory: &isDir), isDir.boolValue else {
            throw HarnessError.io(path: resultsDir + "/records", reason: "no records folder (is --results the folder `ablate` wrote to?)")
        }
        return try FileSystem.files(under: resultsDir + "/records", suffix: ".json").map(ResultRecord.read)
    }

    /// The ablation files directly in `dir` (subfolders hold specs and search spaces); none is an error.
    static func ablationFiles(_ dir: String) throws -> [String] {
        let files = FileSystem.files(under: dir, suffix: ".yaml").filter { !$0.dropFirst(dir.count + 1).contains("/") }
        guard !files.isEmpty else {
            throw HarnessError.io(path: dir, reason: "no ablation files (*.yaml) there: run from the checkout or pass --ablations")
        }
        return files
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
    /// for the quick profile, `results/PROFILE/NAME.*` for the others; for a `report: calibration` file,
    /// `results/NAME.{md,svg}` (CalibrationStudy) instead. Returns the paths written.
    @discardableResult
    public static func writeTables(ablationsDir: String, resultsDir: String) throws -> [String] {
        let records = try load(resultsDir: resultsDir)
        guard !records.isEmpty else {
            throw HarnessError.io(path: resultsDir + "/records", reason: "no records to make tables from (train some with `spinebench ablate`)")
        }
        let calibration = CalibrationStudy(records: records)
        // Families and paper input sizes of the rows (curve claims, paper-size labels) come from the specs the
        // runs were built from; without a specs folder the tables still render, with no curves.
        let library = try? SpecLibrary.standard()
        var written: [String] = []
        for file in try ablationFiles(ablationsDir) {
            let def = try AblationDefinition.load(file)
            // A calibration file's profiles are the points of one study: one report across them, no per-profile tables.
            if def.report == .calibration {
                let study = CalibrationStudy(records: records, ablation: def.name)
                if !study.isEmpty { written += try study.write(resultsDir: resultsDir) }
                continue
            }
            if def.report == .fidelity { continue }   // results/fidelity.md is `make fidelity`'s
            let profiles = Set(records.filter { $0.ablation == def.name }.map(\.profile))
            for profile in profiles.sorted() {
                let texts: [(String, String)]
                if def.task == .classification {
                    let writer = ClassificationTableWriter(definition: def, profile: profile, records: records)
                    texts = [("md", writer.markdown()), ("csv", writer.csv()), ("svg", writer.svg())]
                } else {
                    var writer = TableWriter(definition: def, profile: profile, records: records,
                                             facts: library.map { TableWriter.ModelFacts.of(def, library: $0) } ?? [:])
                    writer.plateauNote = plateauNote(calibration, definition: def, profile: writer.reference?.profile)
                    texts = [("md", writer.markdown()), ("csv", writer.csv()), ("svg", writer.svg())]
                }
                let dir = profile == "quick" ? resultsDir : resultsDir + "/" + profile
                for (ext, text) in texts {
                    let path = "\(dir)/\(def.name).\(ext)"
                    try FileSystem.writeAtomically(text, to: path)
                    written.append(path)
                }
            }
        }
        return written
    }

    /// How far a profile's training gets, from the calibration study: the decisive (`paper`) profile
    /// against the length the calibration rule chooses, any other profile as a share of the decisive
    /// profile's AP. Nil without calibration records at the profile's learning rate.
    static func plateauNote(_ study: CalibrationStudy, definition: AblationDefinition,
                            profile: AblationDefinition.Profile?) -> String? {
        guard let p = profile, let decisive = definition.profiles["paper"], !study.isEmpty else { return nil }
        let rate = p.learningRate
        guard study.learningRates.contains(rate) else { return nil }
        if p.epochs == decisive.epochs {
            let chosen = study.chosenLength(learningRate: rate).map { "\($0) epochs" } ?? "no length yet"
            return "Training length: \(p.epochs) epochs, the decisive profile's; the calibration rule (within 1 AP of twice "
                + "as long, results/calibration.md) chooses \(chosen)."
        }
        guard let f = study.plateauFraction(epochs: p.epochs, reference: decisive.epochs, learningRate: rate) else {
            return "Training length: \(p.epochs) epochs; the calibration has no runs at \(p.epochs) and \(decisive.epochs) "
                + "epochs to say how close that is to the decisive profile."
        }
        return "Training length: \(p.epochs) epochs, reaching \(Int((100 * f).rounded()))% of the AP of the decisive profile's "
            + "\(decisive.epochs) epochs in the calibration study (results/calibration.md): its verdicts are previews."
    }

    /// `results/STATUS.md`: for every table ablation and profile (smoke aside), how many runs this checkout's
    /// code and config still has to train, and the command that trains them. Written by `tables`.
    @discardableResult
    public static func writeStatus(ablationsDir: String, resultsDir: String) throws -> String {
        var out = "# What is still to run\n\nGenerated by `spinebench tables` for the code of this checkout (source tree "
        out += "`\(ProvenanceProbe.sourceTree().prefix(10))`); do not edit by hand. A run counts as done when its record "
        out += "has this code version and config. Records of other code (last column) still make the tables, which "
        out += "take each table's numbers from one code version, but they are not counted as done here.\n\n"
        out += "| ablation | profile | runs | done | to run | command | recorded by other code |\n|---|---|---|---|---|---|---|\n"
        let records = (try? load(resultsDir: resultsDir)) ?? []
        let code = ProvenanceProbe.codeVersion()
        for file in try ablationFiles(ablationsDir) {
            let def = try AblationDefinition.load(file)
            for name in def.profiles.keys.sorted() where name != "smoke" {
                var runner = AblationRunner(definitionPath: file, profileName: name, threads: 1)
                // The fidelity runs keep their records apart (`make fidelity`); counted here: spinebench's half.
                runner.resultsDir = def.report == .fidelity ? resultsDir + "/fidelity" : resultsDir
                let p = def.profiles[name]!
                let total = def.units.count * p.seeds, left = try runner.pending().count
                let command = switch def.report {
                case .calibration: "`make calibrate`"
                case .fidelity: name == "fidelity" ? "`make fidelity`" : "`make fidelity FIDELITY=\(name)`"
                case .tables: "`make ablation-\(def.name) PROFILE=\(name)`"
                }
                let other = records.filter { $0.ablation == def.name && $0.profile == name && $0.status == .ok && $0.codeVersion != code }
                let commits = Set(other.map { String($0.provenance.commit.prefix(7)) }).sorted().joined(separator: ", ")
                out += "| \(def.name) | \(name) | \(total) | \(total - left) | \(left) | \(left == 0 ? "—" : command) | "
                    + (other.isEmpty ? "—" : "\(other.count) (commit \(commits))") + " |\n"
            }
        }
        let path = resultsDir + "/STATUS.md"
        try FileSystem.writeAtomically(out, to: path)
        return path
    }
}
