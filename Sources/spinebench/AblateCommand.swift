import ArgumentParser

struct AblateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ablate", abstract: "(not built yet)")
    func run() throws { throw ValidationError("'ablate' is not built yet") }
}
