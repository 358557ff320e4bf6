import CGlibc
import Foundation

/// Runs a program as a child process with a time limit, collecting what it prints: for work
/// that may crash (opening a hostile file) and must not take the caller down with it.
public enum ChildProcess {
    /// How a child ended.
    public struct Result: Sendable {
        /// The exit status, or the signal that ended it (``signaled``).
        public var status: Int32
        public var signaled: Bool
        /// Whether it was killed for running past its time limit.
        public var timedOut: Bool
        public var standardOutput: String
        public var standardError: String
    }

    /// Runs `executable` with `arguments` and waits at most `timeLimit` seconds, then kills it.
    /// Both outputs are read through pipes while it runs (no temporary files).
    /// - Throws: a ``GenError`` when the child cannot be started.
    public static func run(_ executable: URL, arguments: [String], timeLimit: TimeInterval) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        final class Collected: @unchecked Sendable {
            let lock = NSLock()
            var output = Data(), errors = Data()
        }
        let collected = Collected()
        output.fileHandleForReading.readabilityHandler = { handle in
            let chunk = handle.availableData
            collected.lock.withLock { collected.output.append(chunk) }
        }
        errors.fileHandleForReading.readabilityHandler = { handle in
            let chunk = handle.availableData
            collected.lock.withLock { collected.errors.append(chunk) }
        }
        do { try process.run() } catch {
            throw GenError(.badData, "cannot start a child process to check the input (\(error.localizedDescription)); it was not opened")
        }
        let deadline = Date().addingTimeInterval(timeLimit)
        var timedOut = false
        while process.isRunning {
            if Date() >= deadline {
                timedOut = true
                kill(process.processIdentifier, SIGKILL)
                break
            }
            usleep(2_000)
        }
        process.waitUntilExit()
        output.fileHandleForReading.readabilityHandler = nil
        errors.fileHandleForReading.readabilityHandler = nil
        // what is left in the pipes once the child is gone
        let restOutput = output.fileHandleForReading.readDataToEndOfFile(), restErrors = errors.fileHandleForReading.readDataToEndOfFile()
        return collected.lock.withLock {
            Result(status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal, timedOut: timedOut,
                   standardOutput: String(decoding: collected.output + restOutput, as: UTF8.self),
                   standardError: String(decoding: collected.errors + restErrors, as: UTF8.self))
        }
    }

    /// For a child: asks the kernel to kill this process when its parent dies, and exits at
    /// once if the parent (`parent`, its process id) is already gone.
    public static func dieWithParent(_ parent: Int32) {
        _ = gen_die_with_parent()
        if getppid() != parent { _exit(1) }
    }
}
