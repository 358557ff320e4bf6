import Foundation

/// Writes to standard error without ever stopping the program: a full disk, a closed
/// descriptor or a reader that went away (`2>/dev/full`, `2>&-`, `| head`) lose the text, not
/// the run. (Foundation's `FileHandle.write` traps on such errors.)
public enum StandardError {
    public static func write(_ text: String) {
        let bytes = Array(text.utf8)
        var offset = 0
        bytes.withUnsafeBytes { raw in
            while offset < raw.count {
                let written = Foundation.write(STDERR_FILENO, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return }
                offset += written
            }
        }
    }
}

/// Prints one line to standard error: notes and progress stay out of standard output.
public func printNote(_ message: String) {
    StandardError.write(message + "\n")
}
