import Foundation

/// Checks on files a command is about to write, made before any work so a long run does not
/// end in an unwritable path.
public enum OutputFile {
    /// Throws a ``GenError`` naming `path` unless a file can be created there.
    public static func checkWritable(_ path: String) throws {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
            throw GenError.cannotWrite("\(path): cannot write: no such folder")
        }
        guard access(folder, W_OK) == 0 else { throw GenError.cannotWrite("\(path): cannot write: folder is not writable") }
    }
}
