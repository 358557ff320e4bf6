import Foundation

/// Source formats `gen data import` understands.
public enum ImportFormat: String, Sendable, CaseIterable {
    /// MNIST's IDX files (`…-idx3-ubyte`, plain or `.gz`), labels from a second IDX file.
    case idx
    /// One image per row (pixels 0–255), the label first or last, an optional header line.
    case csv
    /// A NumPy `.npy` array (uint8 or float in [0, 1]), labels from a second `.npy`.
    case npy
    /// A folder of PNG files; class subfolders become labels.
    case png
    /// An HDF5 file gen can read (any layout, uint8 or float, gzip, shuffle or LZF), rewritten in
    /// gen's own layout.
    case hdf5

    /// The format a path's name suggests.
    public static func guess(_ url: URL) -> ImportFormat? {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), isFolder.boolValue { return .png }
        let name = url.lastPathComponent.lowercased().replacingOccurrences(of: ".gz", with: "")
        if name.hasSuffix(".csv") { return .csv }
        if name.hasSuffix(".npy") { return .npy }
        if name.hasSuffix(".h5") || name.hasSuffix(".hdf5") || name.hasSuffix(".hdf") { return .hdf5 }
        if name.contains("idx") || name.hasSuffix("-ubyte") { return .idx }
        return nil
    }
}

/// Where a CSV row keeps its label.
public enum LabelColumn: String, Sendable, CaseIterable {
    case auto, first, last, none
}

/// What `gen data import` should do.
public struct ImportOptions: Sendable {
    public var format: ImportFormat?
    /// A separate labels file (IDX or NPY).
    public var labels: URL?
    public var labelColumn: LabelColumn
    /// `height, width` of CSV rows; nil takes the square root of the pixel count.
    public var imageSize: (height: Int, width: Int)?
    public var overwrite: Bool

    public init(format: ImportFormat? = nil, labels: URL? = nil, labelColumn: LabelColumn = .auto,
                imageSize: (height: Int, width: Int)? = nil, overwrite: Bool = false) {
        self.format = format
        self.labels = labels
        self.labelColumn = labelColumn
        self.imageSize = imageSize
        self.overwrite = overwrite
    }
}

/// What an import wrote.
public struct ImportSummary: Sendable, Equatable {
    public var format: ImportFormat
    public var count: Int
    public var channels: Int
    public var height: Int
    public var width: Int
    public var labelled: Bool

    public init(format: ImportFormat, count: Int, channels: Int, height: Int, width: Int, labelled: Bool) {
        (self.format, self.count, self.channels, self.height, self.width, self.labelled) = (format, count, channels, height, width, labelled)
    }
}

/// Converts image collections into gen's HDF5 layout (see ``HDF5ImageWriter``).
public enum DatasetImporter {
    /// Images written per append: bounds the memory of an import.
    static let piece = 1024

    /// Imports `source` into a new HDF5 file at `destination`.
    public static func run(source: URL, to destination: URL, options: ImportOptions = ImportOptions()) throws -> ImportSummary {
        guard let format = options.format ?? ImportFormat.guess(source) else {
            throw DataError.malformed(source.path, "cannot tell the format from the name; give --format idx|csv|npy|png|hdf5")
        }
        switch format {
        case .idx: return try importIDX(source, destination, options)
        case .csv: return try importCSV(source, destination, options)
        case .npy: return try importNPY(source, destination, options)
        case .png: return try importPNGFolder(source, destination, options)
        case .hdf5: return try importHDF5(source, destination, options)
        }
    }

    /// Imports `source`; a folder of IDX files as MNIST ships them (`train-images-idx3-ubyte.gz`
    /// beside `train-labels-idx1-ubyte.gz`, and `t10k-…`) becomes one file per split, named after
    /// `destination` (`mnist.h5` → `mnist-train.h5`, `mnist-t10k.h5`), each images file with the
    /// labels file of its split.
    public static func importAll(source: URL, to destination: URL, options: ImportOptions = ImportOptions()) throws -> [(URL, ImportSummary)] {
        var isFolder: ObjCBool = false
        let names = FileManager.default.fileExists(atPath: source.path, isDirectory: &isFolder) && isFolder.boolValue
            ? ((try? FileManager.default.contentsOfDirectory(atPath: source.path)) ?? []).sorted() : []
        let imageFiles = names.filter { $0.contains("-images-idx3-ubyte") }
        guard options.format == nil || options.format == .idx, !imageFiles.isEmpty else {
            return [(destination, try run(source: source, to: destination, options: options))]
        }
        let stem = destination.deletingPathExtension().lastPathComponent, folder = destination.deletingLastPathComponent()
        return try imageFiles.map { name in
            let split = String(name[..<name.range(of: "-images-idx3-ubyte")!.lowerBound])
            let labelName = name.replacingOccurrences(of: "-images-idx3-ubyte", with: "-labels-idx1-ubyte")
            var paired = options
            paired.format = .idx
            paired.labels = names.contains(labelName) ? source.appendingPathComponent(labelName) : nil
            let target = folder.appendingPathComponent("\(stem)-\(split).h5")
            return (target, try run(source: source.appendingPathComponent(name), to: target, options: paired))
        }
    }

    // MARK: HDF5

    /// Rewrites the images (and labels) of a readable HDF5 file as 8-bit images in gen's layout.
    private static func importHDF5(_ source: URL, _ destination: URL, _ options: ImportOptions) throws -> ImportSummary {
        let data = try HDF5Dataset(url: source)
        let writer = try HDF5ImageWriter(url: destination, channels: data.channels, height: data.height, width: data.width,
                                         withLabels: data.labelsName != nil, overwrite: options.overwrite)
        for start in stride(from: 0, to: data.count, by: piece) {
            let rows = Array(start..<min(data.count, start + piece))
            let images = try data.images(at: rows, scaledTo: .unit)
            try writer.append(pixels: images.scalars.map { ImageGrid.quantize($0, low: 0, high: 1) }, labels: try data.labels(at: rows))
        }
        try writer.finish()
        return ImportSummary(format: .hdf5, count: data.count, channels: data.channels, height: data.height, width: data.width,
                             labelled: data.labelsName != nil)
    }

    // MARK: IDX

    /// An IDX file's element count per item and item count, after its header.
    static func idxHeader(_ stream: ByteStream, expectedDims: ClosedRange<Int>) throws -> [Int] {
        let header = try stream.read(4)
        guard header.count == 4, header[0] == 0, header[1] == 0 else {
            throw DataError.malformed(stream.path, "not an IDX file (bad magic number)")
        }
        guard header[2] == 0x08 else { throw DataError.malformed(stream.path, "IDX element type 0x\(String(header[2], radix: 16)) is not unsigned bytes (0x08)") }
        let rank = Int(header[3])
        guard expectedDims.contains(rank) else { throw DataError.malformed(stream.path, "IDX file has \(rank) dimensions, expected \(expectedDims)") }
        let raw = try stream.read(4 * rank)
        guard raw.count == 4 * rank else { throw DataError.malformed(stream.path, "IDX header is truncated") }
        let dims = (0..<rank).map { i in raw[(4 * i)..<(4 * i + 4)].reduce(0) { $0 << 8 | Int($1) } }
        // each dimension at most 2²⁴, so the product of three needs checking (2⁷² overflows)
        let (perItem, overflow) = dims.dropFirst().reduce((1, false)) { partial, size in
            let (product, flag) = partial.0.multipliedReportingOverflow(by: size)
            return (product, partial.1 || flag)
        }
        guard dims.allSatisfy({ $0 >= 1 && $0 <= 1 << 24 }), !overflow, perItem <= 1 << 24 else {
            throw DataError.malformed(stream.path, "IDX dimensions \(dims) are implausible")
        }
        return dims
    }

    private static func importIDX(_ source: URL, _ destination: URL, _ options: ImportOptions) throws -> ImportSummary {
        let images = try ByteStream(url: source)
        let dims = try idxHeader(images, expectedDims: 3...4)
        let (count, channels, height, width) = dims.count == 3 ? (dims[0], 1, dims[1], dims[2]) : (dims[0], dims[1], dims[2], dims[3])
        var labels: ByteStream?
        if let labelsURL = options.labels {
            let stream = try ByteStream(url: labelsURL)
            let labelDims = try idxHeader(stream, expectedDims: 1...1)
            guard labelDims[0] == count else {
                throw DataError.labelsMismatch(labelsURL.path, name: "labels", count: labelDims[0], images: count)
            }
            labels = stream
        }
        let writer = try HDF5ImageWriter(url: destination, channels: channels, height: height, width: width,
                                         withLabels: labels != nil, overwrite: options.overwrite)
        let rowSize = channels * height * width
        var done = 0
        while done < count {
            let n = min(piece, count - done)
            let pixels = try images.read(n * rowSize)
            guard pixels.count == n * rowSize else {
                throw DataError.malformed(source.path, "IDX data ends after \(done * rowSize + pixels.count) of \(count * rowSize) bytes")
            }
            var pieceLabels: [Int]?
            if let labels {
                let bytes = try labels.read(n)
                guard bytes.count == n else { throw DataError.malformed(labels.path, "IDX labels end after \(done + bytes.count) of \(count)") }
                pieceLabels = bytes.map(Int.init)
            }
            try writer.append(pixels: pixels, labels: pieceLabels)
            done += n
        }
        try images.requireEnd("the \(count) images its header declares")
        try labels?.requireEnd("the \(count) labels its header declares")
        try writer.finish()
        return ImportSummary(format: .idx, count: count, channels: channels, height: height, width: width, labelled: labels != nil)
    }

    // MARK: CSV

    private static func importCSV(_ source: URL, _ destination: URL, _ options: ImportOptions) throws -> ImportSummary {
        let stream = try ByteStream(url: source)
        guard var line = try stream.readLine() else { throw DataError.malformed(source.path, "the CSV file is empty") }
        var lineNumber = 1
        var fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        var labelColumn = options.labelColumn
        let isHeader = fields.contains { Double($0) == nil }
        if isHeader {
            if labelColumn == .auto {
                let names = fields.map { $0.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
                labelColumn = names.first == "label" ? .first : names.last == "label" ? .last : .none
            }
            guard let next = try stream.readLine() else { throw DataError.malformed(source.path, "the CSV file has a header but no rows") }
            line = next
            lineNumber = 2
            fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        }
        let fieldCount = fields.count
        if labelColumn == .auto {
            // Without a header: a label is present when the pixel count is square only without it.
            let squareWith = isSquare(fieldCount), squareWithout = isSquare(fieldCount - 1)
            guard squareWith != squareWithout, squareWith || options.imageSize != nil else {
                throw DataError.malformed(source.path, "cannot tell where the label is; give --label-column first|last|none")
            }
            if squareWith {
                labelColumn = .none
            } else {
                throw DataError.malformed(source.path, "rows have \(fieldCount) fields: give --label-column first or last")
            }
        }
        let pixelCount = labelColumn == .none ? fieldCount : fieldCount - 1
        let (height, width): (Int, Int)
        if let size = options.imageSize {
            let (product, overflow) = size.height.multipliedReportingOverflow(by: size.width)
            guard !overflow, product == pixelCount else {
                throw DataError.malformed(source.path, "rows have \(pixelCount) pixels, not \(size.height)×\(size.width)")
            }
            (height, width) = size
        } else {
            guard isSquare(pixelCount) else { throw DataError.malformed(source.path, "rows have \(pixelCount) pixels, not a square image; give --shape HxW") }
            let side = Int(Double(pixelCount).squareRoot().rounded())
            (height, width) = (side, side)
        }
        let writer = try HDF5ImageWriter(url: destination, channels: 1, height: height, width: width,
                                         withLabels: labelColumn != .none, overwrite: options.overwrite)
        var pixels: [UInt8] = [], labels: [Int] = []
        var count = 0
        func flush() throws {
            try writer.append(pixels: pixels, labels: labelColumn == .none ? nil : labels)
            pixels.removeAll(keepingCapacity: true)
            labels.removeAll(keepingCapacity: true)
        }
        while true {
            if !(fields.count == 1 && fields[0].isEmpty) {
                guard fields.count == fieldCount else {
                    throw DataError.malformed(source.path, "line \(lineNumber) has \(fields.count) fields, expected \(fieldCount)")
                }
                let pixelFields = labelColumn == .first ? fields.dropFirst() : labelColumn == .last ? fields.dropLast() : fields[...]
                for field in pixelFields {
                    guard let value = Double(field), value.isFinite, value >= 0, value <= 255, value == value.rounded() else {
                        throw DataError.malformed(source.path, "line \(lineNumber): pixel '\(field.prefix(20))' is not a whole number in 0–255")
                    }
                    pixels.append(UInt8(value.rounded()))
                }
                if labelColumn != .none {
                    let field = labelColumn == .first ? fields.first! : fields.last!
                    guard let label = Int(field), label >= 0 else {
                        throw DataError.malformed(source.path, "line \(lineNumber): label '\(field.prefix(20))' is not a non-negative integer")
                    }
                    labels.append(label)
                }
                count += 1
                if count % piece == 0 { try flush() }
            }
            guard let next = try stream.readLine() else { break }
            lineNumber += 1
            fields = next.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        }
        try flush()
        try writer.finish()
        return ImportSummary(format: .csv, count: count, channels: 1, height: height, width: width, labelled: labelColumn != .none)
    }

    private static func isSquare(_ n: Int) -> Bool {
        guard n > 0 else { return false }
        let side = Int(Double(n).squareRoot().rounded())
        return side * side == n
    }

    // MARK: NPY

    /// A parsed `.npy` header: element type, shape, and where the data starts.
    struct NPYHeader {
        var descr: String
        var shape: [Int]
        var elementSize: Int
    }

    static func npyHeader(_ stream: ByteStream) throws -> NPYHeader {
        let magic = try stream.read(8)
        guard magic.count == 8, Array(magic[0..<6]) == [0x93] + Array("NUMPY".utf8) else {
            throw DataError.malformed(stream.path, "not a .npy file (bad magic)")
        }
        let lengthBytes = try stream.read(magic[6] == 1 ? 2 : 4)
        let length = lengthBytes.enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        guard length > 0, length <= 1 << 16 else { throw DataError.malformed(stream.path, ".npy header length \(length) is implausible") }
        let text = String(decoding: try stream.read(length), as: UTF8.self)
        func value(_ key: String) -> String? {
            guard let range = text.range(of: "'\(key)':") else { return nil }
            return String(text[range.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        guard let descrText = value("descr"), let descr = descrText.split(separator: "'").first.map(String.init),
              let order = value("fortran_order"), let shapeText = value("shape"),
              let open = shapeText.firstIndex(of: "("), let close = shapeText.firstIndex(of: ")") else {
            throw DataError.malformed(stream.path, ".npy header is not understood: \(text.prefix(80))")
        }
        guard order.hasPrefix("False") else { throw DataError.malformed(stream.path, "Fortran-ordered .npy arrays are not supported") }
        let dims = shapeText[shapeText.index(after: open)..<close].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard let shape = Optional(dims.compactMap { Int($0) }), shape.count == dims.count, shape.allSatisfy({ $0 >= 0 && $0 <= 1 << 24 }) else {
            throw DataError.malformed(stream.path, ".npy shape \(shapeText.prefix(40)) is not understood")
        }
        let sizes: [String: Int] = ["|u1": 1, "<u1": 1, "|i1": 1, "<f4": 4, "<f8": 8, "<i8": 8, "<i4": 4, "<u8": 8, "<i2": 2, "<u2": 2]
        guard let elementSize = sizes[descr] else { throw DataError.malformed(stream.path, ".npy element type '\(descr)' is not supported") }
        return NPYHeader(descr: descr, shape: shape, elementSize: elementSize)
    }

    /// Converts little-endian raw elements to doubles.
    static func npyValues(_ bytes: [UInt8], descr: String) -> [Double] {
        bytes.withUnsafeBytes { raw in
            switch descr {
            case "|u1", "<u1": return bytes.map(Double.init)
            case "|i1": return bytes.map { Double(Int8(bitPattern: $0)) }
            case "<f4": return (0..<(raw.count / 4)).map { Double(Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self).littleEndian)) }
            case "<f8": return (0..<(raw.count / 8)).map { Double(bitPattern: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self).littleEndian) }
            case "<i8": return (0..<(raw.count / 8)).map { Double(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self))) }
            case "<u8": return (0..<(raw.count / 8)).map { Double(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self))) }
            case "<i4": return (0..<(raw.count / 4)).map { Double(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self))) }
            case "<i2": return (0..<(raw.count / 2)).map { Double(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: Int16.self))) }
            case "<u2": return (0..<(raw.count / 2)).map { Double(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))) }
            default: return []
            }
        }
    }

    private static func importNPY(_ source: URL, _ destination: URL, _ options: ImportOptions) throws -> ImportSummary {
        let stream = try ByteStream(url: source)
        let header = try npyHeader(stream)
        guard header.shape.count == 3 || header.shape.count == 4, header.shape.allSatisfy({ $0 > 0 }) else {
            throw DataError.wrongRank(source.path, name: "array", shape: header.shape)
        }
        let layout = try HDF5Dataset.layout(of: header.shape, stated: nil, file: source.path, name: "array")
        let count = header.shape[0]
        let (channels, height, width) = layout == .nhw ? (1, header.shape[1], header.shape[2])
            : layout == .nchw ? (header.shape[1], header.shape[2], header.shape[3]) : (header.shape[3], header.shape[1], header.shape[2])
        let isFloat = header.descr.hasPrefix("<f")
        var labels: [Int]?
        if let labelsURL = options.labels {
            let labelStream = try ByteStream(url: labelsURL)
            let labelHeader = try npyHeader(labelStream)
            guard labelHeader.shape.count == 1, !labelHeader.descr.hasPrefix("<f") else {
                throw DataError.malformed(labelsURL.path, "labels must be a rank-1 integer array, got \(labelHeader.descr) \(labelHeader.shape)")
            }
            guard labelHeader.shape[0] == count else { throw DataError.labelsMismatch(labelsURL.path, name: "labels", count: labelHeader.shape[0], images: count) }
            let bytes = try labelStream.read(count * labelHeader.elementSize)
            guard bytes.count == count * labelHeader.elementSize else { throw DataError.malformed(labelsURL.path, ".npy data is truncated") }
            try labelStream.requireEnd("the array its header declares")
            labels = npyValues(bytes, descr: labelHeader.descr).map { Int($0) }
            guard labels!.allSatisfy({ $0 >= 0 }) else { throw DataError.malformed(labelsURL.path, "labels must be non-negative") }
        }
        let writer = try HDF5ImageWriter(url: destination, channels: channels, height: height, width: width,
                                         withLabels: labels != nil, overwrite: options.overwrite)
        let rowSize = channels * height * width
        var done = 0
        while done < count {
            let n = min(piece, count - done)
            let bytes = try stream.read(n * rowSize * header.elementSize)
            guard bytes.count == n * rowSize * header.elementSize else { throw DataError.malformed(source.path, ".npy data is truncated") }
            let values = npyValues(bytes, descr: header.descr)
            guard values.allSatisfy({ $0.isFinite && $0 >= 0 && $0 <= (isFloat ? 1 : 255) }) else {
                throw DataError.malformed(source.path, "pixel values must be in \(isFloat ? "[0, 1]" : "0–255")")
            }
            var pixels = values.map { UInt8(($0 * (isFloat ? 255 : 1)).rounded()) }
            if layout == .nhwc {
                // NHWC → NCHW, one image at a time.
                var reordered = [UInt8](repeating: 0, count: pixels.count)
                for image in 0..<n {
                    for y in 0..<height {
                        for x in 0..<width {
                            for c in 0..<channels {
                                reordered[image * rowSize + (c * height + y) * width + x] = pixels[image * rowSize + (y * width + x) * channels + c]
                            }
                        }
                    }
                }
                pixels = reordered
            }
            try writer.append(pixels: pixels, labels: labels.map { Array($0[done..<(done + n)]) })
            done += n
        }
        try stream.requireEnd("the array its header declares")
        try writer.finish()
        return ImportSummary(format: .npy, count: count, channels: channels, height: height, width: width, labelled: labels != nil)
    }

    // MARK: PNG folder

    private static func importPNGFolder(_ source: URL, _ destination: URL, _ options: ImportOptions) throws -> ImportSummary {
        let manager = FileManager.default
        var isFolder: ObjCBool = false
        guard manager.fileExists(atPath: source.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw DataError.malformed(source.path, "is not a folder of PNG files")
        }
        let entries = try manager.contentsOfDirectory(atPath: source.path).sorted()
        let classes = entries.filter { name in
            var folder: ObjCBool = false
            return manager.fileExists(atPath: source.appendingPathComponent(name).path, isDirectory: &folder) && folder.boolValue
        }
        var files: [(URL, Int?)] = []
        let loose = entries.filter { $0.lowercased().hasSuffix(".png") }
        if !classes.isEmpty && !loose.isEmpty {
            throw DataError.malformed(source.path, "holds class folders (\(classes.prefix(3).joined(separator: ", "))…) and \(loose.count) PNG files beside them, which have no class; move them into a class folder")
        }
        if classes.isEmpty {
            files = entries.filter { $0.lowercased().hasSuffix(".png") }.map { (source.appendingPathComponent($0), nil) }
        } else {
            for (label, name) in classes.enumerated() {
                let folder = source.appendingPathComponent(name)
                files += try manager.contentsOfDirectory(atPath: folder.path).sorted()
                    .filter { $0.lowercased().hasSuffix(".png") }.map { (folder.appendingPathComponent($0), label) }
            }
        }
        guard let first = files.first else { throw DataError.malformed(source.path, "contains no .png files") }
        let firstImage = try PNG.read(first.0)
        let (channels, height, width) = (firstImage.channels, firstImage.height, firstImage.width)
        let writer = try HDF5ImageWriter(url: destination, channels: channels, height: height, width: width,
                                         withLabels: !classes.isEmpty, overwrite: options.overwrite)
        var pixels: [UInt8] = [], labels: [Int] = []
        for (index, (url, label)) in files.enumerated() {
            let image = index == 0 ? firstImage : try PNG.read(url)
            guard image.width == width, image.height == height, image.channels == channels else {
                throw DataError.malformed(url.path, "is \(image.width)×\(image.height)×\(image.channels), the others \(width)×\(height)×\(channels)")
            }
            if channels == 1 {
                pixels += image.pixels
            } else {
                // interleaved RGB → planar CHW
                for c in 0..<channels { for p in 0..<(width * height) { pixels.append(image.pixels[p * channels + c]) } }
            }
            if let label { labels.append(label) }
            if (index + 1) % piece == 0 || index == files.count - 1 {
                try writer.append(pixels: pixels, labels: classes.isEmpty ? nil : labels)
                pixels.removeAll(keepingCapacity: true)
                labels.removeAll(keepingCapacity: true)
            }
        }
        try writer.finish()
        return ImportSummary(format: .png, count: files.count, channels: channels, height: height, width: width, labelled: !classes.isEmpty)
    }
}
