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
    /// Training stopped because the loss kept being non-finite.
    static let diverged: Int32 = 3
    /// Stopped by SIGINT or SIGTERM after saving.
    static let interrupted: Int32 = 130
}

/// A failure the CLI reports in one line with its own exit code.
struct Failure: Error {
    let message: String
    let code: Int32
}

/// Runs `body`, turning library errors into a one-line message on stderr and a distinct exit code.
func reportingFailures(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let failure as Failure {
        printError(failure.message)
        throw ExitCode(failure.code)
    } catch let error as DataError {
        printError(error.description)
        switch error {
        case .missingFile: throw ExitCode(Exit.missingInput)
        default: throw ExitCode(Exit.badData)
        }
    } catch let error as AtomicFileError {
        printError(error.description)
        throw ExitCode(Exit.cannotWrite)
    } catch let error as SafeTensorsError {
        printError(error.description)
        throw ExitCode(Exit.badData)
    } catch let error as ImageError {
        printError(error.description)
        throw ExitCode(Exit.badData)
    }
}

/// Prints one line to standard error, prefixed with `gen: `.
func printError(_ message: String) {
    FileHandle.standardError.write(Data("gen: \(message)\n".utf8))
}

/// Prints one line to standard error (progress and notes, kept out of standard output).
func printNote(_ message: String) {
    FileHandle.standardError.write(Data("\(message)\n".utf8))
}
