import Foundation
import GenCore
import Testing

let dataFixtures = fixturesFolder.appendingPathComponent("data")

/// The fixture pixel pattern: element i of a tensor is (37·i + 11) mod 256.
func pattern(_ count: Int) -> [Float] { (0..<count).map { Float((37 * $0 + 11) % 256) } }

func openData(_ name: String, _ options: HDF5Dataset.Options = .init()) throws -> HDF5Dataset {
    try HDF5Dataset(url: dataFixtures.appendingPathComponent(name), options: options)
}

@Suite("HDF5 datasets written by h5py")
struct HDF5DatasetTests {
    @Test func uint8NHWWithLabels() throws {
        let data = try openData("nhw_uint8.h5")
        #expect((data.count, data.channels, data.height, data.width) == (6, 1, 5, 7))
        #expect(data.layout == .nhw && data.storedType == "uint8" && data.labelsName == "labels")
        #expect(data.choiceNote == "using dataset 'images' of \(dataFixtures.path)/nhw_uint8.h5")
        let images = try data.images(0..<6, scaledTo: .unit)
        #expect(images.shape == [6, 1, 5, 7])
        #expect(allClose(images, Tensor(pattern(210).map { $0 / 255 }, shape: [6, 1, 5, 7]), rtol: 0, atol: 1e-6))
        let symmetric = try data.images(at: [4, 1], scaledTo: .symmetric)
        #expect(allClose(symmetric.sample(0), images.sample(4) * 2 - 1, atol: 1e-6))
        #expect(try data.labels(at: [5, 0, 3]) == [5, 0, 3])
    }

    @Test func float32NCHWWithoutLabels() throws {
        let data = try openData("nchw_float32.h5")
        #expect(data.imagesName == "x" && data.layout == .nchw && data.labelsName == nil)
        #expect(data.imageShape == [3, 5, 6])
        let images = try data.images(1..<3, scaledTo: .unit)
        #expect(allClose(images, Tensor(Array(pattern(360)[90..<270]).map { $0 / 255 }, shape: [2, 3, 5, 6]), atol: 1e-6))
        #expect(try data.labels(at: [0]) == nil)
    }

    @Test func float32NHWCInAGroupIsPermuted() throws {
        let data = try openData("nhwc_float32.h5")
        #expect(data.imagesName == "data/images" && data.layout == .nhwc && data.labelsName == "data/labels")
        #expect(data.imageShape == [3, 5, 6])
        let images = try data.images(0..<4, scaledTo: .unit)
        let stored = Tensor(pattern(360).map { $0 / 255 }, shape: [4, 5, 6, 3])
        #expect(allClose(images, stored.permuted([0, 3, 1, 2]), atol: 1e-6))
        #expect(try data.labels(at: [0, 1, 2, 3]) == [3, 1, 4, 1])
    }

    @Test func chunkedGzipReadsAnyRows() throws {
        let data = try openData("chunked_gzip.h5")
        #expect(data.rowsPerChunk == 7)
        let rows = [49, 0, 13, 14, 15, 3]
        let images = try data.images(at: rows, scaledTo: .unit)
        let all = Tensor(pattern(50 * 64).map { $0 / 255 }, shape: [50, 1, 8, 8])
        #expect(allClose(images, all[rows: rows], atol: 1e-6))
        #expect(try data.labels(at: rows) == rows.map { $0 % 10 })
    }

    @Test func floatRangeFromAttribute() throws {
        let data = try openData("float64_signed.h5")
        #expect(data.storedRange == -1...1)
        let stored = Tensor(pattern(48).map { $0 / 255 * 2 - 1 }, shape: [3, 1, 4, 4])
        #expect(allClose(try data.images(0..<3, scaledTo: .symmetric), stored, atol: 1e-6))
        #expect(allClose(try data.images(0..<3, scaledTo: .unit), (stored + 1) * 0.5, atol: 1e-6))
    }

    @Test func layoutAttributeAndExplicitChoice() throws {
        #expect(try openData("nhw_uint8_attrs.h5").layout == .nhw)
        let chosen = try openData("two_image_sets.h5", .init(dataset: "/b"))
        #expect(chosen.imagesName == "b" && chosen.choiceNote == nil)
    }

    @Test func loaderServesEveryRowOncePerEpochAndResumes() throws {
        let data = try openData("chunked_gzip.h5")
        let loader = BatchLoader(dataset: data, batchSize: 8, seed: 3, pixelRange: .unit, windowBlocks: 2)
        #expect(loader.batchesPerEpoch == 6)
        var seen: [Int] = []
        for _ in 0..<6 { seen += try loader.next().indices }
        #expect(Set(seen).count == 48 && seen != seen.sorted())
        let secondEpoch = try loader.next()
        #expect(loader.position == LoaderPosition(epoch: 1, batch: 1))
        #expect(secondEpoch.indices != Array(seen.prefix(8)))
        let resumed = BatchLoader(dataset: data, batchSize: 8, seed: 3, pixelRange: .unit, windowBlocks: 2)
        resumed.position = LoaderPosition(epoch: 1, batch: 0)
        let again = try resumed.next()
        #expect(again.indices == secondEpoch.indices && again.images.isIdentical(to: secondEpoch.images))
        #expect(again.labels == again.indices.map { $0 % 10 })
    }

    @Test func splitIsSeededAndDisjoint() {
        let (train, test) = BatchLoader.split(count: 100, testFraction: 0.2, seed: 1)
        #expect(train.count == 80 && test.count == 20 && Set(train).isDisjoint(with: test))
        #expect(BatchLoader.split(count: 100, testFraction: 0.2, seed: 1).test == test)
    }

    @Test func inventoryDescribesEveryDataset() throws {
        let info = try HDF5Dataset.inventory(of: dataFixtures.appendingPathComponent("chunked_gzip.h5"))
        let images = try #require(info.first { $0.name == "images" })
        #expect(images.shape == [50, 8, 8] && images.typeName == "uint8" && images.chunk == [7, 8, 8] && images.filters == ["gzip(4)"])
        #expect(images.valueRange == 0...255)
        #expect(info.first { $0.name == "labels" }?.typeName == "int32")
    }
}

/// One bad file and the error it must give.
struct BadFileCase: Sendable, CustomTestStringConvertible {
    let file: String
    let dataset: String?
    let expected: @Sendable (String) -> DataError?
    var testDescription: String { file }
}

let badHDF5Cases: [BadFileCase] = [
    BadFileCase(file: "not_hdf5.h5", dataset: nil) { .notHDF5($0) },
    BadFileCase(file: "truncated.h5", dataset: nil) { _ in nil },
    BadFileCase(file: "nhw_uint8.h5", dataset: "pixels") { .missingDataset($0, name: "pixels", available: ["images", "labels"]) },
    BadFileCase(file: "strings.h5", dataset: "images") { .unsupportedType($0, name: "images", type: "strings") },
    BadFileCase(file: "compound.h5", dataset: "images") { .unsupportedType($0, name: "images", type: "compound records") },
    BadFileCase(file: "rank1.h5", dataset: "images") { .wrongRank($0, name: "images", shape: [10]) },
    BadFileCase(file: "rank5.h5", dataset: "images") { .wrongRank($0, name: "images", shape: [2, 1, 3, 4, 4]) },
    BadFileCase(file: "empty.h5", dataset: "images") { .emptyDataset($0, name: "images") },
    BadFileCase(file: "int64_images.h5", dataset: "images") { .unsupportedType($0, name: "images", type: "int64") },
    BadFileCase(file: "int64_images.h5", dataset: nil) { .noImageDataset($0, available: ["images"]) },
    BadFileCase(file: "two_image_sets.h5", dataset: nil) { .ambiguousImageDataset($0, candidates: ["a", "b"]) },
    BadFileCase(file: "external_link.h5", dataset: "images") { .externalLink($0, name: "images") },
    BadFileCase(file: "no_such_file.h5", dataset: nil) { .missingFile($0) },
]

@Suite("HDF5 bad input")
struct HDF5BadInputTests {
    @Test(arguments: badHDF5Cases)
    func givesItsOwnError(_ c: BadFileCase) {
        let path = dataFixtures.appendingPathComponent(c.file).path
        do {
            _ = try openData(c.file, .init(dataset: c.dataset))
            Issue.record("\(c.file) opened without an error")
        } catch let error as DataError {
            if let expected = c.expected(path) {
                #expect(error == expected)
            } else {
                // A truncated file: an HDF5 error naming the file.
                guard case .hdf5(let file, let details) = error else { Issue.record("unexpected \(error)"); return }
                #expect(file == path && details.contains("truncated"), "\(details)")
            }
            #expect(error.description.hasPrefix(path) && !error.description.contains("\n"))
        } catch {
            Issue.record("unexpected error type \(error)")
        }
    }

    /// h5py's LZF filter is read by gen itself (no plugins): the LZF file gives the gzip file's
    /// images and labels exactly; an unknown filter is refused with the filters gen reads and
    /// how to repack.
    @Test func lzfReadsLikeGzip() throws {
        let gzip = try openData("chunked_gzip.h5"), lzf = try openData("chunked_lzf.h5")
        let rows = Array(0..<50)
        #expect(try lzf.images(at: rows, scaledTo: .unit).scalars == gzip.images(at: rows, scaledTo: .unit).scalars)
        #expect(try lzf.labels(at: rows) == gzip.labels(at: rows))
        do {
            _ = try openData("unknown_filter.h5").images(at: [0], scaledTo: .unit)
            Issue.record("an unknown filter was read")
        } catch let error as DataError {
            #expect(error.description.contains("gzip, shuffle, LZF") && error.description.contains("h5repack"), "\(error)")
        }
    }

    /// An HDF5 file gen can read imports into gen's own layout, images and labels alike.
    @Test func hdf5Imports() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gen-h5-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("out.h5")
        let summary = try DatasetImporter.run(source: dataFixtures.appendingPathComponent("chunked_lzf.h5"), to: out)
        #expect(summary.format == .hdf5 && summary.count == 50 && summary.labelled)
        let imported = try HDF5Dataset(url: out), original = try openData("chunked_gzip.h5")
        #expect(try imported.images(at: Array(0..<50), scaledTo: .unit).scalars == original.images(at: Array(0..<50), scaledTo: .unit).scalars)
        #expect(try imported.labels(at: [0, 49]) == original.labels(at: [0, 49]))
    }
}
