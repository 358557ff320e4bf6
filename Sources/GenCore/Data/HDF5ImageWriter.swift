import CHDF5
import Foundation

/// Writes an image dataset the way gen reads it best: `images` (uint8, NHW for gray, NCHW for
/// colour) chunked by `rowsPerChunk` images and gzip-compressed, and `labels` (int64) when
/// given. Images are appended in pieces, so memory is bounded by the piece. The file appears
/// at its path only when ``finish()`` succeeds (written beside it, then renamed).
public final class HDF5ImageWriter {
    public let url: URL
    public let channels: Int, height: Int, width: Int
    public let withLabels: Bool
    public private(set) var count = 0

    private let temporaryPath: String
    /// Whether the file reached its path; until then the temporary file goes when the writer does.
    private var finished = false
    private var file: HDF5Handle?
    private var images: HDF5Handle?
    private var labels: HDF5Handle?

    /// Starts a new file; fails if `url` exists and `overwrite` is false.
    public init(url: URL, channels: Int, height: Int, width: Int, withLabels: Bool, rowsPerChunk: Int = 64,
                compression: Int = 4, overwrite: Bool = false) throws {
        require(channels >= 1 && height >= 1 && width >= 1, "HDF5ImageWriter: image size \(channels)×\(height)×\(width)")
        self.url = url
        self.channels = channels
        self.height = height
        self.width = width
        self.withLabels = withLabels
        try OutputFile.check(url.path, overwrite: overwrite)
        temporaryPath = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())").path
        let path = url.path, temporary = temporaryPath
        var created = false
        defer { if !created { unlink(temporary) } }
        let rank = channels == 1 ? 3 : 4
        let rowDims: [hsize_t] = channels == 1 ? [hsize_t(height), hsize_t(width)] : [hsize_t(channels), hsize_t(height), hsize_t(width)]
        (file, images, labels) = try HDF5.call {
            let file = HDF5Handle(try HDF5.check(H5Fcreate(temporary, gen_H5F_ACC_TRUNC(), gen_H5P_DEFAULT(), gen_H5P_DEFAULT()), path, "cannot create"), .file)
            func create(_ name: String, rank: Int, rowDims: [hsize_t], chunkRows: Int, type: hid_t) throws -> HDF5Handle {
                var dims = [hsize_t(0)] + rowDims
                var maximum = [gen_H5S_UNLIMITED()] + rowDims
                let space = HDF5Handle(try HDF5.check(H5Screate_simple(Int32(rank), &dims, &maximum), path, "cannot create dataspace"), .dataspace)
                let properties = HDF5Handle(try HDF5.check(H5Pcreate(gen_H5P_DATASET_CREATE()), path, "cannot create properties"), .propertyList)
                var chunk = [hsize_t(chunkRows)] + rowDims
                try HDF5.check(H5Pset_chunk(properties.id, Int32(rank), &chunk), path, "cannot set chunking")
                try HDF5.check(H5Pset_deflate(properties.id, UInt32(compression)), path, "cannot set compression")
                return HDF5Handle(try HDF5.check(H5Dcreate2(file.id, name, type, space.id, gen_H5P_DEFAULT(), properties.id, gen_H5P_DEFAULT()), path, "cannot create '\(name)'"), .dataset)
            }
            let images = try create("images", rank: rank, rowDims: rowDims, chunkRows: max(1, rowsPerChunk), type: gen_H5T_NATIVE_UINT8())
            let labels = withLabels ? try create("labels", rank: 1, rowDims: [], chunkRows: 4096, type: gen_H5T_NATIVE_INT64()) : nil
            return (file, images, labels)
        }
        created = true
    }

    deinit {
        guard !finished else { return }
        images = nil
        labels = nil
        file = nil
        unlink(temporaryPath)
    }

    /// Appends `pixels` (row-major `[n, channels, height, width]` bytes) and their labels.
    public func append(pixels: [UInt8], labels newLabels: [Int]?) throws {
        let rowSize = channels * height * width
        require(pixels.count % rowSize == 0, "HDF5ImageWriter.append: \(pixels.count) bytes are not whole images of \(rowSize)")
        let n = pixels.count / rowSize
        require((newLabels == nil) == !withLabels && (newLabels?.count ?? n) == n,
                "HDF5ImageWriter.append: labels must be given exactly when the file has them, one per image")
        guard n > 0, let images else { return }
        let path = url.path, start = count
        try HDF5.call {
            func write(_ dataset: HDF5Handle, rowDims: [hsize_t], type: hid_t, _ buffer: UnsafeRawPointer) throws {
                var extent = [hsize_t(start + n)] + rowDims
                try HDF5.check(H5Dset_extent(dataset.id, &extent), path, "cannot extend dataset")
                let fileSpace = HDF5Handle(try HDF5.check(H5Dget_space(dataset.id), path, "cannot read dataspace"), .dataspace)
                var offset = [hsize_t(start)] + rowDims.map { _ in 0 }
                var size = [hsize_t(n)] + rowDims
                try HDF5.check(H5Sselect_hyperslab(fileSpace.id, H5S_SELECT_SET, &offset, nil, &size, nil), path, "cannot select rows")
                let memorySpace = HDF5Handle(try HDF5.check(H5Screate_simple(Int32(size.count), &size, nil), path, "cannot create dataspace"), .dataspace)
                try HDF5.checkWrite(H5Dwrite(dataset.id, type, memorySpace.id, fileSpace.id, gen_H5P_DEFAULT(), buffer), path, "cannot write images")
            }
            let rowDims: [hsize_t] = channels == 1 ? [hsize_t(height), hsize_t(width)] : [hsize_t(channels), hsize_t(height), hsize_t(width)]
            try pixels.withUnsafeBytes { try write(images, rowDims: rowDims, type: gen_H5T_NATIVE_UINT8(), $0.baseAddress!) }
            if let labels, let newLabels {
                let values = newLabels.map { Int64($0) }
                try values.withUnsafeBytes { try write(labels, rowDims: [], type: gen_H5T_NATIVE_INT64(), $0.baseAddress!) }
            }
        }
        count += n
    }

    /// Closes the file, checking that every byte reached the disk (closing a dataset writes its
    /// cached chunks, so a full disk shows here), and moves it to its path. On failure nothing
    /// is left behind and the path keeps what it had.
    public func finish() throws {
        guard let file else { return }
        let path = url.path
        guard count > 0 else { throw DataError.malformed(path, "no images to write") }
        defer {
            self.images = nil
            self.labels = nil
            self.file = nil
        }
        try HDF5.call {
            if let images { try HDF5.checkWrite(images.close(), path, "cannot write images") }
            if let labels { try HDF5.checkWrite(labels.close(), path, "cannot write labels") }
            try HDF5.checkWrite(H5Fflush(file.id, H5F_SCOPE_GLOBAL), path, "cannot flush")
            try HDF5.checkWrite(file.close(), path, "cannot close")
        }
        let descriptor = open(temporaryPath, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0, fsync(descriptor) == 0 else {
            let reason = String(cString: strerror(errno))
            if descriptor >= 0 { close(descriptor) }
            throw AtomicFileError(path: path, reason: reason)
        }
        close(descriptor)
        guard rename(temporaryPath, path) == 0 else {
            throw AtomicFileError(path: path, reason: "cannot move the finished file into place: \(String(cString: strerror(errno)))")
        }
        finished = true
        AtomicFile.syncFolder(of: url)
    }

    /// Writes `images` (`[N, C, H, W]` in [−1, 1]) as 8-bit `images` of a new file at `url`.
    public static func write(_ images: Tensor, to url: URL, overwrite: Bool = true) throws {
        require(images.rank == 4, "HDF5ImageWriter.write: images must be [N, C, H, W], got \(images.shape)")
        let writer = try HDF5ImageWriter(url: url, channels: images.shape[1], height: images.shape[2], width: images.shape[3],
                                         withLabels: false, overwrite: overwrite)
        try writer.append(pixels: images.scalars.map { ImageGrid.quantize($0, low: -1, high: 1) }, labels: nil)
        try writer.finish()
    }
}
