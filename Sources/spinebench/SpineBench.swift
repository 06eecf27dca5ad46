import ArgumentParser
import Engine
import Foundation

/// Entry point: first makes sure OpenBLAS runs kernels this CPU can use at full width, then parses.
@main
enum Entry {
    static func main() {
        let env = ProcessInfo.processInfo.environment
        if let core = BLASKernels.upgrade(current: BLASKernels.current, flags: BLASKernels.cpuFlags(), environment: env) {
            // OpenBLAS read its kernels at load time; only a fresh process image can load others.
            setenv("OPENBLAS_CORETYPE", core, 1)
            execv("/proc/self/exe", CommandLine.unsafeArgv)
            let message = "spinebench: OpenBLAS chose its \(BLASKernels.current) kernels and restarting with "
                + "OPENBLAS_CORETYPE=\(core) failed (errno \(errno)); sgemm will be slow\n"
            FileHandle.standardError.write(Data(message.utf8))
        }
        SpineBench.main()
    }
}

/// The command line: thin wrappers that parse options and call into Harness and the libraries.
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
