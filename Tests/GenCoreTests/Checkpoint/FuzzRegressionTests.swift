import Foundation
import GenCore
import Testing

/// Replays the inputs kept in `Tests/Fuzz/Regressions/<kind>/` (crashes the fuzzers once found,
/// and inputs of the fuzzers' corpora that reach distinct errors) through the entry points the
/// fuzz targets use. Beside each input, `<input>.expected` says what must happen: `ok`, or a
/// part of the one error it must throw. An input without one fails the test.
@Suite("Fuzz regressions")
struct FuzzRegressionTests {
    static let folder = fixturesFolder.deletingLastPathComponent().appendingPathComponent("Fuzz/Regressions")

    /// The inputs of `kind` with what each must give.
    static func cases(_ kind: String) -> [(input: URL, expected: String?)] {
        let directory = folder.appendingPathComponent(kind)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { !$0.hasPrefix(".") && !$0.hasSuffix(".expected") }.sorted().map { name in
            let url = directory.appendingPathComponent(name)
            let expected = try? String(contentsOf: url.appendingPathExtension("expected"), encoding: .utf8)
            return (url, expected?.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    /// Runs `body` on every input of `kind` and checks its outcome against the expectation.
    static func replay(_ kind: String, minimum: Int, _ body: (URL) throws -> Void) {
        let inputs = cases(kind)
        #expect(inputs.count >= minimum, "\(kind): only \(inputs.count) inputs kept")
        for (input, expected) in inputs {
            guard let expected else {
                Issue.record("\(kind)/\(input.lastPathComponent) has no .expected beside it")
                continue
            }
            do {
                try body(input)
                #expect(expected == "ok", "\(kind)/\(input.lastPathComponent) was accepted; expected: \(expected)")
            } catch {
                #expect(expected != "ok" && "\(error)".contains(expected), "\(kind)/\(input.lastPathComponent): \(error); expected: \(expected)")
            }
        }
    }

    @Test func safetensorsInputs() {
        Self.replay("safetensors", minimum: 10) { _ = try SafeTensors.decode(Data(contentsOf: $0)) }
    }

    @Test func pngInputs() {
        Self.replay("png", minimum: 8) { _ = try PNG.decode(Data(contentsOf: $0)) }
    }

    @Test(arguments: [("idx", ImportFormat.idx), ("csv", ImportFormat.csv)])
    func importerInputs(_ kind: String, _ format: ImportFormat) throws {
        let scratch = try TemporaryFolder()
        Self.replay(kind, minimum: 10) { _ = try DatasetImporter.run(source: $0, to: scratch.file("out.h5"), options: .init(format: format, overwrite: true)) }
    }

    @Test func hdf5Inputs() {
        Self.replay("hdf5", minimum: 6) { url in
            let data = try HDF5Dataset(url: url)
            _ = try data.images(at: [0, data.count - 1], scaledTo: .unit)
            _ = try data.labels(at: [0, data.count - 1])
        }
    }
}
