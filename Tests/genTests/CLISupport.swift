import Foundation
import Testing

/// The repository's root folder.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The `gen` binary built beside the tests, of their own configuration (a release binary left
/// from another build would test old code): `swift test` builds it there.
let genBinary: URL = {
    let tests = URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    let beside = tests.appendingPathComponent("gen")
    precondition(FileManager.default.isExecutableFile(atPath: beside.path),
                 "no gen beside the tests in \(tests.path): swift test builds it there with the tests")
    return beside
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
