import Foundation

/// Checks on files about to be read: they exist, can be read, and are regular files (a FIFO
/// or a device would block or never end).
public enum InputFile {
    /// Throws a ``DataError`` naming `path` unless it is a readable regular file (or, with
    /// `folderAllowed`, a readable folder).
    public static func check(_ path: String, folderAllowed: Bool = false) throws {
        var status = stat()
        guard stat(path, &status) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { throw DataError.missingFile(path) }
            throw DataError.unreadable(path, String(cString: strerror(errno)))
        }
        let type = status.st_mode & S_IFMT
        if type == S_IFDIR {
            guard folderAllowed else { throw DataError.malformed(path, "is a folder, not a file") }
        } else if type != S_IFREG {
            throw DataError.malformed(path, "is not a regular file (a pipe, socket or device); give a file")
        }
        guard access(path, R_OK) == 0 else { throw DataError.unreadable(path, String(cString: strerror(errno))) }
    }
}
