import Foundation
import Synchronization

/// SIGINT and SIGTERM handling for training runs: the first signal asks the run to stop after
/// the current step (it then saves and exits); a second one exits at once.
public enum Interruption {
    private static let signals = Atomic<Int>(0)

    /// Installs the handlers.
    public static func install() {
        signals.store(0, ordering: .relaxed)
        // A parent (a test runner, a shell script) may have left these signals blocked.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        for number in [SIGINT, SIGTERM] {
            signal(number) { _ in
                let (_, count) = Interruption.signals.add(1, ordering: .relaxed)
                if count >= 2 { _exit(130) }
            }
        }
    }

    /// Restores the default handlers.
    public static func uninstall() {
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }

    /// Whether a stop was requested.
    public static var isRequested: Bool { signals.load(ordering: .relaxed) > 0 }

    /// Asks the run to stop as a signal would (for tests and embedding programs).
    public static func request() { signals.add(1, ordering: .relaxed) }

    /// Clears a request.
    public static func reset() { signals.store(0, ordering: .relaxed) }
}
