import Foundation

/// A 64-bit FNV-1a hash of bytes, as 16 hex digits: enough to key caches by content.
public enum ContentHash {
    /// The hash of `bytes`, continuing from `hash` (the FNV offset basis to start).
    public static func of(_ bytes: UnsafeRawBufferPointer, continuing hash: UInt64 = 0xcbf2_9ce4_8422_2325) -> UInt64 {
        var h = hash
        for byte in bytes {
            h ^= UInt64(byte)
            h = h &* 0x0000_0100_0000_01b3
        }
        return h
    }

    /// The hash of a string's UTF-8 bytes as 16 hex digits.
    public static func of(_ text: String) -> String {
        var bytes = Array(text.utf8)
        return hex(bytes.withUnsafeMutableBytes { of(UnsafeRawBufferPointer($0)) })
    }

    /// The hash of a file's whole content, read in 4 MiB pieces.
    public static func of(file url: URL) throws -> String {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        while let piece = try handle.read(upToCount: 4 << 20), !piece.isEmpty {
            hash = piece.withUnsafeBytes { of($0, continuing: hash) }
        }
        return hex(hash)
    }

    static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

/// Features of a dataset's images computed once and kept beside the dataset, in
/// `<file>.features-<key>.safetensors`, the key naming the dataset's and the classifier's
/// content and the images chosen. A cache that cannot be read or written is recomputed,
/// never an error: it is only a cache.
public enum FeatureCache {
    /// The cache file beside `data` for these inputs.
    public static func url(beside data: URL, dataHash: String, classifierHash: String, selection: String) -> URL {
        let key = ContentHash.of("\(dataHash)|\(classifierHash)|\(selection)")
        return data.deletingLastPathComponent().appendingPathComponent("\(data.lastPathComponent).features-\(key).safetensors")
    }

    /// The cached features `[n, d]`, if the file exists, is valid and holds `count` rows.
    public static func load(_ url: URL, count: Int) -> Tensor? {
        guard FileManager.default.fileExists(atPath: url.path),
              let contents = try? SafeTensors.read(url), let features = contents.tensors["features"],
              features.rank == 2, features.shape[0] == count, features.scalars.allSatisfy(\.isFinite) else { return nil }
        return features
    }

    /// Writes the features atomically; returns whether it could.
    @discardableResult
    public static func store(_ features: Tensor, to url: URL, metadata: [String: String]) -> Bool {
        (try? SafeTensors.write(.init(tensors: ["features": features], metadata: metadata), to: url)) != nil
    }
}
