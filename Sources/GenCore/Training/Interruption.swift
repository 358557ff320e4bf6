import Foundation
import Synchronization

/// SIGINT and SIGTERM handling for training runs: the first signal asks the run to stop after
/// the current step (it then saves and exits); a second one exits at once with
/// ``unsavedExitCode``, leaving the last checkpoint as it was.
public enum Interruption {
    private static let signals = Atomic<Int>(0)
    private static let installed = Atomic<Bool>(false)

    /// The exit status of a process stopped at once by a second signal.
    public static let unsavedExitCode: Int32 = 4

    /// Installs the handlers; a signal that came since an earlier install is kept (so a
    /// program may install them at start-up, before the run is set up).
    public static func install() {
        guard !installed.exchange(true, ordering: .relaxed) else { return }
        // A parent (a test runner, a shell script) may have left these signals blocked.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        for number in [SIGINT, SIGTERM] {
            signal(number) { _ in
                let (_, count) = Interruption.signals.add(1, ordering: .relaxed)
                if count >= 2 { _exit(Interruption.unsavedExitCode) }
            }
        }
    }

    /// Restores the default handlers and forgets any request.
    public static func uninstall() {
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
        installed.store(false, ordering: .relaxed)
        signals.store(0, ordering: .relaxed)
    }

    /// Whether a stop was requested.
    public static var isRequested: Bool { signals.load(ordering: .relaxed) > 0 }

    /// Asks the run to stop as a signal would (for tests and embedding programs).
    public static func request() { signals.add(1, ordering: .relaxed) }

    /// Clears a request.
    public static func reset() { signals.store(0, ordering: .relaxed) }
}
