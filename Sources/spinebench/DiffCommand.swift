import ArgumentParser
import Harness

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare the result records of two git revisions (B defaults to the working tree).")

    @Argument(help: "The earlier revision, e.g. HEAD~3 or a commit id.") var revA: String
    @Argument(help: "The later revision; the working tree's results/ when omitted.") var revB: String?
    @Option(help: "Results folder of the working tree.") var results = "results"

    func run() throws {
        let before = try RecordStore.load(revision: revA)
        let after = try revB.map { try RecordStore.load(revision: $0) } ?? RecordStore.load(resultsDir: results)
        print(RecordDiff(before: before, after: after).report(nameA: revA, nameB: revB ?? "working tree"), terminator: "")
    }
}
