import ArgumentParser
import Foundation
import GenCore

/// Exit codes: distinct for each kind of failure, so scripts can tell them apart.
enum Exit {
    /// Bad command-line usage (ArgumentParser's own validation errors use this too).
    static let usage: Int32 = 64
    /// Input data that cannot be used: a malformed dataset, checkpoint or image.
    static let badData: Int32 = 65
    /// An input that does not exist: a missing file or run.
    static let missingInput: Int32 = 66
    /// An output that cannot be written.
    static let cannotWrite: Int32 = 73
    /// Another gen is training the same run folder.
    static let busy: Int32 = 75
    /// Training stopped because the loss kept being non-finite.
    static let diverged: Int32 = 3
    /// Stopped by SIGINT or SIGTERM after saving.
    static let interrupted: Int32 = 130

    /// The one place a library error's category becomes an exit code.
    static func code(for category: ErrorCategory) -> Int32 {
        switch category {
        case .usage: return usage
        case .badData: return badData
        case .missingInput: return missingInput
        case .cannotWrite: return cannotWrite
        case .busy: return busy
        }
    }
}

/// A run that ended without an error but not as asked (interrupted, diverged): its message and code.
struct Stopped: Error {
    let message: String
    let code: Int32
}

/// Runs `body`, turning library errors into a one-line message on stderr and their exit code.
@discardableResult
func reportingFailures<Result>(_ body: () throws -> Result) throws -> Result {
    do {
        return try body()
    } catch let error as CategorizedError {
        let world = Distributed.world
        printError(world.size > 1 ? "rank \(world.rank): \(error.description)" : error.description)
        // an error one rank met alone must not leave the others waiting for it
        if world.size > 1 { world.abort(exitCode: Exit.code(for: error.category)) }
        throw ExitCode(Exit.code(for: error.category))
    } catch let stopped as Stopped {
        // every rank stopped at the same step (see Trainer): leave together
        Distributed.world.finish()
        if Distributed.world.isWriter { printError(stopped.message) }
        throw ExitCode(stopped.code)
    }
}

/// Prints one line to standard error, prefixed with `gen: `.
func printError(_ message: String) {
    StandardError.write("gen: \(message)\n")
}
