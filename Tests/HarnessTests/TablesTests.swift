import Foundation
import XCTest
@testable import Harness
import Models

/// Tables, claims and diffs are pure functions of records: checked here on hand-made records.
final class TablesTests: XCTestCase {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    func record(_ model: String, seed: Int, ap: Double, status: RunStatus = .ok, commit: String = "abc",
                epochs: Int = 1, tree: String? = nil) -> ResultRecord {
        var config = Self.config(model, seed: seed)
        config.profile.epochs = epochs
        return ResultRecord(
            ablation: "connections", model: model, profile: "smoke", seed: seed, config: config,
            status: status,
            failure: status == .ok ? nil : "loss became nan at step 3",
            architecture: .init(displayName: model.uppercased(), provenance: "reconstructed"),
            metrics: [.ap: ap, .ap50: ap + 20, .ap75: ap - 5, .apSmall: 1, .apMedium: 2, .apLarge: 3],
            areaScale: 0.01,
            size: .init(params: 1_000_000, macs: 50_000_000, backboneParams: 800_000, backboneMacs: 40_000_000,
                        paperParams: 20_000_000, paperMacs: 80_000_000_000),
            training: .init(epochs: 1, steps: 10, batch: 8, input: 64, trainImages: 80, valImages: 16,
                            lossCurve: [2, 1], lossWindow: 5, finalLoss: 1, resumedFromEpoch: 0),
            measured: .init(trainSeconds: 1, evalSeconds: 1, trainImagesPerSecond: 80),
            provenance: .init(commit: commit, sourceTree: tree, dirty: false, configHash: config.hash, datasetChecksum: "c",
                              datasetSource: "shapes", toolchain: "Swift", openblas: "x", threads: 2),
            determinism: "test")
    }

    static func config(_ model: String, seed: Int) -> RunConfig {
        var c = RunConfig(ablation: "connections", model: model, profileName: "smoke", profile: Self.profile,
                          datasetKind: "shapes", datasetSeed: 0, seed: seed,
                          spec: try! SpecLibrary(directory: packageRoot + "/ablations/specs").spec(named: "r0-sp53"))
        c.modelHash = "m-" + model
        return c
    }

    static let profile = AblationDefinition.Profile(
        dataset: .init(size: 64, train: 48, val: 16, maxObjects: 3, minSide: 11, maxSide: 48), input: 64, scale: 0.25,
        alpha: 0.25, endpoints: 32, headFilters: 32, headConvs: 1, epochs: 1, batch: 8, learningRate: 0.02,
        warmupFraction: 0.2, weightDecay: 4e-5, seeds: 1, anchorSize: 2)

    func definition() throws -> AblationDefinition {
        try AblationDefinition.load(Self.packageRoot + "/ablations/connections.yaml")
    }

    func testAblationFilesParse() throws {
        for name in ["permutation", "connections", "scaling", "search-vs-random"] {
            let def = try AblationDefinition.load(Self.packageRoot + "/ablations/\(name).yaml")
            XCTAssertEqual(def.name, name)
            for profile in ["smoke", "quick", "paper"] { XCTAssertNoThrow(try def.profile(profile, file: name)) }
        }
        let perm = try AblationDefinition.load(Self.packageRoot + "/ablations/permutation.yaml")
        XCTAssertEqual(perm.models, ["r50-fpn", "r35-sp18", "r23-sp30", "r14-sp39", "r0-sp53", "spinenet-49", "hourglass", "fish", "r0-sp53-searched"])
    }

    func testBadAblationFileNamesTheField() throws {
        let path = NSTemporaryDirectory() + "bad-\(getpid()).yaml"
        try "name: x\ntitle: t\ndataset: {kind: shapes, seed: 0}\ntables: []\nprofiles:\n  smoke: {input: 64}\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try AblationDefinition.load(path)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(path), text)
            XCTAssertTrue(text.contains("profiles.smoke"), text)
        }
    }

    /// Claims are paired t-tests over seeds with Holm's adjustment: the numbers below were checked with
    /// scipy.stats.ttest_rel (diffs [10, 9.5, 11]: t 23.06, p 0.001876; diffs [1, -2, 1]: p 1.0).
    func testClaimsArePairedBySeedAndHolmAdjusted() throws {
        let def = try definition()
        let records = [record("r0-sp53", seed: 0, ap: 30), record("r0-sp53", seed: 1, ap: 31), record("r0-sp53", seed: 2, ap: 32),
                       record("r0-sp53-no-short", seed: 0, ap: 20), record("r0-sp53-no-short", seed: 1, ap: 21.5),
                       record("r0-sp53-no-short", seed: 2, ap: 21),
                       record("r0-sp53-no-long", seed: 0, ap: 29), record("r0-sp53-no-long", seed: 1, ap: 33),
                       record("r0-sp53-no-long", seed: 2, ap: 31),
                       record("r0-sp53-sequential", seed: 0, ap: 1, status: .failed)]
        let writer = TableWriter(definition: def, profile: "smoke", records: records)
        let md = writer.markdown()
        XCTAssertTrue(md.contains("R0-SP53 > R0-SP53 (1) short removed: supported (+10.2 AP, 95% CI [+8.3, +12.1], "
                                  + "3 paired seeds, p 0.002, Holm p 0.006)"), md)
        XCTAssertTrue(md.contains("R0-SP53 > R0-SP53 (2) long removed: inconclusive (+0.0 AP"), md)
        XCTAssertTrue(md.contains("R0-SP53 > R0-SP53 (3) sequential only: not tested (no seed"), md)
        XCTAssertTrue(md.contains("seed 0: loss became nan"), md)
        XCTAssertTrue(md.contains("| 31.0 ± 1.0 |"), md)   // mean and sample std of 30, 31, 32
        XCTAssertTrue(md.contains("| 35.8* |"), md)        // paper AP, marked unverified
        XCTAssertTrue(md.contains("Smallest difference these 3 seeds resolve"), md)
        let results = writer.claims(def.tables[0])
        XCTAssertEqual(results[0].comparison.pValue!, 0.0018759, accuracy: 1e-6)
        XCTAssertEqual(results[0].adjustedP!, 3 * 0.0018759, accuracy: 1e-5)   // smallest of 3 tested p-values
        let csv = writer.csv()
        XCTAssertTrue(csv.contains("table9,r0-sp53-no-short,R0-SP53 (1) short removed,reconstructed,3,20.833,0.764"), csv)
        XCTAssertTrue(writer.svg().contains("<circle"))
    }

    /// A model against the median of several others, paired by seed: per seed the model minus the others'
    /// median (diffs [5, 3, 5]: scipy.stats.ttest_1samp gives t 6.5, p 0.02286, 95% CI [1.465, 7.202]);
    /// a seed one of the others lacks is dropped; the line says where the model's mean ranks.
    func testAboveMedianClaimPairsEachSeedWithTheOthersMedian() throws {
        let path = NSTemporaryDirectory() + "median-\(getpid()).yaml"
        defer { try? FileManager.default.removeItem(atPath: path) }
        var text = try String(contentsOfFile: Self.packageRoot + "/ablations/connections.yaml", encoding: .utf8)
        let tables = text.range(of: "\ntables:")!.upperBound, profiles = text.range(of: "\nprofiles:")!.lowerBound
        text.replaceSubrange(tables..<profiles, with: """

              - id: t
                title: "Searched against random"
                baseline: r0-sp53
                rows: [{ model: r0-sp53 }, { model: r1 }, { model: r2 }, { model: r3 }]
                claims:
                  - { kind: above_median, model: r0-sp53, of: [r1, r2, r3] }

            """)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let def = try AblationDefinition.load(path)
        let aps: [String: [Double]] = ["r0-sp53": [30, 31, 32], "r1": [25, 26, 27], "r2": [29, 28, 33], "r3": [20, 35, 22]]
        var records = aps.flatMap { model, values in values.enumerated().map { record(model, seed: $0, ap: $1) } }
        let writer = TableWriter(definition: def, profile: "smoke", records: records)
        let result = try XCTUnwrap(writer.claims(def.tables[0]).first)
        XCTAssertEqual(result.comparison.differences, [5, 3, 5])
        XCTAssertEqual(result.comparison.pValue!, 0.0228602, accuracy: 1e-6)
        let ci = try XCTUnwrap(result.comparison.confidenceInterval())
        XCTAssertEqual(ci.lower, 1.4649, accuracy: 1e-4)
        XCTAssertEqual(ci.upper, 7.2018, accuracy: 1e-4)
        XCTAssertEqual(result.verdict, .supported)
        XCTAssertTrue(writer.markdown().contains("R0-SP53 > median of 3 (R1, R2, R3, mean AP ranks 1 of 4): supported (+4.3 AP"),
                      writer.markdown())
        // The search summary quotes the claim as the table prints it.
        let quoted = writer.aboveMedianClaims()
        XCTAssertEqual(quoted.map(\.model), ["r0-sp53"])
        XCTAssertTrue(writer.markdown().contains("- " + quoted[0].line + "\n"), quoted[0].line)
        XCTAssertEqual(quoted[0].resolvable, writer.resolvableDifference(def.tables[0])?.difference)
        XCTAssertNotNil(quoted[0].resolvable)
        // Read from the files: the ablation folder's file and the records of each profile.
        let root = NSTemporaryDirectory() + "quoted-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/ablations", withIntermediateDirectories: true)
        try text.write(toFile: root + "/ablations/median.yaml", atomically: true, encoding: .utf8)
        for r in records { try r.write(under: root + "/results") }
        XCTAssertEqual(try RecordStore.aboveMedianClaims(ablationsDir: root + "/ablations", resultsDir: root + "/results"), quoted)
        XCTAssertEqual(try RecordStore.aboveMedianClaims(ablationsDir: root + "/ablations", resultsDir: root + "/none"), [],
                       "no records folder: nothing to quote")
        records.removeAll { $0.model == "r3" && $0.seed == 1 }
        let dropped = TableWriter(definition: def, profile: "smoke", records: records).claims(def.tables[0])[0]
        XCTAssertEqual(dropped.comparison.differences, [5, 5], "seed 1 lacks r3: dropped, not imputed")
        for bad in ["of: [r1]", "of: [r1, r1]", "of: [r1, r0-sp53]"] {
            try text.replacingOccurrences(of: "of: [r1, r2, r3]", with: bad).write(toFile: path, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try AblationDefinition.load(path), bad) { XCTAssertTrue("\($0)".contains(".of"), "\($0)") }
        }
    }

    func testOneSeedIsNotTested() throws {
        let records = [record("r0-sp53", seed: 0, ap: 30), record("r0-sp53-no-short", seed: 0, ap: 20)]
        let md = TableWriter(definition: try definition(), profile: "smoke", records: records).markdown()
        XCTAssertTrue(md.contains("R0-SP53 > R0-SP53 (1) short removed: not tested (+10.0 AP at one seed"), md)
        XCTAssertTrue(md.contains("every claim is not tested"), md)
    }

    /// A table stands on one commit and config: rows of another commit are shown as stale and take no
    /// part in claims; the setting line is read from the records, not from today's file.
    func testRowsOfAnotherCommitAreStaleAndLeftOutOfClaims() throws {
        let records = [record("r0-sp53", seed: 0, ap: 30), record("r0-sp53", seed: 1, ap: 31),
                       record("r0-sp53-no-short", seed: 0, ap: 20), record("r0-sp53-no-short", seed: 1, ap: 21),
                       record("r0-sp53-no-long", seed: 0, ap: 10, commit: "old"), record("r0-sp53-no-long", seed: 1, ap: 11, commit: "old"),
                       record("r0-sp53-no-long", seed: 2, ap: 30, commit: "docs-only", tree: "abc")]
        let md = TableWriter(definition: try definition(), profile: "smoke", records: records).markdown()
        // a commit that changed no code (same source tree) joins the table; other code is stale
        XCTAssertTrue(md.contains("source tree `abc`, commit(s) `abc`, `docs-only`"), md)
        XCTAssertTrue(md.contains("Stale runs left out** (2, from commit(s) old"), md)
        XCTAssertTrue(md.contains("R0-SP53 > R0-SP53 (2) long removed: not tested (no seed"), md)
        XCTAssertTrue(md.contains("1 epochs of 48 images at batch 8"), md)
        let longer = records.map { r -> ResultRecord in
            var r = r
            if r.model == "r0-sp53-no-short" { r.config.profile.epochs = 5 }
            return r
        }
        let md2 = TableWriter(definition: try definition(), profile: "smoke", records: longer).markdown()
        XCTAssertTrue(md2.contains("R0-SP53 > R0-SP53 (1) short removed: not tested (no seed"), md2)
    }

    func testLevelsNoteSaysWhichLevelsHoldPositives() {
        var p = Self.profile
        (p.input, p.dataset.size, p.dataset.maxSide, p.anchorSize, p.scaleJitter) = (96, 96, 72, 2, [0.8, 1.2])
        let note = TableWriter.levelsNote(p)
        XCTAssertTrue(note.contains("L3, L4, L5") && note.contains("L6 and L7 cannot hold positives"), note)
    }

    func testRecordRoundTripIsByteStableAndAtomic() throws {
        let dir = NSTemporaryDirectory() + "records-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = record("r0-sp53", seed: 2, ap: 12.25)
        try r.write(under: dir)
        let path = dir + "/" + r.relativePath
        XCTAssertEqual(try ResultRecord.read(path), r)
        XCTAssertEqual(FileManager.default.contents(atPath: path), try r.encoded())
        XCTAssertEqual(FileSystem.files(under: dir, suffix: ".json").count, 1)   // no temporary left behind
        try Data("{\"formatVersion\": 1}".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try ResultRecord.read(path)) { XCTAssertTrue("\($0)".contains(path)) }
    }

    /// A change is flagged only when its paired 95% CI excludes zero; one seed cannot be judged; a config
    /// change is reported even when the metrics did not move.
    func testDiffFlagsOnlyChangesWhoseIntervalExcludesZero() {
        let before = [record("r0-sp53", seed: 0, ap: 30), record("r0-sp53", seed: 1, ap: 30.2), record("r0-sp53", seed: 2, ap: 30.1)]
        let after = [record("r0-sp53", seed: 0, ap: 35), record("r0-sp53", seed: 1, ap: 35.4), record("r0-sp53", seed: 2, ap: 34.9)]
        let text = RecordDiff(before: before, after: after).report(nameA: "A", nameB: "B")
        XCTAssertTrue(text.contains("AP: 30.10 ± 0.10 -> 35.10 ± 0.26 (+5.0, 95% CI ["), text)
        XCTAssertTrue(text.contains("3 paired seeds  <-- changed"), text)
        let noisy = [record("r0-sp53", seed: 0, ap: 31), record("r0-sp53", seed: 1, ap: 29.5), record("r0-sp53", seed: 2, ap: 30.4)]
        XCTAssertTrue(RecordDiff(before: before, after: noisy).report(nameA: "A", nameB: "B").contains("within noise"))
        let one = RecordDiff(before: [record("r0-sp53", seed: 0, ap: 30)], after: [record("r0-sp53", seed: 0, ap: 30.1)])
            .report(nameA: "A", nameB: "B")
        XCTAssertTrue(one.contains("cannot judge") && one.contains("0 metric change(s) whose 95% CI excludes zero"), one)
        let retuned = before.map { r -> ResultRecord in
            var r = r
            r.config.profile.learningRate = 0.5
            r.provenance.configHash = r.config.hash
            return r
        }
        let drift = RecordDiff(before: before, after: retuned).report(nameA: "A", nameB: "B")
        XCTAssertTrue(drift.contains("config changed: learning_rate 0.02 -> 0.5"), drift)
        XCTAssertTrue(RecordDiff(before: before, after: before).report(nameA: "A", nameB: "A").contains("0 row(s) differ"))
    }

    /// STATUS.md counts what this code still has to train, per ablation and profile, with the command, and
    /// the records of other code the tables still use.
    func testStatusSaysWhatIsStillToRun() throws {
        let dir = NSTemporaryDirectory() + "status-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        FileManager.default.changeCurrentDirectoryPath(Self.packageRoot)
        var old = record("r0-sp53", seed: 0, ap: 30, commit: "0123456789abcdef")
        old.profile = "quick"
        try old.write(under: dir)   // a record of other code: it makes tables, it is not done for this code
        let text = try String(contentsOfFile: try RecordStore.writeStatus(ablationsDir: Self.packageRoot + "/ablations",
                                                                          resultsDir: dir), encoding: .utf8)
        XCTAssertTrue(text.contains("| connections | quick | 12 | 0 | 12 | `make ablation-connections PROFILE=quick` | 1 (commit 0123456) |"), text)
        XCTAssertTrue(text.contains("| connections | paper | 12 | 0 | 12 | `make ablation-connections PROFILE=paper` | — |"), text)
        XCTAssertFalse(text.contains("| smoke |"), text)
        // The fidelity runs keep their records under RESULTS/fidelity and their report is `make fidelity`'s.
        XCTAssertTrue(text.contains("| fidelity | fidelity | 5 | 0 | 5 | `make fidelity` | — |"), text)
    }

    /// `spinebench tables` writes no table of the fidelity file: results/fidelity.md is `make fidelity`'s report.
    func testTablesLeaveTheFidelityReportAlone() throws {
        let dir = NSTemporaryDirectory() + "fidelity-tables-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        FileManager.default.changeCurrentDirectoryPath(Self.packageRoot)
        var r = record("spinenet-49", seed: 0, ap: 30, commit: "0123456789abcdef")
        r.ablation = "fidelity"
        r.profile = "quick"
        try r.write(under: dir)
        try r.write(under: dir + "/fidelity")
        let written = try RecordStore.writeTables(ablationsDir: Self.packageRoot + "/ablations", resultsDir: dir)
        XCTAssertFalse(written.contains { $0.contains("fidelity") }, "\(written)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/fidelity.md"))
    }

    /// `--jobs`: a shard split into parts takes exactly the shard's runs, each once.
    func testASplitShardTakesExactlyItsRuns() {
        for (n, parts) in [(1, 2), (3, 2), (4, 3)] {
            for i in 0..<n {
                let whole = RunPlan(models: ["a", "b", "c", "d", "e"], seeds: 3, shard: Shard(index: i, count: n)).runs.map(\.index)
                let pieces = Shard(index: i, count: n).split(into: parts)
                    .flatMap { RunPlan(models: ["a", "b", "c", "d", "e"], seeds: 3, shard: $0).runs.map(\.index) }
                XCTAssertEqual(pieces.sorted(), whole, "shard \(i)/\(n) in \(parts)")
            }
        }
    }

    func testShardsPartitionTheRuns() throws {
        let models = ["a", "b", "c"]
        let all = RunPlan(models: models, seeds: 3).runs
        XCTAssertEqual(all.count, 9)
        let shards = (0..<4).map { RunPlan(models: models, seeds: 3, shard: Shard(index: $0, count: 4)).runs }
        XCTAssertEqual(shards.flatMap { $0 }.sorted { $0.index < $1.index }, all)
        XCTAssertEqual(try Shard(parsing: "1/4"), Shard(index: 1, count: 4))
        XCTAssertThrowsError(try Shard(parsing: "4/4"))
        XCTAssertThrowsError(try Shard(parsing: "x"))
    }
}
