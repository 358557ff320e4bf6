import ArgumentParser
import Foundation
import GenCore

/// Opens HDF5 files first in a child process, so that a file which crashes libhdf5 itself (it
/// is not built to read hostile files safely; see Tests/Fuzz/Known-libhdf5) ends in a one-line
/// error instead of taking gen down. The child is this binary running `gen data validate`.
enum HDF5Guard {
    /// Checks that `path` opens and reads; throws the child's one-line error, or a failure
    /// naming the crash.
    static func check(_ path: String, dataset: String? = nil) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw DataError.missingFile(path) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        process.arguments = ["data", "validate", path] + (dataset.map { ["--dataset", $0] } ?? [])
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        do { try process.run() } catch { return }  // cannot isolate: open it in-process as before
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if process.terminationReason == .uncaughtSignal {
            throw Failure(message: "\(path): the HDF5 library crashed reading this file (signal \(process.terminationStatus)); it is malformed or hostile and was not opened", code: Exit.badData)
        }
        guard process.terminationStatus == 0 else {
            let line = message.split(separator: "\n").last { $0.hasPrefix("gen: ") }.map { String($0.dropFirst(5)) } ?? "\(path): cannot be read"
            throw Failure(message: line, code: process.terminationStatus == Exit.missingInput ? Exit.missingInput : Exit.badData)
        }
    }
}

extension DataCommand {
    /// The child side of ``HDF5Guard``: open, list, and read the first and last image.
    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open an HDF5 dataset and read from it (used by gen to open files in a child process).",
            shouldDisplay: false)

        @Argument var file: String
        @Option var dataset: String?

        func run() throws {
            try reportingFailures {
                let url = URL(fileURLWithPath: file)
                _ = try HDF5Dataset.inventory(of: url)
                let data = try HDF5Dataset(url: url, options: .init(dataset: dataset))
                _ = try data.images(at: [0, data.count - 1], scaledTo: .unit)
                _ = try data.labels(at: [0, data.count - 1])
            }
        }
    }
}
