import CHDF5
import Foundation

/// One dataset of an HDF5 file as `gen data info` shows it.
public struct HDF5DatasetInfo: Sendable {
    public var name: String
    public var shape: [Int]
    public var typeName: String
    /// Chunk dimensions, nil when stored contiguously.
    public var chunk: [Int]?
    /// Filters, e.g. `["gzip(4)"]`.
    public var filters: [String]
    /// The smallest and largest value, for numeric datasets.
    public var valueRange: ClosedRange<Double>?

    var typeClass: H5T_class_t
    var typeSize: Int
    var isSigned: Bool

    /// uint8, float32 or float64: the element types gen reads as images.
    var isImageType: Bool { (typeClass == H5T_INTEGER && typeSize == 1 && !isSigned) || (typeClass == H5T_FLOAT && (typeSize == 4 || typeSize == 8)) }
    var isImageLike: Bool { isImageType && (shape.count == 3 || shape.count == 4) && shape.dropFirst().allSatisfy { $0 >= 1 } }

    /// Bytes of one chunk, uncompressed (0 when stored contiguously).
    public var chunkBytes: Int {
        guard let chunk else { return 0 }
        return chunk.reduce(typeSize) { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max / 2 : $0 * $1 }
    }

    /// A note when the layout will read slowly: chunks of more than 64 MiB are decompressed
    /// whole for any row read from them.
    public var layoutWarning: String? {
        guard chunkBytes > 64 << 20, let rows = chunk?.first else { return nil }
        return "one chunk holds \(rows) rows (\(chunkBytes >> 20) MiB uncompressed) and is decompressed whole for every read; repack with smaller chunks, e.g. h5repack -l \(name):CHUNK=64x\(shape.dropFirst().map(String.init).joined(separator: "x"))"
    }
}

extension HDF5Dataset {
    /// Every dataset of the file with its shape, type, chunking, compression and value range.
    /// The range is computed by reading each dataset through once in bounded slices.
    /// ``inventory(of:)`` as text: the file's name, then one line per dataset (name, shape,
    /// type, chunking, compression, value range), as `gen data info` prints it.
    public static func inventoryListing(of url: URL) throws -> String {
        func format(_ value: Double) -> String {
            value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(format: "%.4g", value)
        }
        var lines = [url.path]
        for info in try inventory(of: url) {
            let shape = info.shape.map(String.init).joined(separator: "×")
            let chunk = info.chunk.map { "chunks " + $0.map(String.init).joined(separator: "×") } ?? "contiguous"
            let filters = info.filters.isEmpty ? "uncompressed" : info.filters.joined(separator: "+")
            let range = info.valueRange.map { "values \(format($0.lowerBound))…\(format($0.upperBound))" } ?? ""
            lines.append("  \(info.name)  \(shape.isEmpty ? "scalar" : shape)  \(info.typeName)  \(chunk)  \(filters)  \(range)")
            if let warning = info.layoutWarning { lines.append("    slow: \(warning)") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    public static func inventory(of url: URL) throws -> [HDF5DatasetInfo] {
        let path = url.path
        try InputFile.check(path)
        return try HDF5.call {
            guard H5Fis_hdf5(path) > 0 else {
                _ = HDF5.errorStack()
                throw DataError.notHDF5(path)
            }
            let file = HDF5Handle(try HDF5.check(H5Fopen(path, gen_H5F_ACC_RDONLY(), gen_H5P_DEFAULT()), path, "cannot open"), .file)
            return try listDatasets(file.id, path).filter { !$0.external }.map { entry in
                var info = try describe(file.id, entry.name, path)
                if (info.typeClass == H5T_INTEGER || info.typeClass == H5T_FLOAT) && info.typeSize <= 8 {
                    info.valueRange = try valueRange(file.id, info, path)
                }
                return info
            }
        }
    }

    static func normalized(_ name: String) -> String {
        name.split(separator: "/").joined(separator: "/")
    }

    /// Dataset paths reachable by hard links, and the names of external links (not followed).
    ///
    /// The walk is gen's own, one group at a time, at most 16 groups deep and 100,000 links in
    /// all: HDF5's recursive `H5Lvisit` follows a group that links to itself until the stack
    /// overflows (found by fuzzing a crafted file).
    static func listDatasets(_ file: hid_t, _ path: String) throws -> [(name: String, external: Bool)] {
        final class Found { var links: [(String, Bool)] = [] }
        let access = HDF5Handle(try HDF5.linkAccessRefusingExternalLinks(path), .propertyList)
        var result: [(name: String, external: Bool)] = []
        var pending: [(group: String, depth: Int)] = [("/", 0)]
        var visited = Set<haddr_t>()
        var seenLinks = 0
        while let (group, depth) = pending.popLast() {
            let groupID = H5Oopen(file, group, access.id)
            guard groupID >= 0 else { _ = HDF5.errorStack(); continue }
            defer { H5Oclose(groupID) }
            let found = Found()
            let context = Unmanaged.passUnretained(found).toOpaque()
            var index: hsize_t = 0
            let status = H5Literate(groupID, H5_INDEX_NAME, H5_ITER_INC, &index, { _, name, info, context in
                guard let name, let info, let context else { return 0 }
                let found = Unmanaged<Found>.fromOpaque(context).takeUnretainedValue()
                if info.pointee.type == H5L_TYPE_HARD || info.pointee.type == H5L_TYPE_EXTERNAL {
                    found.links.append((String(cString: name), info.pointee.type == H5L_TYPE_EXTERNAL))
                }
                return found.links.count > 100_000 ? 1 : 0
            }, context)
            if status < 0 { throw DataError.hdf5(path, "cannot list group '\(group)': \(HDF5.errorStack())") }
            for (name, external) in found.links {
                seenLinks += 1
                guard seenLinks <= 100_000 else { throw DataError.malformed(path, "holds more than 100,000 links") }
                let full = group == "/" ? name : "\(group)/\(name)"
                if external { result.append((full, true)); continue }
                let object = H5Oopen(file, full, access.id)
                guard object >= 0 else { _ = HDF5.errorStack(); continue }
                defer { H5Oclose(object) }
                switch H5Iget_type(object) {
                case H5I_DATASET:
                    result.append((full, false))
                case H5I_GROUP where depth < 16:
                    var info = H5O_info_t()
                    if H5Oget_info2(object, &info, UInt32(H5O_INFO_BASIC)) >= 0, visited.insert(info.addr).inserted {
                        pending.append((full, depth + 1))
                    } else {
                        _ = HDF5.errorStack()
                    }
                default:
                    break
                }
            }
        }
        return result.sorted { $0.name < $1.name }
    }

    /// Shape, element type, chunking and filters of one dataset.
    static func describe(_ file: hid_t, _ name: String, _ path: String) throws -> HDF5DatasetInfo {
        let access = HDF5Handle(try HDF5.check(cachedAccess(), path, "cannot create dataset access properties"), .propertyList)
        let dataset = HDF5Handle(try HDF5.check(H5Dopen2(file, name, access.id), path, "cannot open '\(name)'"), .dataset)
        let space = HDF5Handle(try HDF5.check(H5Dget_space(dataset.id), path, "cannot read the dataspace of '\(name)'"), .dataspace)
        let rank = H5Sget_simple_extent_ndims(space.id)
        guard rank >= 0, rank <= 32 else { throw DataError.hdf5(path, "dataset '\(name)' has an invalid rank \(rank)") }
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        try HDF5.check(H5Sget_simple_extent_dims(space.id, &dims, nil), path, "cannot read the dimensions of '\(name)'")
        guard dims.allSatisfy({ $0 <= hsize_t(Int32.max) }) else { throw DataError.malformed(path, "dataset '\(name)' has an implausibly large dimension") }
        let type = HDF5Handle(try HDF5.check(H5Dget_type(dataset.id), path, "cannot read the type of '\(name)'"), .datatype)
        let typeClass = H5Tget_class(type.id)
        let size = H5Tget_size(type.id)
        let signed = typeClass == H5T_INTEGER && H5Tget_sign(type.id) == H5T_SGN_2
        let typeName: String
        switch typeClass {
        case H5T_INTEGER: typeName = "\(signed ? "int" : "uint")\(size * 8)"
        case H5T_FLOAT: typeName = "float\(size * 8)"
        case H5T_STRING: typeName = "strings"
        case H5T_COMPOUND: typeName = "compound records"
        default: typeName = "an unsupported element type"
        }
        let creation = HDF5Handle(try HDF5.check(H5Dget_create_plist(dataset.id), path, "cannot read the properties of '\(name)'"), .propertyList)
        var chunk: [Int]?
        if H5Pget_layout(creation.id) == H5D_CHUNKED {
            var chunkDims = [hsize_t](repeating: 0, count: Int(rank))
            if H5Pget_chunk(creation.id, rank, &chunkDims) == rank { chunk = chunkDims.map { Int($0) } }
        }
        var filters: [String] = []
        let filterCount = H5Pget_nfilters(creation.id)
        for index in 0..<max(0, filterCount) {
            var flags: UInt32 = 0, valueCount = 4, configuration: UInt32 = 0
            var values = [UInt32](repeating: 0, count: 4)
            var label = [CChar](repeating: 0, count: 64)
            let filter = H5Pget_filter2(creation.id, UInt32(index), &flags, &valueCount, &values, 64, &label, &configuration)
            switch filter {
            case H5Z_FILTER_DEFLATE: filters.append("gzip(\(valueCount > 0 ? values[0] : 0))")
            case H5Z_FILTER_SHUFFLE: filters.append("shuffle")
            case H5Z_FILTER_FLETCHER32: filters.append("fletcher32")
            case H5Z_FILTER_SZIP: filters.append("szip")
            default: filters.append("filter \(filter)")
            }
        }
        return HDF5DatasetInfo(name: name, shape: dims.map { Int($0) }, typeName: typeName, chunk: chunk, filters: filters,
                               valueRange: nil, typeClass: typeClass, typeSize: size, isSigned: signed)
    }

    /// The layout of an image dataset of `shape`.
    static func layout(of shape: [Int], stated: ImageLayout?, file: String, name: String) throws -> ImageLayout {
        if shape.count == 3 {
            guard stated == nil || stated == .nhw else { throw DataError.wrongRank(file, name: name, shape: shape) }
            return .nhw
        }
        if let stated {
            guard stated != .nhw else { throw DataError.wrongRank(file, name: name, shape: shape) }
            return stated
        }
        // Channels are few (1–4) and fewer than a spatial size: [N, 1, 4, 4] is NCHW, [N, 4, 5, 3] NHWC.
        let channelLike = 1...4
        switch (channelLike.contains(shape[1]), channelLike.contains(shape[3])) {
        case (true, false): return .nchw
        case (false, true): return .nhwc
        case (true, true) where shape[1] < shape[3]: return .nchw
        case (true, true) where shape[3] < shape[1]: return .nhwc
        default: throw DataError.ambiguousLayout(file, name: name, shape: shape)
        }
    }

    /// Dataset access with a bounded chunk cache (4 MiB) so reading nearby rows in several
    /// calls decompresses each chunk once.
    /// Dataset access that follows no external links, with a chunk cache that holds at least
    /// one whole chunk of `chunkBytes` (up to 1 GiB): a smaller cache would decompress a large
    /// chunk again for every batch read from it.
    static func cachedAccess(chunkBytes: Int = 0) -> hid_t {
        let access = H5Pcreate(gen_H5P_DATASET_ACCESS())
        if access >= 0 {
            H5Pset_chunk_cache(access, 1021, max(4 << 20, min(chunkBytes + (1 << 20), 1 << 30)), 1)
            H5Pset_elink_cb(access, { _, _, _, _, _, _, _ in -1 }, nil)
        }
        return access
    }

    /// A numeric attribute as doubles, or nil.
    static func numericAttribute(_ object: hid_t, _ name: String) -> [Double]? {
        guard H5Aexists(object, name) > 0 else { _ = HDF5.errorStack(); return nil }
        let attribute = H5Aopen(object, name, gen_H5P_DEFAULT())
        guard attribute >= 0 else { _ = HDF5.errorStack(); return nil }
        defer { H5Aclose(attribute) }
        let space = H5Aget_space(attribute)
        defer { H5Sclose(space) }
        let count = H5Sget_simple_extent_npoints(space)
        guard count > 0, count <= 16 else { return nil }
        let type = H5Aget_type(attribute)
        defer { H5Tclose(type) }
        guard [H5T_INTEGER, H5T_FLOAT].contains(H5Tget_class(type)) else { return nil }
        var values = [Double](repeating: 0, count: Int(count))
        guard H5Aread(attribute, gen_H5T_NATIVE_DOUBLE(), &values) >= 0 else { _ = HDF5.errorStack(); return nil }
        return values
    }

    /// A scalar string attribute (fixed or variable length), or nil.
    static func stringAttribute(_ object: hid_t, _ name: String) -> String? {
        guard H5Aexists(object, name) > 0 else { _ = HDF5.errorStack(); return nil }
        let attribute = H5Aopen(object, name, gen_H5P_DEFAULT())
        guard attribute >= 0 else { _ = HDF5.errorStack(); return nil }
        defer { H5Aclose(attribute) }
        let type = H5Aget_type(attribute)
        defer { H5Tclose(type) }
        guard H5Tget_class(type) == H5T_STRING else { return nil }
        let space = H5Aget_space(attribute)
        defer { H5Sclose(space) }
        guard H5Sget_simple_extent_npoints(space) == 1 else { return nil }
        if H5Tis_variable_str(type) > 0 {
            let memoryType = H5Tcopy(gen_H5T_C_S1())
            defer { H5Tclose(memoryType) }
            H5Tset_size(memoryType, gen_H5T_VARIABLE())
            H5Tset_cset(memoryType, H5Tget_cset(type))
            var pointer: UnsafeMutablePointer<CChar>?
            guard H5Aread(attribute, memoryType, &pointer) >= 0, let pointer else { _ = HDF5.errorStack(); return nil }
            defer { H5free_memory(pointer) }
            return String(cString: pointer)
        }
        let size = H5Tget_size(type)
        guard size > 0, size <= 256 else { return nil }
        var bytes = [CChar](repeating: 0, count: size + 1)
        guard H5Aread(attribute, type, &bytes) >= 0 else { _ = HDF5.errorStack(); return nil }
        return String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self).trimmingCharacters(in: .whitespaces)
    }

    /// The minimum and maximum of a numeric dataset, read in slices of the first axis.
    private static func valueRange(_ file: hid_t, _ info: HDF5DatasetInfo, _ path: String) throws -> ClosedRange<Double>? {
        guard let first = info.shape.first, first > 0, !info.shape.contains(0) else { return nil }
        // Headers may claim huge datasets: scan at most 2³⁰ values, in slices of at most 4 MiB.
        let (total, overflow) = info.shape.reduce((1, false)) { partial, size in
            let (product, flag) = partial.0.multipliedReportingOverflow(by: size)
            return (product, partial.1 || flag)
        }
        guard !overflow, total <= 1 << 30, info.shape.dropFirst().reduce(1, *) <= 1 << 19 else { return nil }
        let access = HDF5Handle(try HDF5.check(cachedAccess(chunkBytes: info.chunkBytes), path, "cannot create dataset access properties"), .propertyList)
        let dataset = HDF5Handle(try HDF5.check(H5Dopen2(file, info.name, access.id), path, "cannot open '\(info.name)'"), .dataset)
        let rowSize = info.shape.dropFirst().reduce(1, *)
        let rowsPerSlice = max(1, (4 << 20) / max(rowSize, 1))
        var low = Double.infinity, high = -Double.infinity
        var start = 0
        while start < first {
            let n = min(rowsPerSlice, first - start)
            let fileSpace = HDF5Handle(try HDF5.check(H5Dget_space(dataset.id), path, "cannot read dataspace"), .dataspace)
            var offset = [hsize_t(start)] + [hsize_t](repeating: 0, count: info.shape.count - 1)
            var extent = [hsize_t(n)] + info.shape.dropFirst().map { hsize_t($0) }
            try HDF5.check(H5Sselect_hyperslab(fileSpace.id, H5S_SELECT_SET, &offset, nil, &extent, nil), path, "cannot select rows")
            let memorySpace = HDF5Handle(try HDF5.check(H5Screate_simple(Int32(extent.count), &extent, nil), path, "cannot create dataspace"), .dataspace)
            var buffer = [Double](repeating: 0, count: n * rowSize)
            try HDF5.check(H5Dread(dataset.id, gen_H5T_NATIVE_DOUBLE(), memorySpace.id, fileSpace.id, gen_H5P_DEFAULT(), &buffer), path, "cannot read '\(info.name)'")
            for value in buffer where !value.isNaN {
                low = min(low, value)
                high = max(high, value)
            }
            start += n
        }
        // every value NaN: there is no range to show
        return low <= high ? low...high : nil
    }
}
