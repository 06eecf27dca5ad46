import ArgumentParser
import Engine
import Foundation

/// `spinebench bench`: throughput figures for the engine (sgemm and per-op), to see how far the
/// CPU training path is from the BLAS peak.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measure engine throughput (sgemm, per-op forward/backward).",
        subcommands: [BenchGemmCommand.self, BenchOpsCommand.self, BenchTrainCommand.self])
}

/// Options shared by the bench subcommands.
struct BenchOptions: ParsableArguments {
    @Option(help: "Threads for OpenBLAS and engine loops (default: OpenBLAS's own setting).")
    var threads: Int?
    @Option(help: "Timed repeats per measurement (median reported).")
    var repeats: Int = 5
    @Flag(help: "Run 3x3 stride-1 convs through im2col + sgemm instead of Winograd (before/after figures).")
    var noWinograd = false
    @Flag(help: "Run every layer as its plain primitive op, no fused kernels (before/after figures).")
    var noFusion = false

    func apply() throws {
        Convolution.winograd = !noWinograd
        FusionPlan.enabled = !noFusion
        if let threads {
            guard threads >= 1 else { throw ValidationError("--threads must be >= 1, got \(threads)") }
            Threads.set(threads)
        }
        guard repeats >= 1 else { throw ValidationError("--repeats must be >= 1, got \(repeats)") }
        print("threads: \(Threads.count)   OpenBLAS: \(Threads.blasConfig)   3x3 convs: \(noWinograd ? "im2col" : "Winograd")   fusion: \(noFusion ? "off" : "on")")
    }
}

/// sgemm sizes: square, and the matrix shapes conv layers produce at batch 16 on 32x32x64 maps.
func gemmSuite(repeats: Int) -> [Benchmark.GemmResult] {
    let rows = 16 * 32 * 32
    return [
        Benchmark.sgemm("square 256", m: 256, n: 256, k: 256, repeats: repeats),
        Benchmark.sgemm("square 512", m: 512, n: 512, k: 512, repeats: repeats),
        Benchmark.sgemm("square 1024", m: 1024, n: 1024, k: 1024, repeats: repeats),
        Benchmark.sgemm("conv1x1 fwd 64->64", m: rows, n: 64, k: 64, repeats: repeats),
        Benchmark.sgemm("conv1x1 fwd 64->256", m: rows, n: 256, k: 64, repeats: repeats),
        Benchmark.sgemm("conv3x3 fwd 64->64", m: rows, n: 64, k: 576, repeats: repeats),
        Benchmark.sgemm("conv3x3 dW (A^T B)", m: 576, n: 64, k: rows, transA: true, repeats: repeats),
        Benchmark.sgemm("conv3x3 dcol (A B^T)", m: rows, n: 576, k: 64, transB: true, repeats: repeats),
        Benchmark.sgemm("conv1x1 dW 64->256", m: 64, n: 256, k: rows, transA: true, repeats: repeats),
        Benchmark.sgemm("conv1x1 dX 256->64", m: rows, n: 64, k: 256, transB: true, repeats: repeats),
        Benchmark.sgemm("stem 7x7 fwd 3->64", m: rows, n: 64, k: 147, repeats: repeats),
    ]
}

/// A table row: first column left-aligned, the rest right-aligned.
func row(_ cells: [String], widths: [Int]) -> String {
    zip(cells, widths).enumerated().map { i, cw in
        let (c, w) = cw
        let pad = String(repeating: " ", count: max(0, w - c.count))
        return i == 0 ? c + pad : pad + c
    }.joined(separator: " ")
}

func fmt(_ v: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", v) }

func printGemm(_ results: [Benchmark.GemmResult]) {
    let w = [22, 7, 6, 6, 9, 9]
    print(row(["sgemm", "M", "N", "K", "ms", "GFLOP/s"], widths: w))
    for r in results {
        print(row([r.label, "\(r.m)", "\(r.n)", "\(r.k)", fmt(r.seconds * 1e3, 3), fmt(r.gflops, 1)], widths: w))
    }
}

struct BenchGemmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gemm", abstract: "cblas_sgemm GFLOP/s at square and conv-like sizes.")
    @OptionGroup var options: BenchOptions

    func run() throws {
        try options.apply()
        let results = gemmSuite(repeats: options.repeats)
        printGemm(results)
        print(String(format: "peak: %.1f GFLOP/s", results.map(\.gflops).max() ?? 0))
    }
}

struct BenchOpsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ops",
        abstract: "Per-op forward/backward ms and GFLOP/s at batch 16 on 32x32x64 maps, against the sgemm peak.")
    @OptionGroup var options: BenchOptions
    @Option(help: "Batch size.") var batch: Int = 16
    @Option(help: "Only ops whose label contains this text.") var only: String?
    @Option(help: "Time this conv instead of the standard set: N,H,W,CIN,COUT,K,STRIDE (repeatable).")
    var conv: [String] = []

    func run() throws {
        try options.apply()
        guard batch >= 1 else { throw ValidationError("--batch must be >= 1, got \(batch)") }
        let gemm = gemmSuite(repeats: options.repeats)
        let peak = gemm.map(\.gflops).max() ?? 1
        print(String(format: "sgemm peak this run: %.1f GFLOP/s (best of %d sizes)", peak, gemm.count))
        let w = [26, 8, 8, 9, 9, 7, 7, 8]
        print(row(["op", "fwd ms", "bwd ms", "fwd GF/s", "bwd GF/s", "fwd/pk", "bwd/pk", "fwd GB/s"], widths: w))
        let results = try conv.isEmpty ? Benchmark.standardOps(n: batch, repeats: options.repeats, only: only)
            : conv.map { text in
                let v = text.split(separator: ",").compactMap { Int($0) }
                guard v.count == 7, v.allSatisfy({ $0 >= 1 }) else {
                    throw ValidationError("--conv expects N,H,W,CIN,COUT,K,STRIDE (positive integers), got '\(text)'")
                }
                return Benchmark.conv("conv \(v[5])x\(v[5]) s\(v[6]) \(v[3])->\(v[4]) \(v[0])x\(v[1])x\(v[2])",
                                      n: v[0], h: v[1], w: v[2], cin: v[3], cout: v[4], k: v[5], stride: v[6],
                                      repeats: options.repeats)
            }
        for r in results {
            let gbs = fmt(r.bytes / r.forwardSeconds / 1e9, 1)
            let ms = [fmt(r.forwardSeconds * 1e3, 2), fmt(r.backwardSeconds * 1e3, 2)]
            if let ff = r.forwardFlops, let bf = r.backwardFlops {
                let fg = ff / r.forwardSeconds / 1e9, bg = bf / r.backwardSeconds / 1e9
                print(row([r.label] + ms + [fmt(fg, 1), fmt(bg, 1), fmt(fg / peak, 2), fmt(bg / peak, 2), gbs], widths: w))
            } else {
                print(row([r.label] + ms + ["-", "-", "-", "-", gbs], widths: w))
            }
        }
        print("conv backward = dX + dW (2x forward FLOPs); GB/s = (input + output bytes) / forward time.")
    }
}
