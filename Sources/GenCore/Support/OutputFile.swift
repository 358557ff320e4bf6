import Foundation

/// Checks on files a command is about to write, made before any work: a long run must not end
/// in an unwritable path, and nothing that is not an ordinary file, or that belongs to a run,
/// is ever replaced.
public enum OutputFile {
    /// Throws a ``GenError`` naming `path` unless a file can be written there: its folder exists
    /// and is writable, and whatever is already at `path` is a regular file (replaced only with
    /// `overwrite`) and none of the `protected` files.
    public static func check(_ path: String, overwrite: Bool, protected: [URL] = []) throws {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
            throw GenError.cannotWrite("\(path): cannot write: no such folder")
        }
        guard access(folder, W_OK) == 0 else { throw GenError.cannotWrite("\(path): cannot write: folder is not writable") }
        var status = stat()
        guard lstat(path, &status) == 0 else { return }                      // nothing there yet
        if protected.contains(where: { sameFile($0.path, path) }) {
            throw GenError.usage("\(path): is a file of the run itself; write the output somewhere else")
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw GenError.usage("\(path): exists and is not a regular file (a folder, link, pipe or device); gen will not replace it")
        }
        guard overwrite else { throw DataError.malformed(path, "already exists (pass --force to overwrite)") }
    }

    /// Whether two paths name the same file (device and inode).
    static func sameFile(_ a: String, _ b: String) -> Bool {
        var first = stat(), second = stat()
        guard stat(a, &first) == 0, stat(b, &second) == 0 else { return false }
        return first.st_dev == second.st_dev && first.st_ino == second.st_ino
    }
}
