import Foundation

/// An exclusive lock on a run folder for as long as a process trains in it (`flock` on
/// `<run>/.lock`, released when the process ends however it ends): a second `gen train` on the
/// same folder gets a clear error instead of mixing its grids, metrics and checkpoints in.
public final class RunLock {
    public let folder: URL
    private let descriptor: Int32

    /// Takes the lock, creating the folder if needed, and removes the temporary files that
    /// processes killed mid-write left there (only the lock holder writes in the folder).
    public init(_ folder: URL) throws {
        self.folder = folder
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw GenError.cannotWrite("\(folder.path): cannot create the run folder: \((error as NSError).localizedDescription)")
        }
        let path = folder.appendingPathComponent(".lock").path
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw GenError.cannotWrite("\(path): cannot write: \(String(cString: strerror(errno)))") }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            var holder = [UInt8](repeating: 0, count: 32)
            let count = pread(descriptor, &holder, holder.count, 0)
            close(descriptor)
            let pid = count > 0 ? String(decoding: holder.prefix(count), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "?"
            throw GenError(.busy, "\(folder.path): another gen (process \(pid)) is training this run; wait for it to end or stop it")
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = pwrite(descriptor, pid, pid.count, 0)
        Self.removeLeftovers(in: folder)
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }

    /// Deletes `.<name>.tmp-*` files (atomic writes that never finished) in `folder`.
    static func removeLeftovers(in folder: URL) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [] where name.hasPrefix(".") && name.contains(".tmp-") {
            unlink(folder.appendingPathComponent(name).path)
        }
    }

    /// Whether `folder` holds anything but a lock.
    static func holdsFiles(_ folder: URL) -> Bool {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).contains { $0 != ".lock" }
    }
}
