import ArgumentParser
import Foundation
import Harness
import Search

struct TablesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tables",
        abstract: "Regenerate every table (.md, .csv, .svg) from the stored result records.")

    @Option(help: "Folder of ablation files.") var ablations = "ablations"
    @Option(help: "Results folder (records are read from RESULTS/records).") var results = "results"

    func run() throws {
        for path in try RecordStore.writeTables(ablationsDir: ablations, resultsDir: results) { print("wrote \(path)") }
        // The search summary quotes the verdicts of searched specs against random ones from these records.
        if FileManager.default.fileExists(atPath: results + "/search/summary.md") {
            try SearchSummary.writeMarkdown(resultsDir: results, ablationsDir: ablations)
            print("wrote \(results)/search/summary.md")
        }
        print("wrote \(try RecordStore.writeStatus(ablationsDir: ablations, resultsDir: results))")
    }
}
