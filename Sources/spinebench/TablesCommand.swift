import ArgumentParser

struct TablesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tables", abstract: "(not built yet)")
    func run() throws { throw ValidationError("'tables' is not built yet") }
}
