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
        // Each pipe is drained to its end on a thread of its own, so that neither can fill up
        // and stall the child, and nothing is lost between a last read and the child's exit.
        final class Collected: @unchecked Sendable {
            var output = Data(), errors = Data()
        }
        let collected = Collected()
        let readers = DispatchGroup()
        do { try process.run() } catch {
            throw GenError(.badData, "cannot start a child process to check the input (\(error.localizedDescription)); it was not opened")
        }
        DispatchQueue.global().async(group: readers) { collected.output = output.fileHandleForReading.readDataToEndOfFile() }
        DispatchQueue.global().async(group: readers) { collected.errors = errors.fileHandleForReading.readDataToEndOfFile() }
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
        readers.wait()
        return Result(status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal, timedOut: timedOut,
                      standardOutput: String(decoding: collected.output, as: UTF8.self),
                      standardError: String(decoding: collected.errors, as: UTF8.self))
    }

    /// For a child: asks the kernel to kill this process when its parent dies, and exits at
    /// once if the parent (`parent`, its process id) is already gone.
    public static func dieWithParent(_ parent: Int32) {
        _ = gen_die_with_parent()
        if getppid() != parent { _exit(1) }
    }

    /// For a child: caps its heap at `bytes`, so that a file claiming absurd sizes makes its
    /// allocations fail (an error) instead of taking the machine's memory.
    public static func limitMemory(_ bytes: UInt64) {
        _ = gen_limit_data(bytes)
    }
}
