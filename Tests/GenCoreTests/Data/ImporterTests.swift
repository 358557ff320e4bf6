import Foundation
import GenCore
import Testing

/// A fresh temporary folder, removed when the test ends.
final class TemporaryFolder {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("gen-test-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
    func file(_ name: String) -> URL { url.appendingPathComponent(name) }
}

@Suite("Importers")
struct ImporterTests {
    func importAndRead(_ source: String, _ options: ImportOptions = .init()) throws -> (ImportSummary, HDF5Dataset) {
        let folder = try TemporaryFolder()
        let out = folder.file("out.h5")
        let summary = try DatasetImporter.run(source: dataFixtures.appendingPathComponent(source), to: out, options: options)
        let data = try HDF5Dataset(url: out)
        _ = folder
        return (summary, data)
    }

    @Test(arguments: ["tiny-images-idx3-ubyte", "tiny-images-idx3-ubyte.gz"])
    func idxWithLabels(_ source: String) throws {
        let labels = dataFixtures.appendingPathComponent(source.hasSuffix(".gz") ? "tiny-labels-idx1-ubyte.gz" : "tiny-labels-idx1-ubyte")
        let (summary, data) = try importAndRead(source, .init(labels: labels))
        #expect(summary == ImportSummary(format: .idx, count: 3, channels: 1, height: 4, width: 5, labelled: true))
        #expect(try data.images(0..<3, scaledTo: .unit).scalars.map { ($0 * 255).rounded() } == pattern(60))
        #expect(try data.labels(at: [0, 1, 2]) == [7, 2, 1])
    }

    @Test func csvKaggleHeaderLabelFirst() throws {
        let (summary, data) = try importAndRead("kaggle.csv")
        #expect(summary == ImportSummary(format: .csv, count: 3, channels: 1, height: 4, width: 4, labelled: true))
        #expect(try data.images(0..<3, scaledTo: .unit).scalars.map { ($0 * 255).rounded() } == pattern(48))
        #expect(try data.labels(at: [0, 1, 2]) == [5, 0, 4])
    }

    @Test(arguments: ["label_last.csv", "label_last.csv.gz"])
    func csvLabelLast(_ source: String) throws {
        let (summary, data) = try importAndRead(source, .init(labelColumn: .last))
        #expect(summary.count == 3 && summary.labelled)
        #expect(try data.labels(at: [0, 1, 2]) == [5, 0, 4])
        #expect(try data.images(0..<3, scaledTo: .unit).scalars.map { ($0 * 255).rounded() } == pattern(48))
    }

    @Test func npyImagesAndLabels() throws {
        let (summary, data) = try importAndRead("images_uint8.npy", .init(labels: dataFixtures.appendingPathComponent("labels.npy")))
        #expect(summary == ImportSummary(format: .npy, count: 3, channels: 1, height: 4, width: 5, labelled: true))
        #expect(try data.labels(at: [0, 1, 2]) == [7, 2, 1])
        let (floats, floatData) = try importAndRead("images_float32_nchw.npy")
        #expect(floats.channels == 1 && floats.height == 3 && !floats.labelled)
        #expect(try floatData.images(0..<2, scaledTo: .unit).scalars.map { ($0 * 255).rounded() } == pattern(18))
    }

    @Test func pngFolderIgnoresOtherFiles() throws {
        let (summary, data) = try importAndRead("png_folder")
        #expect(summary == ImportSummary(format: .png, count: 3, channels: 1, height: 4, width: 4, labelled: false))
        #expect(try data.images(0..<3, scaledTo: .unit).scalars.map { ($0 * 255).rounded() } == pattern(48))
    }

    @Test func badSourcesFailWithTheirOwnErrors() throws {
        func failure(_ source: String, _ options: ImportOptions = .init()) -> String {
            do {
                _ = try importAndRead(source, options)
                return "no error"
            } catch {
                return "\(error)"
            }
        }
        #expect(failure("bad-magic-idx3-ubyte", .init(format: .idx)).contains("IDX dimensions") || failure("bad-magic-idx3-ubyte", .init(format: .idx)).contains("IDX element type"))
        #expect(failure("short-idx3-ubyte", .init(format: .idx)).contains("IDX data ends after 30 of 60 bytes"))
        #expect(failure("ragged.csv").contains("line 4 has 16 fields, expected 17"))
        #expect(failure("label_last.csv").contains("--label-column"))
        #expect(failure("tiny-images-idx3-ubyte", .init(labels: dataFixtures.appendingPathComponent("labels.npy"))).contains("bad magic"))
    }

    @Test func refusesToOverwriteWithoutForce() throws {
        let folder = try TemporaryFolder()
        let out = folder.file("out.h5")
        let source = dataFixtures.appendingPathComponent("kaggle.csv")
        _ = try DatasetImporter.run(source: source, to: out)
        #expect(throws: DataError.self) { _ = try DatasetImporter.run(source: source, to: out) }
        _ = try DatasetImporter.run(source: source, to: out, options: .init(overwrite: true))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.url.path) == ["out.h5"])
    }
}
