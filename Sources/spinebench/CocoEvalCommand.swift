import ArgumentParser

struct CocoEvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "coco-eval", abstract: "(not built yet)")
    func run() throws { throw ValidationError("'coco-eval' is not built yet") }
}
