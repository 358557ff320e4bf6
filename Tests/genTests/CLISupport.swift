import Foundation
import Testing

/// The repository's root folder.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The `gen` binary built beside the tests.
let genBinary: URL = {
    let beside = Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("gen")
    if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
    for configuration in ["release", "debug"] {
        let candidate = repositoryRoot.appendingPathComponent(".build/\(configuration)/gen")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
    }
    return repositoryRoot.appendingPathComponent(".build/release/gen")
}()

/// What a run of the binary printed and how it ended.
struct RunResult {
    var status: Int32
    var standardOutput: String
    var standardError: String
}

/// Runs `gen` with `arguments` in `folder` and waits for it.
@discardableResult
func runGen(_ arguments: [String], in folder: URL? = nil, environment: [String: String] = [:]) throws -> RunResult {
    let process = Process()
    process.executableURL = genBinary
    process.arguments = arguments
    if let folder { process.currentDirectoryURL = folder }
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let output = Pipe(), error = Pipe()
    process.standardOutput = output
    process.standardError = error
    try process.run()
    let outData = output.fileHandleForReading.readDataToEndOfFile()
    let errData = error.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return RunResult(status: process.terminationStatus, standardOutput: String(decoding: outData, as: UTF8.self),
                     standardError: String(decoding: errData, as: UTF8.self))
}

/// A fresh temporary folder, removed when released.
final class Scratch {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("gen-cli-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
}

let fixtureData = repositoryRoot.appendingPathComponent("Tests/Fixtures/data")
