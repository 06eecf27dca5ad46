import ArgumentParser
import Harness

struct TablesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tables",
        abstract: "Regenerate every table (.md, .csv, .svg) from the stored result records.")

    @Option(help: "Folder of ablation files.") var ablations = "ablations"
    @Option(help: "Results folder (records are read from RESULTS/records).") var results = "results"

    func run() throws {
        for path in try RecordStore.writeTables(ablationsDir: ablations, resultsDir: results) { print("wrote \(path)") }
        print("wrote \(try RecordStore.writeStatus(ablationsDir: ablations, resultsDir: results))")
    }
}
