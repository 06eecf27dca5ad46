import Foundation

/// Training progress: a live bar on a terminal, plain periodic lines otherwise (logs, CI, Slurm).
public final class Progress: @unchecked Sendable {
    let isTerminal = isatty(STDERR_FILENO) != 0
    let interval: Double
    var lastPrint = 0.0
    var lastLine = ""

    public init(plainInterval seconds: Double = 15) { interval = seconds }

    /// `run` like "3/8 r0-sp53 seed 0"; fraction of this run done; ETA from the rate so far.
    public func update(run: String, epoch: Int, epochs: Int, step: Int, steps: Int, loss: Double,
                       imagesPerSecond: Double, secondsLeft: Double) {
        let now = Date().timeIntervalSince1970
        let done = Double(step) / Double(max(steps, 1))
        let text = "\(run) | epoch \(epoch)/\(epochs) | loss \(fixed(loss, 4)) | \(fixed(imagesPerSecond, 1)) img/s | ETA \(clock(secondsLeft))"
        if isTerminal {
            guard now - lastPrint > 0.2 || step == steps else { return }
            let width = 24, filled = Int(done * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            FileHandle.standardError.write(Data("\r\u{1B}[K[\(bar)] \(text)".utf8))
        } else {
            guard now - lastPrint >= interval || step == steps else { return }
            FileHandle.standardError.write(Data("\(text) | step \(step)/\(steps)\n".utf8))
        }
        lastPrint = now
    }

    /// A line that stays (run finished, skipped, failed).
    public func log(_ line: String) {
        FileHandle.standardError.write(Data(((isTerminal ? "\r\u{1B}[K" : "") + line + "\n").utf8))
    }
}

func clock(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "--:--" }
    let s = Int(seconds)
    return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%02d:%02d", s / 60, s % 60)
}
