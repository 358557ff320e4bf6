import Foundation

/// Writes files so that a crash or kill at any moment leaves either the old file or the
/// complete new one at the path, never a torn one.
public enum AtomicFile {
    /// Writes `data` to a temporary file beside `url`, flushes it to disk, renames it over
    /// `url`, and flushes the folder so the rename itself is durable.
    /// Refuses to replace anything but a regular file (a FIFO, device or folder at `url`).
    public static func write(_ data: Data, to url: URL) throws {
        var status = stat()
        if lstat(url.path, &status) == 0 && status.st_mode & S_IFMT != S_IFREG {
            throw AtomicFileError(path: url.path, reason: "it is not a regular file; refusing to replace it")
        }
        let folder = url.deletingLastPathComponent()
        let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw AtomicFileError(path: url.path, reason: String(cString: strerror(errno))) }
        var succeeded = false
        defer { if !succeeded { unlink(temporary.path) } }
        do {
            defer { close(descriptor) }
            try data.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let written = Foundation.write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        throw AtomicFileError(path: url.path, reason: String(cString: strerror(errno)))
                    }
                    offset += written
                }
            }
            guard fsync(descriptor) == 0 else { throw AtomicFileError(path: url.path, reason: String(cString: strerror(errno))) }
        }
        guard rename(temporary.path, url.path) == 0 else {
            throw AtomicFileError(path: url.path, reason: String(cString: strerror(errno)))
        }
        succeeded = true
        syncFolder(of: url)
    }

    /// Flushes the folder holding `url`, so a rename into it is durable.
    public static func syncFolder(of url: URL) {
        let folder = url.deletingLastPathComponent()
        let folderDescriptor = open(folder.path.isEmpty ? "." : folder.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folderDescriptor >= 0 {
            fsync(folderDescriptor)
            close(folderDescriptor)
        }
    }
}

/// A file could not be written.
public struct AtomicFileError: Error, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "\(path): cannot write: \(reason)" }
}

/// A log file appended to line by line (`metrics.jsonl`): each ``append(_:)`` writes its text
/// whole or, when the disk is full, not at all (a partial write is cut off again), and says so.
public final class AppendOnlyFile {
    public let url: URL
    private let descriptor: Int32

    public init(_ url: URL) throws {
        self.url = url
        descriptor = open(url.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw AtomicFileError(path: url.path, reason: String(cString: strerror(errno))) }
    }

    deinit { close(descriptor) }

    /// Appends `text`; throws (leaving the file as it was) when it cannot be written whole.
    public func append(_ text: String) throws {
        let bytes = Array(text.utf8)
        let start = lseek(descriptor, 0, SEEK_END)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else {
                let reason = String(cString: strerror(written < 0 ? errno : ENOSPC))
                if start >= 0 { _ = ftruncate(descriptor, start) }
                throw AtomicFileError(path: url.path, reason: reason)
            }
            offset += written
        }
    }
}
