/// What kind of failure an error is, for whoever decides what happens next (the command line
/// maps each to its exit code in one place).
public enum ErrorCategory: String, Sendable, CaseIterable {
    /// The caller asked for something that cannot be done: an impossible option, a model
    /// that does not fit the request, an occupied run folder.
    case usage
    /// An input exists but cannot be used: a malformed dataset, checkpoint, image or
    /// configuration, or data that does not fit the model.
    case badData
    /// An input does not exist: a missing file or run.
    case missingInput
    /// An output cannot be written.
    case cannotWrite
    /// Another process holds what this one needs (a run folder being trained).
    case busy
}

/// An error that knows its ``ErrorCategory``. Every error the library throws for bad input
/// conforms, and its `description` is one line naming the file (or option) and the problem.
public protocol CategorizedError: Error, CustomStringConvertible {
    var category: ErrorCategory { get }
}

/// A one-line error with its category, for failures that are not about one file format.
///
/// ```swift
/// guard steps >= 1 else { throw GenError.usage("--steps must be at least 1") }
/// ```
public struct GenError: CategorizedError, Equatable {
    public let category: ErrorCategory
    public let message: String

    public init(_ category: ErrorCategory, _ message: String) {
        self.category = category
        self.message = message
    }

    public var description: String { message }

    public static func usage(_ message: String) -> GenError { GenError(.usage, message) }
    public static func badData(_ message: String) -> GenError { GenError(.badData, message) }
    public static func missingInput(_ message: String) -> GenError { GenError(.missingInput, message) }
    public static func cannotWrite(_ message: String) -> GenError { GenError(.cannotWrite, message) }
    public static func busy(_ message: String) -> GenError { GenError(.busy, message) }
}

extension DataError: CategorizedError {
    public var category: ErrorCategory {
        switch self {
        case .missingFile, .unreadable: return .missingInput
        default: return .badData
        }
    }
}

extension SafeTensorsError: CategorizedError {
    public var category: ErrorCategory { .badData }
}

extension ImageError: CategorizedError {
    public var category: ErrorCategory { .badData }
}

extension AtomicFileError: CategorizedError {
    public var category: ErrorCategory { .cannotWrite }
}
