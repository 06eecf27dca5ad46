import ArgumentParser

/// The command line: thin wrappers that parse options and call into Harness and the libraries.
@main
struct SpineBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spinebench",
        abstract: "Re-run the SpineNet paper's ablation studies on one CPU machine.",
        subcommands: [
            DescribeCommand.self, DataCommand.self, TrainCommand.self, EvaluateCommand.self,
            AblateCommand.self, TablesCommand.self, DiffCommand.self, CocoEvalCommand.self,
            BenchCommand.self, SearchCommand.self,
        ]
    )
}
