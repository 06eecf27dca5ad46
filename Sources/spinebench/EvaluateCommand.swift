import ArgumentParser

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "evaluate", abstract: "(not built yet)")
    func run() throws { throw ValidationError("'evaluate' is not built yet") }
}
