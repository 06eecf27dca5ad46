import ArgumentParser

struct DescribeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "describe", abstract: "(not built yet)")
    func run() throws { throw ValidationError("'describe' is not built yet") }
}
