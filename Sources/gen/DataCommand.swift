import ArgumentParser
import Foundation
import GenCore

/// `gen data`: bring image collections in as HDF5 and look inside HDF5 files.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Import image collections into HDF5 and inspect HDF5 files.",
        subcommands: [Import.self, Info.self, Show.self, Scan.self, Validate.self])

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Convert IDX (MNIST), CSV, NPY, another HDF5 file or a folder of PNGs into a chunked, gzip-compressed HDF5 file.")

        @Argument(help: "The source: an IDX file (.gz or plain), a .csv(.gz), a .npy, an .h5, a folder of PNG files, or a folder of IDX files as MNIST ships them (one output per split: OUT-train.h5, OUT-t10k.h5).")
        var source: String

        @Option(help: "The HDF5 file to write (datasets 'images', uint8, and 'labels').")
        var out: String

        @Option(help: "The source format (idx, csv, npy, png, hdf5); guessed from the name when omitted.")
        var format: ImportFormat?

        @Option(help: "A separate labels file (IDX or NPY) for IDX and NPY sources.")
        var labels: String?

        @Option(help: "Where CSV rows keep their label: auto (from the header), first, last or none.")
        var labelColumn: LabelColumn = .auto

        @Option(help: "Image size of CSV rows as HEIGHTxWIDTH (default: square).")
        var shape: String?

        @Flag(help: "Overwrite the output file if it exists.")
        var force = false

        func run() throws {
            try reportingFailures {
                var size: (Int, Int)?
                if let shape {
                    let parts = shape.lowercased().split(separator: "x").compactMap { Int($0) }
                    guard parts.count == 2, parts.allSatisfy({ $0 > 0 }) else {
                        throw GenError.usage("--shape must look like 28x28, got '\(shape)'")
                    }
                    size = (parts[0], parts[1])
                }
                let options = ImportOptions(format: format, labels: labels.map { URL(fileURLWithPath: $0) },
                                            labelColumn: labelColumn, imageSize: size, overwrite: force)
                for (file, summary) in try DatasetImporter.importAll(source: URL(fileURLWithPath: source), to: URL(fileURLWithPath: out), options: options) {
                    print("wrote \(file.path == URL(fileURLWithPath: out).path ? out : file.path): \(summary.count) images of \(summary.channels)×\(summary.height)×\(summary.width) (uint8)\(summary.labelled ? " with labels" : ""), from \(summary.format.rawValue)")
                }
            }
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print every dataset of an HDF5 file: name, shape, type, chunking, compression and value range.")

        @Argument(help: "The HDF5 file.")
        var file: String

        func run() throws {
            try reportingFailures { print(try HDF5Guard.inventory(file), terminator: "") }
        }
    }
}

extension DataCommand {
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a grid of a dataset's images as a PNG, to see what a model will learn.")

        @Argument(help: "The HDF5 file.")
        var file: String

        @Argument(help: "The PNG file to write.")
        var output: String

        @Option(help: "How many images.")
        var n: Int = 64

        @Flag(help: "One row per class of the labels.")
        var labels = false

        @Option(help: "The image dataset's name in the file (default: the one image-like dataset).")
        var dataset: String?

        @Flag(help: "Replace the PNG file if it exists.")
        var force = false

        func run() throws {
            try reportingFailures {
                guard n >= 1 else { throw GenError.usage("--n must be at least 1") }
                try OutputFile.check(output, overwrite: force)
                let data = try HDF5Dataset(url: URL(fileURLWithPath: file), options: .init(dataset: dataset, readLabels: labels))
                let (images, columns) = try data.showcase(count: n, byClass: labels)
                try ImageGrid.write(images, to: URL(fileURLWithPath: output), nrow: columns, range: .symmetric)
                print("wrote \(output): \(images.shape[0]) images of \(file)\(labels ? ", one row per class" : "")")
            }
        }
    }

    struct Scan: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read a dataset through once in shuffled mini-batches, as training does; print speed and peak memory.")

        @Argument(help: "The HDF5 file.")
        var file: String

        @Option(help: "The image dataset's name in the file (default: the one image-like dataset).")
        var dataset: String?

        @Option(help: "Images per batch.")
        var batchSize: Int = 128

        func run() throws {
            try reportingFailures {
                guard batchSize >= 1 else { throw GenError.usage("--batch-size must be at least 1") }
                let data = try HDF5Dataset(url: URL(fileURLWithPath: file), options: .init(dataset: dataset))
                if let note = data.choiceNote { printNote(note) }
                let scan = try data.scan(batchSize: batchSize)
                print("read \(scan.images) images in \(scan.batches) batches of \(scan.batchSize) in \(String(format: "%.2f", scan.seconds)) s (\(Int(Double(scan.images) / max(scan.seconds, 1e-9))) images/s); mean pixel \(String(format: "%.4f", scan.meanPixel))")
                print("uncompressed data \(data.uncompressedBytes / 1_048_576) MiB; peak resident memory \(ResourceUsage.peakResidentBytes / 1_048_576) MiB")
            }
        }
    }
}

extension ImportFormat: ExpressibleByArgument {}
extension LabelColumn: ExpressibleByArgument {}
