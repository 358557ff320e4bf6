import Foundation

/// Reads and writes the safetensors format (huggingface/safetensors): an 8-byte little-endian
/// header length, a JSON header mapping names to `dtype`, `shape` and `data_offsets`, an
/// optional `__metadata__` string map, then the raw little-endian tensor bytes.
///
/// Reading follows the reference implementation's validation (`safetensors/src/tensor.rs`):
/// the header length is checked before anything is allocated, the header must be strict JSON
/// of the expected schema, and the tensors' byte ranges must tile the data area exactly.
public enum SafeTensors {
    /// The largest header accepted, as in the reference implementation.
    public static let maximumHeaderLength = 100_000_000

    /// A file's tensors (as Float32) and its metadata.
    public struct Contents {
        public var tensors: [String: Tensor]
        public var metadata: [String: String]

        public init(tensors: [String: Tensor], metadata: [String: String] = [:]) {
            self.tensors = tensors
            self.metadata = metadata
        }
    }

    /// Element types of the format and their sizes in bytes.
    static let elementSizes: [String: Int] = [
        "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "U16": 2, "I16": 2, "F16": 2, "BF16": 2,
        "U32": 4, "I32": 4, "F32": 4, "U64": 8, "I64": 8, "F64": 8,
    ]

    /// Reads a safetensors file. F32, F64, F16 and BF16 tensors become Float32.
    public static func read(_ url: URL) throws -> Contents {
        let data: Data
        try InputFile.check(url.path)
        do { data = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
            throw SafeTensorsError.unreadable(url.path, error.localizedDescription)
        }
        return try decode(data, name: url.path)
    }

    /// A file's `__metadata__` alone, read from its header without touching the tensors (the
    /// tensors are not checked: use ``read(_:)`` before using them).
    public static func readMetadata(_ url: URL) throws -> [String: String] {
        try InputFile.check(url.path)
        guard let handle = FileHandle(forReadingAtPath: url.path) else { throw SafeTensorsError.unreadable(url.path, "cannot open") }
        defer { try? handle.close() }
        let prefix = (try? handle.read(upToCount: 8)) ?? Data()
        guard prefix.count == 8 else { throw SafeTensorsError.invalid(url.path, "file is \(prefix.count) bytes, shorter than the 8-byte header length") }
        let length = prefix.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard length <= UInt64(maximumHeaderLength) else { throw SafeTensorsError.invalid(url.path, "header length \(length) exceeds \(maximumHeaderLength)") }
        let header = (try? handle.read(upToCount: Int(length))) ?? Data()
        guard header.count == Int(length) else { throw SafeTensorsError.invalid(url.path, "header length \(length) points past the end of the file") }
        let value: JSONValue
        do { value = try header.withUnsafeBytes { try JSONValue.parse($0.bindMemory(to: UInt8.self)) } } catch {
            throw SafeTensorsError.invalid(url.path, "header is not valid JSON")
        }
        guard case .object(let members) = value else { throw SafeTensorsError.invalid(url.path, "header is not a JSON object") }
        var metadata: [String: String] = [:]
        if case .object(let pairs)? = members.first(where: { $0.0 == "__metadata__" })?.1 {
            for (key, item) in pairs { if case .string(let text) = item { metadata[key] = text } }
        }
        return metadata
    }

    /// Decodes the bytes of a safetensors file; `name` appears in errors.
    public static func decode(_ data: Data, name: String = "safetensors data") throws -> Contents {
        func invalid(_ reason: String) -> SafeTensorsError { .invalid(name, reason) }
        // 1. the header length, checked before allocating anything
        guard data.count >= 8 else { throw invalid("file is \(data.count) bytes, shorter than the 8-byte header length") }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(maximumHeaderLength) else { throw invalid("header length \(headerLength) exceeds \(maximumHeaderLength)") }
        guard headerLength <= UInt64(data.count - 8) else {
            throw invalid("header length \(headerLength) points past the end of the \(data.count)-byte file")
        }
        let dataStart = 8 + Int(headerLength)
        // 2. the header: strict JSON of the expected schema
        let header: JSONValue
        do {
            header = try data.withUnsafeBytes { raw in
                try JSONValue.parse(UnsafeBufferPointer(rebasing: raw.bindMemory(to: UInt8.self)[8..<dataStart]))
            }
        } catch let error as JSONValue.JSONError {
            throw invalid("header is not valid JSON: \(error.message) at byte \(error.offset)")
        }
        guard case .object(let members) = header else { throw invalid("header is not a JSON object") }
        var metadata: [String: String] = [:]
        var entries: [(name: String, dtype: String, shape: [Int], start: Int, end: Int)] = []
        for (key, value) in members {
            if key == "__metadata__" {
                guard case .object(let pairs) = value else { throw invalid("__metadata__ is not an object") }
                for (k, v) in pairs {
                    guard case .string(let text) = v else { throw invalid("__metadata__ value of '\(k)' is not a string") }
                    metadata[k] = text
                }
                continue
            }
            guard case .object(let fields) = value else { throw invalid("entry '\(key)' is not an object") }
            let table = Dictionary(fields, uniquingKeysWith: { a, _ in a })
            guard Set(table.keys) == ["dtype", "shape", "data_offsets"] else {
                throw invalid("entry '\(key)' must have exactly dtype, shape and data_offsets")
            }
            guard case .string(let dtype) = table["dtype"]!, let elementSize = elementSizes[dtype] else {
                throw invalid("entry '\(key)' has an unknown dtype")
            }
            guard case .array(let dims) = table["shape"]! else { throw invalid("entry '\(key)' shape is not an array") }
            var shape: [Int] = []
            var elements = 1
            for dim in dims {
                guard let size = dim.nonNegativeInteger else {
                    throw invalid("entry '\(key)' has a shape entry that is not a non-negative integer")
                }
                let (product, overflow) = elements.multipliedReportingOverflow(by: size)
                guard !overflow else { throw invalid("entry '\(key)' shape \(dims.count)-D overflows") }
                elements = product
                shape.append(size)
            }
            guard case .array(let offsets) = table["data_offsets"]!, offsets.count == 2,
                  let start = offsets[0].nonNegativeInteger, let end = offsets[1].nonNegativeInteger, start <= end else {
                throw invalid("entry '\(key)' data_offsets is not a pair of integers [begin, end] with begin ≤ end")
            }
            let (bytes, overflow) = elements.multipliedReportingOverflow(by: elementSize)
            guard !overflow, bytes == end - start else {
                throw invalid("entry '\(key)' spans \(end - start) bytes but its shape \(shape) of \(dtype) needs \(overflow ? "too many" : "\(bytes)")")
            }
            entries.append((key, dtype, shape, start, end))
        }
        // 3. the byte ranges must tile the data area exactly
        let dataLength = data.count - dataStart
        var cursor = 0
        for entry in entries.sorted(by: { ($0.start, $0.end) < ($1.start, $1.end) }) {
            guard entry.start == cursor else {
                throw invalid(entry.start > cursor ? "gap in the data before '\(entry.name)'" : "'\(entry.name)' overlaps another tensor")
            }
            cursor = entry.end
        }
        guard cursor == dataLength else {
            throw invalid(cursor < dataLength ? "\(dataLength - cursor) trailing bytes after the last tensor"
                          : "tensors extend \(cursor - dataLength) bytes past the end of the file")
        }
        // 4. the tensors
        var tensors: [String: Tensor] = [:]
        try data.withUnsafeBytes { raw in
            for entry in entries {
                let bytes = UnsafeRawBufferPointer(rebasing: raw[(dataStart + entry.start)..<(dataStart + entry.end)])
                guard let tensor = convert(bytes, dtype: entry.dtype, shape: entry.shape) else {
                    throw invalid("tensor '\(entry.name)' has dtype \(entry.dtype), which gen cannot load as Float32")
                }
                tensors[entry.name] = tensor
            }
        }
        return Contents(tensors: tensors, metadata: metadata)
    }

    private static func convert(_ bytes: UnsafeRawBufferPointer, dtype: String, shape: [Int]) -> Tensor? {
        let tensor = Tensor(uninitializedShape: shape)
        let out = tensor.pointer
        switch dtype {
        case "F32":
            for i in 0..<tensor.count { out[i] = Float(bitPattern: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self).littleEndian) }
        case "F64":
            for i in 0..<tensor.count { out[i] = Float(Double(bitPattern: bytes.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self).littleEndian)) }
        case "F16":
            for i in 0..<tensor.count {
                out[i] = Float(Float16(bitPattern: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian))
            }
        case "BF16":
            for i in 0..<tensor.count {
                out[i] = Float(bitPattern: UInt32(bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian) << 16)
            }
        default:
            return nil
        }
        return tensor
    }

    /// Encodes tensors (as F32) and metadata; names are written in sorted order.
    public static func encode(_ contents: Contents) -> Data {
        let names = contents.tensors.keys.sorted()
        var fields: [String] = []
        if !contents.metadata.isEmpty {
            let pairs = contents.metadata.keys.sorted().map { "\(jsonQuoted($0)):\(jsonQuoted(contents.metadata[$0]!))" }
            fields.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        for name in names {
            let tensor = contents.tensors[name]!
            let bytes = tensor.count * 4
            fields.append("\(jsonQuoted(name)):{\"dtype\":\"F32\",\"shape\":[\(tensor.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        var header = Array("{\(fields.joined(separator: ","))}".utf8)
        // Pad with spaces so the data starts 8-byte aligned, as the reference writer does.
        while header.count % 8 != 0 { header.append(0x20) }
        var data = Data(capacity: 8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: header)
        for name in names {
            let tensor = contents.tensors[name]!
            tensor.withUnsafeBufferPointer { buffer in
                // Float32 is little-endian on every platform Swift runs gen on.
                data.append(UnsafeBufferPointer(start: UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: UInt8.self), count: buffer.count * 4))
            }
        }
        return data
    }

    /// Writes a safetensors file atomically and durably (temporary file, fsync, rename, fsync
    /// of the folder): the path holds either the old file or the complete new one.
    public static func write(_ contents: Contents, to url: URL) throws {
        try AtomicFile.write(encode(contents), to: url)
    }
}

/// What is wrong with a safetensors file.
public enum SafeTensorsError: Error, Equatable, CustomStringConvertible {
    case unreadable(String, String)
    case invalid(String, String)

    public var description: String {
        switch self {
        case .unreadable(let file, let reason): return "\(file): cannot read: \(reason)"
        case .invalid(let file, let reason): return "\(file): not a valid safetensors file: \(reason)"
        }
    }
}
