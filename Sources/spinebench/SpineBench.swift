import ArgumentParser
import Engine
import Foundation

/// Entry point: first makes sure OpenBLAS runs kernels this CPU can use at full width and malloc asks for
/// huge pages (both are read when the process starts, so a restart sets them), then parses.
@main
enum Entry {
    static func main() {
        let env = ProcessInfo.processInfo.environment
        let core = BLASKernels.upgrade(current: BLASKernels.current, flags: BLASKernels.cpuFlags(), environment: env)
        let tunables = HugePages.tunables(environment: env, mode: HugePages.mode())
        if core != nil || tunables != nil {
            if let core { setenv("OPENBLAS_CORETYPE", core, 1) }
            if let tunables { setenv("GLIBC_TUNABLES", tunables, 1) }
            execv("/proc/self/exe", CommandLine.unsafeArgv)
            let message = "spinebench: restarting with OPENBLAS_CORETYPE=\(core ?? "(unchanged)") and "
                + "GLIBC_TUNABLES=\(tunables ?? "(unchanged)") failed (errno \(errno)); "
                + (core == nil ? "" : "OpenBLAS keeps its \(BLASKernels.current) kernels and sgemm will be slow; ")
                + "training runs on 4 KB pages\n"
            FileHandle.standardError.write(Data(message.utf8))
        }
        LocalJobs.followParent()
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
            BenchCommand.self, SearchCommand.self, CalibrateCommand.self, FirstStepCommand.self,
        ]
    )
}
