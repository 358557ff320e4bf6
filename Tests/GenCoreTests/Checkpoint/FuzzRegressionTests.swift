import Foundation
import GenCore
import Testing

/// Replays every input kept in `Tests/Fuzz/Regressions/<kind>/` (crashes the fuzzers once
/// found, and interesting seeds) through the same entry points the fuzz targets use: each may
/// throw, none may crash.
@Suite("Fuzz regressions")
struct FuzzRegressionTests {
    static let folder = fixturesFolder.deletingLastPathComponent().appendingPathComponent("Fuzz/Regressions")

    static func inputs(_ kind: String) -> [URL] {
        let directory = folder.appendingPathComponent(kind)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { directory.appendingPathComponent($0) }
    }

    @Test func safetensorsInputs() throws {
        for url in Self.inputs("safetensors") { _ = try? SafeTensors.decode(Data(contentsOf: url)) }
    }

    @Test func pngInputs() throws {
        for url in Self.inputs("png") { _ = try? PNG.decode(Data(contentsOf: url)) }
    }

    @Test(arguments: [("idx", ImportFormat.idx), ("csv", ImportFormat.csv)])
    func importerInputs(_ kind: String, _ format: ImportFormat) throws {
        let scratch = try TemporaryFolder()
        for url in Self.inputs(kind) {
            _ = try? DatasetImporter.run(source: url, to: scratch.file("out.h5"), options: .init(format: format, overwrite: true))
        }
    }

    @Test func hdf5Inputs() {
        for url in Self.inputs("hdf5") {
            if let data = try? HDF5Dataset(url: url) { _ = try? data.images(at: [0], scaledTo: .unit) }
            _ = try? HDF5Dataset.inventory(of: url)
        }
    }
}
