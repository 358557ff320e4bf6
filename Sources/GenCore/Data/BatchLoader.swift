import Foundation

/// Where a loader is in its stream of batches: enough to continue exactly after a restart.
public struct LoaderPosition: Sendable, Codable, Equatable {
    /// Completed epochs.
    public var epoch: Int
    /// Batches already served in the current epoch.
    public var batch: Int

    public init(epoch: Int = 0, batch: Int = 0) {
        self.epoch = epoch
        self.batch = batch
    }
}

/// One mini-batch: images `[batch, channels, height, width]` and their labels, if any.
public struct Batch {
    public var images: Tensor
    public var labels: [Int]?
    /// The rows of the dataset the batch holds.
    public var indices: [Int]

    /// A batch of images that come from elsewhere (tests, in-memory data): no dataset rows.
    public init(images: Tensor, labels: [Int]? = nil, indices: [Int] = []) {
        self.images = images
        self.labels = labels
        self.indices = indices
    }
}

/// Serves seeded, shuffled mini-batches of an ``HDF5Dataset``, epoch after epoch.
///
/// The order of epoch `e` depends only on the seed and `e`: consecutive rows are grouped in
/// blocks (one HDF5 chunk each when the data is chunked), the blocks are shuffled, and images are
/// shuffled within windows of several blocks. Each batch thus touches a few chunks, each chunk
/// is decompressed about once per window, and memory stays bounded by the batch and HDF5's
/// chunk cache, never by the file. ``position`` saved in a checkpoint resumes the exact stream.
public final class BatchLoader {
    public let dataset: HDF5Dataset
    /// The rows served (all rows, or one side of a train/test split), sorted.
    public let rows: [Int]
    public let batchSize: Int
    public let shuffle: Bool
    public let seed: UInt64
    public let pixelRange: PixelRange
    public let dropLast: Bool
    /// Where the next batch comes from.
    public var position: LoaderPosition {
        didSet { order = nil }
    }

    private let blockSize: Int
    private let windowBlocks: Int
    private var order: [Int]?

    public init(
        dataset: HDF5Dataset, rows: [Int]? = nil, batchSize: Int, shuffle: Bool = true, seed: UInt64 = 0,
        pixelRange: PixelRange, dropLast: Bool = true, windowBlocks: Int = 16
    ) {
        let rows = rows?.sorted() ?? Array(0..<dataset.count)
        require(batchSize >= 1, "BatchLoader: batch size must be at least 1")
        require(!rows.isEmpty && (!dropLast || rows.count >= batchSize),
                "BatchLoader: \(rows.count) images cannot fill a batch of \(batchSize)")
        self.dataset = dataset
        self.rows = rows
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.seed = seed
        self.pixelRange = pixelRange
        self.dropLast = dropLast
        self.windowBlocks = max(1, windowBlocks)
        blockSize = max(1, dataset.rowsPerChunk ?? 64)
        position = LoaderPosition()
    }

    /// Batches in one epoch.
    public var batchesPerEpoch: Int { dropLast ? rows.count / batchSize : (rows.count + batchSize - 1) / batchSize }

    /// The next batch, moving to the next epoch when this one is done.
    public func next() throws -> Batch {
        try batch(at: nextIndices())
    }

    /// The rows of the next batch, moving on as ``next()`` does without reading them (ranks of
    /// a data-parallel run each read their share with ``batch(at:)``).
    public func nextIndices() -> [Int] {
        if position.batch >= batchesPerEpoch { position = LoaderPosition(epoch: position.epoch + 1, batch: 0) }
        let order = self.order ?? epochOrder(position.epoch)
        let start = position.batch * batchSize
        let indices = Array(order[start..<min(start + batchSize, order.count)])
        position = LoaderPosition(epoch: position.epoch, batch: position.batch + 1)
        self.order = order
        return indices
    }

    /// The images (and labels) of `indices`, in the loader's pixel range.
    public func batch(at indices: [Int]) throws -> Batch {
        Batch(images: try dataset.images(at: indices, scaledTo: pixelRange), labels: try dataset.labels(at: indices), indices: indices)
    }

    /// The order of rows in epoch `epoch`.
    public func epochOrder(_ epoch: Int) -> [Int] {
        guard shuffle else { return rows }
        let generator = RandomGenerator(seed: seed &+ UInt64(epoch) &* 0x9E37_79B9, stream: .dataOrder)
        let blocks = stride(from: 0, to: rows.count, by: blockSize).map { Array(rows[$0..<min($0 + blockSize, rows.count)]) }
        let shuffledBlocks = generator.permutation(blocks.count).map { blocks[$0] }
        var order: [Int] = []
        order.reserveCapacity(rows.count)
        for first in stride(from: 0, to: shuffledBlocks.count, by: windowBlocks) {
            let window = shuffledBlocks[first..<min(first + windowBlocks, shuffledBlocks.count)].flatMap { $0 }
            order += generator.permutation(window.count).map { window[$0] }
        }
        return order
    }

    /// A seeded split of `count` rows into a training and a held-out test part.
    public static func split(count: Int, testFraction: Double, seed: UInt64) -> (train: [Int], test: [Int]) {
        require(testFraction >= 0 && testFraction < 1, "BatchLoader.split: test fraction \(testFraction) must be in [0, 1)")
        let permutation = RandomGenerator(seed: seed, stream: .init(rawValue: 0x5eed)).permutation(count)
        let testCount = Int((Double(count) * testFraction).rounded())
        return (permutation[testCount...].sorted(), permutation[..<testCount].sorted())
    }
}

/// What reading a dataset through once, as training does, took: ``HDF5Dataset/scan(batchSize:)``.
public struct DatasetScan: Sendable {
    public var images: Int
    public var batches: Int
    public var batchSize: Int
    public var seconds: Double
    /// The mean pixel in [−1, 1].
    public var meanPixel: Double
}

extension HDF5Dataset {
    /// Reads every image once in shuffled mini-batches of `batchSize` (fewer for a small file),
    /// as training does, and says how long it took (`gen data scan`).
    public func scan(batchSize: Int) throws -> DatasetScan {
        require(batchSize >= 1, "scan: the batch size must be at least 1")
        let loader = BatchLoader(dataset: self, batchSize: Swift.min(batchSize, count), pixelRange: .symmetric, dropLast: false)
        let start = Date()
        var images = 0, total = 0.0
        for _ in 0..<loader.batchesPerEpoch {
            let batch = try loader.next()
            images += batch.images.shape[0]
            total += Double(batch.images.sum().item)
        }
        return DatasetScan(images: images, batches: loader.batchesPerEpoch, batchSize: loader.batchSize,
                           seconds: Date().timeIntervalSince(start), meanPixel: total / Double(images * channels * height * width))
    }

    /// The images' size in bytes, uncompressed, as stored.
    public var uncompressedBytes: Int {
        count * channels * height * width * (storedType == "uint8" ? 1 : storedType == "float32" ? 4 : 8)
    }
}

extension HDF5Dataset {
    /// Images to look at, in [−1, 1], and the columns of their grid (`gen data show`): the
    /// first `count` images, or with `byClass` one row per class of the labels, each with the
    /// class's first images (about `count` in all; a row short of images is filled with black).
    public func showcase(count: Int, byClass: Bool) throws -> (images: Tensor, columns: Int) {
        require(count >= 1, "showcase: count must be at least 1")
        guard byClass else {
            let shown = min(count, self.count)
            return (try images(at: Array(0..<shown), scaledTo: .symmetric), Int(Double(shown).squareRoot().rounded(.up)))
        }
        guard let labels = try labels(at: Array(0..<self.count)) else {
            throw DataError.malformed(path, "has no labels beside its images to sort them by class")
        }
        let classes = Array(Set(labels)).sorted()
        let columns = max(1, count / classes.count)
        var rows: [Int?] = []
        for label in classes {
            let members = labels.indices.filter { labels[$0] == label }.prefix(columns)
            rows += members.map { Optional($0) } + Array(repeating: nil, count: columns - members.count)
        }
        let found = try images(at: rows.compactMap { $0 }, scaledTo: .symmetric)
        let blank = Tensor.full([1] + imageShape, -1)
        var next = 0
        let parts = rows.map { row -> Tensor in
            guard row != nil else { return blank }
            defer { next += 1 }
            return found.slice(axis: 0, start: next, count: 1)
        }
        return (Tensor.concatenate(parts, axis: 0), columns)
    }
}
