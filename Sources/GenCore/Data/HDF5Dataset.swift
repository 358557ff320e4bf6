import CHDF5
import Foundation

/// How image data is laid out in a file: NHW (gray), NCHW or NHWC.
public enum ImageLayout: String, Sendable, Codable, CaseIterable {
    case nhw = "NHW", nchw = "NCHW", nhwc = "NHWC"
}

/// The range a model wants its pixels in.
public enum PixelRange: String, Sendable, Codable {
    /// [0, 1], for Bernoulli VAEs and flows.
    case unit
    /// [−1, 1], for diffusion models and GANs.
    case symmetric

    var bounds: (Float, Float) { self == .unit ? (0, 1) : (-1, 1) }
}

/// An image dataset in an HDF5 file, read in mini-batches by hyperslab: memory is bounded by
/// the batch, never by the file.
///
/// Accepts uint8 (0–255) and float32/float64 (0–1, or the range given by the dataset's `range`
/// attribute or the caller) images laid out NHW, NCHW or NHWC (detected from the shape, a
/// `layout` attribute, or given), and optional integer labels. Batches come back as
/// `[batch, channels, height, width]` Float32 in the range the model asks for.
///
/// HDF5 is not designed to read hostile files safely: open only files you trust to that extent.
/// gen narrows the surface: no filter plugins, no external links, every size checked first.
public final class HDF5Dataset {
    /// What to read, when the file alone does not say.
    public struct Options: Sendable {
        /// The image dataset's path in the file; nil picks the one image-like dataset.
        public var dataset: String?
        /// The labels dataset; nil looks for a rank-1 integer dataset named labels/label/y/targets.
        public var labels: String?
        /// The layout; nil detects it.
        public var layout: ImageLayout?
        /// The range of float data; nil uses the `range` attribute or [0, 1].
        public var valueRange: ClosedRange<Float>?
        /// Whether to look for labels at all.
        public var readLabels: Bool
        /// Whether a file without usable labels is an error (a conditional run's data): a
        /// dataset named like labels that is not rank-1 integers is then refused by name.
        public var requireLabels: Bool

        public init(dataset: String? = nil, labels: String? = nil, layout: ImageLayout? = nil,
                    valueRange: ClosedRange<Float>? = nil, readLabels: Bool = true, requireLabels: Bool = false) {
            self.requireLabels = requireLabels
            self.dataset = dataset
            self.labels = labels
            self.layout = layout
            self.valueRange = valueRange
            self.readLabels = readLabels
        }
    }

    public let path: String
    /// The image dataset's path within the file.
    public let imagesName: String
    /// The labels dataset's path, if any.
    public let labelsName: String?
    public let count: Int
    public let channels: Int
    public let height: Int
    public let width: Int
    public let layout: ImageLayout
    /// `uint8`, `float32` or `float64`.
    public let storedType: String
    /// The range the stored values cover (0…255 for uint8).
    public let storedRange: ClosedRange<Float>
    /// Images per chunk along the first axis, for chunked datasets.
    public let rowsPerChunk: Int?
    /// How the image dataset was chosen, when it was picked automatically.
    public let choiceNote: String?

    private let file: HDF5Handle
    private let images: HDF5Handle
    private let labels: HDF5Handle?
    private let isFloat: Bool

    /// The most values (channels × height × width) one image may have.
    public static let maximumImageValues = 1 << 26

    /// The shape of one image: `[channels, height, width]`.
    public var imageShape: [Int] { [channels, height, width] }

    /// Called with a file's path and the dataset asked for before any file is opened, when
    /// set: a program that must survive files which crash libhdf5 itself screens each file
    /// first, in a child process (the command line does). It throws to refuse the file.
    nonisolated(unsafe) public static var screen: ((_ path: String, _ dataset: String?) throws -> Void)?

    /// Opens `url` and finds the images (and labels) to read.
    public init(url: URL, options: Options = Options()) throws {
        path = url.path
        let path = self.path
        try InputFile.check(path)
        try Self.screen?(path, options.dataset)
        (file, images, labels, imagesName, labelsName, count, channels, height, width, layout, storedType,
         storedRange, rowsPerChunk, choiceNote, isFloat) = try HDF5.call {
            guard H5Fis_hdf5(path) > 0 else {
                _ = HDF5.errorStack()
                throw DataError.notHDF5(path)
            }
            let file = HDF5Handle(try HDF5.check(H5Fopen(path, gen_H5F_ACC_RDONLY(), gen_H5P_DEFAULT()), path, "cannot open"), .file)
            let entries = try HDF5Dataset.listDatasets(file.id, path)
            let datasets = entries.filter { !$0.external }.map(\.name)

            // 1. the image dataset: named, or the one image-like dataset
            let imagesName: String
            var note: String?
            if let requested = options.dataset.map(HDF5Dataset.normalized) {
                if entries.contains(where: { $0.name == requested && $0.external }) { throw DataError.externalLink(path, name: requested) }
                guard datasets.contains(requested) else { throw DataError.missingDataset(path, name: requested, available: datasets) }
                imagesName = requested
            } else {
                let candidates = try datasets.filter { try HDF5Dataset.describe(file.id, $0, path).isImageLike }
                guard !candidates.isEmpty else { throw DataError.noImageDataset(path, available: datasets) }
                guard candidates.count == 1 else { throw DataError.ambiguousImageDataset(path, candidates: candidates) }
                imagesName = candidates[0]
                note = "using dataset '\(imagesName)' of \(path)"
            }
            let info = try HDF5Dataset.describe(file.id, imagesName, path)
            guard info.isImageType else { throw DataError.unsupportedType(path, name: imagesName, type: info.typeName) }
            guard info.shape.count == 3 || info.shape.count == 4 else { throw DataError.wrongRank(path, name: imagesName, shape: info.shape) }
            guard info.shape.allSatisfy({ $0 > 0 }) else { throw DataError.emptyDataset(path, name: imagesName) }

            // 2. the layout: given, from a `layout` attribute, or from the shape
            let access = HDF5Handle(try HDF5.check(HDF5Dataset.cachedAccess(chunkBytes: info.chunkBytes), path, "cannot create dataset access properties"), .propertyList)
            let images = HDF5Handle(try HDF5.check(H5Dopen2(file.id, imagesName, access.id), path, "cannot open '\(imagesName)'"), .dataset)
            let stated = options.layout ?? HDF5Dataset.stringAttribute(images.id, "layout").flatMap { ImageLayout(rawValue: $0.uppercased()) }
            let layout = try HDF5Dataset.layout(of: info.shape, stated: stated, file: path, name: imagesName)
            let (c, h, w): (Int, Int, Int)
            switch layout {
            case .nhw: (c, h, w) = (1, info.shape[1], info.shape[2])
            case .nchw: (c, h, w) = (info.shape[1], info.shape[2], info.shape[3])
            case .nhwc: (c, h, w) = (info.shape[3], info.shape[1], info.shape[2])
            }
            // A header may claim any size; refuse images larger than any model here could use
            // before HDF5 is asked to read (and allocate for) one.
            guard c <= 4096, h <= 16384, w <= 16384, c * h * w <= HDF5Dataset.maximumImageValues else {
                throw DataError.malformed(path, "dataset '\(imagesName)' holds \(c)×\(h)×\(w) images, more than the \(HDF5Dataset.maximumImageValues) values per image gen reads")
            }
            let isFloat = info.typeClass == H5T_FLOAT
            var range: ClosedRange<Float> = 0...255
            if isFloat {
                if let given = options.valueRange {
                    range = given
                } else if H5Aexists(images.id, "range") > 0 {
                    guard let attribute = HDF5Dataset.numericAttribute(images.id, "range"), attribute.count == 2,
                          attribute.allSatisfy({ $0.isFinite }), attribute[0] < attribute[1] else {
                        throw DataError.malformed(path, "dataset '\(imagesName)' has a 'range' attribute that is not two increasing numbers [low, high]")
                    }
                    range = Float(attribute[0])...Float(attribute[1])
                } else {
                    _ = HDF5.errorStack()
                    range = 0...1
                }
            }

            // 3. labels: named, or found beside the images
            var labels: HDF5Handle?
            var labelsName: String?
            if options.readLabels || options.requireLabels {
                let wanted = options.labels.map(HDF5Dataset.normalized)
                if let wanted, !datasets.contains(wanted) { throw DataError.missingDataset(path, name: wanted, available: datasets) }
                let group = imagesName.split(separator: "/").dropLast().joined(separator: "/")
                let guesses = ["labels", "label", "y", "targets"].flatMap { [group.isEmpty ? $0 : "\(group)/\($0)", $0] }
                // a guess that is not labels is passed over; a run that needs labels and finds none says why
                var rejected: DataError?
                for name in wanted.map({ [$0] }) ?? guesses where datasets.contains(name) {
                    let labelInfo = try HDF5Dataset.describe(file.id, name, path)
                    guard labelInfo.typeClass == H5T_INTEGER, labelInfo.shape.count == 1 else {
                        let problem = DataError.malformed(path, "labels '\(name)' hold \(labelInfo.typeName) of shape \(labelInfo.shape)\(labelInfo.typeClass == H5T_INTEGER ? "" : ", not integers"): labels must be a rank-1 integer dataset of class numbers")
                        if wanted != nil { throw problem }
                        rejected = rejected ?? problem
                        continue
                    }
                    guard labelInfo.shape[0] == info.shape[0] else {
                        throw DataError.labelsMismatch(path, name: name, count: labelInfo.shape[0], images: info.shape[0])
                    }
                    labels = HDF5Handle(try HDF5.check(H5Dopen2(file.id, name, gen_H5P_DEFAULT()), path, "cannot open '\(name)'"), .dataset)
                    labelsName = name
                    break
                }
                if labels == nil && options.requireLabels {
                    if let rejected { throw rejected }
                    throw DataError.malformed(path, "no labels beside the images (a rank-1 integer dataset named labels, label, y or targets; or give --labels NAME)")
                }
            }
            return (file, images, labels, imagesName, labelsName, info.shape[0], c, h, w, layout, info.typeName,
                    range, info.chunk?.first, note, isFloat)
        }
    }

    // MARK: Reading

    /// Images `range` as `[n, channels, height, width]` scaled to `pixelRange`.
    public func images(_ range: Range<Int>, scaledTo pixelRange: PixelRange) throws -> Tensor {
        try images(at: Array(range), scaledTo: pixelRange)
    }

    /// Images at `indices` (any order) as `[indices.count, channels, height, width]`.
    public func images(at indices: [Int], scaledTo pixelRange: PixelRange) throws -> Tensor {
        let rowSize = channels * height * width
        let (low, high) = pixelRange.bounds
        let scale = (high - low) / (storedRange.upperBound - storedRange.lowerBound)
        let shift = low - storedRange.lowerBound * scale
        let stored = Tensor(uninitializedShape: [indices.count, rowSize])
        // Float pixels must lie in their range (a little rounding aside): values of 0–255 or
        // below 0 stored as floats without a `range` attribute would train on garbage.
        let slack = (storedRange.upperBound - storedRange.lowerBound) * 1e-3
        let (lowest, highest) = (storedRange.lowerBound - slack, storedRange.upperBound + slack)
        var outside: (row: Int, value: Float)?
        try readRows(images, indices: indices, rowSize: rowSize, isFloat: isFloat) { row, source in
            let target = stored.pointer + row * rowSize
            switch source {
            case .bytes(let bytes): for i in 0..<rowSize { target[i] = Float(bytes[i]) * scale + shift }
            case .floats(let floats):
                for i in 0..<rowSize {
                    let value = floats[i]
                    if !(value >= lowest && value <= highest) && outside == nil { outside = (row, value) }
                    target[i] = value * scale + shift
                }
            }
        }
        if let outside {
            throw DataError.malformed(path, "image \(indices[outside.row]) of '\(imagesName)' holds \(outside.value), outside its range \(storedRange.lowerBound)…\(storedRange.upperBound) (float images are read as 0…1 unless a 'range' attribute says otherwise)")
        }
        let batch = stored.reshaped(layout == .nhwc ? [indices.count, height, width, channels] : [indices.count, channels, height, width])
        return layout == .nhwc ? batch.permuted([0, 3, 1, 2]) : batch
    }

    /// The labels at `indices`, or nil when the dataset has none.
    public func labels(at indices: [Int]) throws -> [Int]? {
        guard let labels else { return nil }
        var result = [Int](repeating: 0, count: indices.count)
        try readLabelRows(labels, indices: indices) { row, value in result[row] = value }
        return result
    }

    private enum Row { case bytes(UnsafePointer<UInt8>), floats(UnsafePointer<Float>) }

    /// Reads the rows at `indices` in runs of consecutive rows (one hyperslab each), handing
    /// each row to `body` with its position in `indices`.
    private func readRows(_ dataset: HDF5Handle, indices: [Int], rowSize: Int, isFloat: Bool, _ body: (Int, Row) -> Void) throws {
        let rank = layout == .nhw ? 3 : 4
        let rowDims: [hsize_t] = layout == .nhw ? [hsize_t(height), hsize_t(width)]
            : layout == .nchw ? [hsize_t(channels), hsize_t(height), hsize_t(width)] : [hsize_t(height), hsize_t(width), hsize_t(channels)]
        for (start, positions) in HDF5Dataset.runs(of: indices, count: count, file: path) {
            let n = positions.count
            let (total, overflow) = n.multipliedReportingOverflow(by: rowSize)
            guard !overflow else { throw DataError.malformed(path, "batch of \(n) images is too large") }
            try HDF5.call {
                let fileSpace = HDF5Handle(try HDF5.check(H5Dget_space(dataset.id), path, "cannot read dataspace"), .dataspace)
                var offset = [hsize_t(start)] + [hsize_t](repeating: 0, count: rank - 1)
                var extent = [hsize_t(n)] + rowDims
                try HDF5.check(H5Sselect_hyperslab(fileSpace.id, H5S_SELECT_SET, &offset, nil, &extent, nil), path, "cannot select rows \(start)..<\(start + n)")
                let memorySpace = HDF5Handle(try HDF5.check(H5Screate_simple(Int32(rank), &extent, nil), path, "cannot create dataspace"), .dataspace)
                if isFloat {
                    var buffer = [Float](repeating: 0, count: total)
                    try HDF5.check(H5Dread(dataset.id, gen_H5T_NATIVE_FLOAT(), memorySpace.id, fileSpace.id, gen_H5P_DEFAULT(), &buffer), path, "cannot read '\(imagesName)'")
                    buffer.withUnsafeBufferPointer { b in for (k, position) in positions.enumerated() { body(position, .floats(b.baseAddress! + k * rowSize)) } }
                } else {
                    var buffer = [UInt8](repeating: 0, count: total)
                    try HDF5.check(H5Dread(dataset.id, gen_H5T_NATIVE_UINT8(), memorySpace.id, fileSpace.id, gen_H5P_DEFAULT(), &buffer), path, "cannot read '\(imagesName)'")
                    buffer.withUnsafeBufferPointer { b in for (k, position) in positions.enumerated() { body(position, .bytes(b.baseAddress! + k * rowSize)) } }
                }
            }
        }
    }

    private func readLabelRows(_ dataset: HDF5Handle, indices: [Int], _ body: (Int, Int) -> Void) throws {
        for (start, positions) in HDF5Dataset.runs(of: indices, count: count, file: path) {
            try HDF5.call {
                let fileSpace = HDF5Handle(try HDF5.check(H5Dget_space(dataset.id), path, "cannot read dataspace"), .dataspace)
                var offset = [hsize_t(start)], extent = [hsize_t(positions.count)]
                try HDF5.check(H5Sselect_hyperslab(fileSpace.id, H5S_SELECT_SET, &offset, nil, &extent, nil), path, "cannot select labels")
                let memorySpace = HDF5Handle(try HDF5.check(H5Screate_simple(1, &extent, nil), path, "cannot create dataspace"), .dataspace)
                var buffer = [Int64](repeating: 0, count: positions.count)
                try HDF5.check(H5Dread(dataset.id, gen_H5T_NATIVE_INT64(), memorySpace.id, fileSpace.id, gen_H5P_DEFAULT(), &buffer), path, "cannot read labels '\(labelsName ?? "")'")
                for (k, position) in positions.enumerated() { body(position, Int(buffer[k])) }
            }
        }
    }

    /// Groups indices into runs of consecutive rows: (first row, positions in `indices`).
    private static func runs(of indices: [Int], count: Int, file: String) -> [(Int, [Int])] {
        let order = indices.indices.sorted { indices[$0] < indices[$1] }
        var result: [(Int, [Int])] = []
        for position in order {
            let row = indices[position]
            require(row >= 0 && row < count, "HDF5Dataset: image index \(row) outside 0..<\(count) of \(file)")
            if let last = result.last, last.0 + last.1.count == row {
                result[result.count - 1].1.append(position)
            } else {
                result.append((row, [position]))
            }
        }
        return result
    }
}
