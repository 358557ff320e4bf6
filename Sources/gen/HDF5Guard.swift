import ArgumentParser
import Foundation
import GenCore

/// Opens HDF5 files first in a child process, so that a file which crashes libhdf5 itself (it
/// is not built to read hostile files safely; see Tests/Fuzz/Known-libhdf5) ends in a one-line
/// error instead of taking gen down. The child is this binary running `gen data validate`; it
/// dies with its parent, and is killed after a time limit. No child, no opening: the guard
/// fails closed.
enum HDF5Guard {
    /// Checks that `path` opens and reads as a training dataset; throws the child's one-line
    /// error, or a failure naming the crash.
    static func check(_ path: String, dataset: String? = nil) throws {
        _ = try runChild(path, arguments: dataset.map { ["--dataset", $0] } ?? [])
    }

    /// `gen data info`'s listing of `path`, made in the child (so the file is read once).
    static func inventory(_ path: String) throws -> String {
        try runChild(path, arguments: ["--inventory"])
    }

    /// Runs `gen data validate path arguments…` and returns its standard output.
    private static func runChild(_ path: String, arguments: [String]) throws -> String {
        try InputFile.check(path)
        let result = try ChildProcess.run(URL(fileURLWithPath: "/proc/self/exe"),
                                          arguments: ["data", "validate", path, "--parent", "\(getpid())"] + arguments, timeLimit: 300)
        if result.timedOut {
            throw GenError.badData("\(path): reading this file took more than 5 minutes in the HDF5 library; it was not opened")
        }
        if result.signaled {
            throw GenError.badData("\(path): the HDF5 library crashed reading this file (signal \(result.status)); it is malformed or hostile and was not opened")
        }
        guard result.status == 0 else {
            let line = result.standardError.split(separator: "\n").last { $0.hasPrefix("gen: ") }.map { String($0.dropFirst(5)) } ?? "\(path): cannot be read"
            throw GenError(result.status == Exit.missingInput ? .missingInput : .badData, line)
        }
        return result.standardOutput
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
        @Option var parent: Int32?
        @Flag var inventory = false

        func run() throws {
            // this is the child: it opens the file itself, and lives no longer than its parent
            HDF5Dataset.screen = nil
            if let parent {
                ChildProcess.dieWithParent(parent)
                ChildProcess.limitMemory(2 << 30)
            }
            try reportingFailures {
                if inventory {
                    print(try HDF5Dataset.inventoryListing(of: URL(fileURLWithPath: file)), terminator: "")
                    return
                }
                let data = try HDF5Dataset(url: URL(fileURLWithPath: file), options: .init(dataset: dataset))
                _ = try data.images(at: [0, data.count - 1], scaledTo: .unit)
                _ = try data.labels(at: [0, data.count - 1])
            }
        }
    }
}
