import ArgumentParser
import Foundation
import GenCore

/// Opens HDF5 files first in a child process, so that a file which crashes libhdf5 itself (it
/// is not built to read hostile files safely; see Tests/Fuzz/Known-libhdf5) ends in a one-line
/// error instead of taking gen down. The child is this binary running `gen data validate`.
enum HDF5Guard {
    /// Checks that `path` opens and reads as a training dataset; throws the child's one-line
    /// error, or a failure naming the crash.
    static func check(_ path: String, dataset: String? = nil) throws {
        _ = try runChild(path, arguments: dataset.map { ["--dataset", $0] } ?? [])
    }

    /// `gen data info`'s listing of `path`, made in the child (so the file is read once).
    static func inventory(_ path: String) throws -> String {
        try runChild(path, arguments: ["--inventory"]) ?? HDF5Dataset.inventoryListing(of: URL(fileURLWithPath: path))
    }

    /// Runs `gen data validate path arguments…`; returns its standard output, or nil when no
    /// child could be started (the caller then opens the file in-process, as before).
    private static func runChild(_ path: String, arguments: [String]) throws -> String? {
        guard FileManager.default.fileExists(atPath: path) else { throw DataError.missingFile(path) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        process.arguments = ["data", "validate", path] + arguments
        // Standard error goes to a scratch file, so reading the output pipe to its end cannot
        // block on a full error pipe.
        let errorsURL = FileManager.default.temporaryDirectory.appendingPathComponent("gen-validate-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        guard FileManager.default.createFile(atPath: errorsURL.path, contents: nil),
              let errors = try? FileHandle(forWritingTo: errorsURL) else { return nil }
        defer { try? FileManager.default.removeItem(at: errorsURL) }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = errors
        do { try process.run() } catch { return nil }
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try? errors.close()
        let message = (try? String(contentsOf: errorsURL, encoding: .utf8)) ?? ""
        if process.terminationReason == .uncaughtSignal {
            throw GenError.badData("\(path): the HDF5 library crashed reading this file (signal \(process.terminationStatus)); it is malformed or hostile and was not opened")
        }
        guard process.terminationStatus == 0 else {
            let line = message.split(separator: "\n").last { $0.hasPrefix("gen: ") }.map { String($0.dropFirst(5)) } ?? "\(path): cannot be read"
            throw GenError(process.terminationStatus == Exit.missingInput ? .missingInput : .badData, line)
        }
        return String(decoding: outputData, as: UTF8.self)
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
        @Flag var inventory = false

        func run() throws {
            // this is the child: it opens the file itself
            HDF5Dataset.screen = nil
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
