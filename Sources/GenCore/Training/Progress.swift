import Foundation

/// Reports training or sampling progress on standard error: a bar redrawn in place on a
/// terminal (steps, loss, it/s, ETA), plain lines every `lineEvery` steps otherwise (as under CI).
public final class ProgressReporter {
    /// The last step (a budgeted run sets it once its plan is made).
    public var total: Int
    public let label: String
    public let isTerminal: Bool
    public let lineEvery: Int
    private let start = Date()
    private let startStep: Int
    private var lastDraw = Date.distantPast
    /// A time at which the work stops whatever the step (a training time limit): the ETA is
    /// never later than it.
    public var deadline: Date?

    public init(total: Int, startStep: Int = 0, label: String, lineEvery: Int = 50, isTerminal: Bool = isatty(STDERR_FILENO) != 0) {
        self.total = total
        self.startStep = startStep
        self.label = label
        self.isTerminal = isTerminal
        self.lineEvery = max(1, lineEvery)
    }

    /// The rate in steps per second since the reporter started.
    public func rate(at step: Int) -> Double {
        Double(step - startStep) / max(Date().timeIntervalSince(start), 1e-9)
    }

    /// Reports step `step` (1-based) with extra `fields` like `loss 0.031`.
    public func update(step: Int, fields: [String] = []) {
        let rate = rate(at: step)
        var remaining = rate > 0 ? Double(total - step) / rate : 0
        if let deadline { remaining = min(remaining, max(0, deadline.timeIntervalSinceNow)) }
        let of = total >= TrainingBudget.unplannedSteps ? " (timing the first steps)" : "/\(total)"
        let text = "\(label) \(step)\(of) \(fields.joined(separator: " ")) \(String(format: "%.2f", rate)) it/s ETA \(Self.clock(remaining))"
        if isTerminal {
            guard step == total || Date().timeIntervalSince(lastDraw) > 0.1 else { return }
            lastDraw = Date()
            let width = 24, filled = total > 0 ? Int(Double(width) * Double(step) / Double(total)) : width
            let bar = String(repeating: "=", count: filled) + (filled < width ? ">" : "") + String(repeating: " ", count: max(0, width - filled - 1))
            StandardError.write("\r\u{1B}[2K[\(bar)] \(text)")
            if step == total { StandardError.write("\n") }
        } else if step % lineEvery == 0 || step == total {
            StandardError.write("\(text)\n")
        }
    }

    /// Ends the line of an unfinished bar (before printing something else).
    public func finishLine() {
        if isTerminal { StandardError.write("\n") }
    }

    /// Seconds as `H:MM:SS` or `M:SS`.
    public static func clock(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "--:--" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
