import CZlib
import Foundation

/// Reads a file's bytes in order, transparently un-gzipping `.gz` files, with a bounded buffer.
final class ByteStream {
    let path: String
    private let handle: FileHandle
    private let gzip: Bool
    private var stream = z_stream()
    private var input = Data()
    private var finished = false
    private var buffer: [UInt8] = []
    private var offset = 0
    /// Bytes handed out so far.
    private(set) var position = 0

    init(url: URL) throws {
        path = url.path
        try InputFile.check(path)
        do { handle = try FileHandle(forReadingFrom: url) } catch {
            throw DataError.malformed(path, "cannot open: \((error as NSError).localizedDescription)")
        }
        let magic = (try? handle.read(upToCount: 2)) ?? Data()
        try? handle.seek(toOffset: 0)
        gzip = magic == Data([0x1F, 0x8B])
        if gzip {
            // 15 + 32: a zlib or gzip header, detected automatically.
            guard gen_inflateInit2(&stream, 15 + 32) == Z_OK else { throw DataError.malformed(path, "cannot start gzip decoding") }
        }
    }

    deinit {
        if gzip { inflateEnd(&stream) }
        try? handle.close()
    }

    /// Up to `count` next bytes; fewer only at the end of the data.
    func read(_ count: Int) throws -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(min(count, 1 << 20))
        while result.count < count {
            if offset == buffer.count {
                guard try refill() else { break }
            }
            let take = min(count - result.count, buffer.count - offset)
            result.append(contentsOf: buffer[offset..<(offset + take)])
            offset += take
        }
        position += result.count
        return result
    }

    /// The next line without its terminator (`\n` or `\r\n`), or nil at the end.
    func readLine(maximumLength: Int = 1 << 24) throws -> String? {
        var line: [UInt8] = []
        while true {
            if offset == buffer.count {
                guard try refill() else { break }
            }
            if let newline = buffer[offset...].firstIndex(of: 0x0A) {
                line.append(contentsOf: buffer[offset..<newline])
                position += newline + 1 - offset
                offset = newline + 1
                if line.last == 0x0D { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            line.append(contentsOf: buffer[offset...])
            position += buffer.count - offset
            offset = buffer.count
            guard line.count <= maximumLength else { throw DataError.malformed(path, "a line is longer than \(maximumLength) bytes") }
        }
        if line.isEmpty { return nil }
        if line.last == 0x0D { line.removeLast() }
        return String(decoding: line, as: UTF8.self)
    }

    /// Loads the next piece of (decompressed) data into the buffer; false at the end.
    private func refill() throws -> Bool {
        buffer.removeAll(keepingCapacity: true)
        offset = 0
        if !gzip {
            guard let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty else { return false }
            buffer = [UInt8](chunk)
            return true
        }
        while buffer.isEmpty && !finished {
            if input.isEmpty {
                input = (try? handle.read(upToCount: 1 << 20)) ?? Data()
                if input.isEmpty { throw DataError.malformed(path, "gzip data ends early (truncated file)") }
            }
            var output = [UInt8](repeating: 0, count: 1 << 20)
            let (status, consumed, produced) = input.withUnsafeMutableBytes { inBytes in
                output.withUnsafeMutableBytes { outBytes in
                    stream.next_in = inBytes.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    stream.avail_in = uInt(inBytes.count)
                    stream.next_out = outBytes.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    stream.avail_out = uInt(outBytes.count)
                    let status = inflate(&stream, Z_NO_FLUSH)
                    return (status, inBytes.count - Int(stream.avail_in), outBytes.count - Int(stream.avail_out))
                }
            }
            input.removeFirst(consumed)
            guard status == Z_OK || status == Z_STREAM_END || (status == Z_BUF_ERROR && produced > 0) else {
                throw DataError.malformed(path, "gzip data is corrupt (zlib status \(status))")
            }
            buffer = Array(output[..<produced])
            if status == Z_STREAM_END { finished = true }
        }
        return !buffer.isEmpty
    }

    /// Throws unless the stream has ended: a file must hold what its header declares, and no
    /// more.
    func requireEnd(_ what: String) throws {
        let extra = try read(1)
        guard extra.isEmpty else { throw DataError.malformed(path, "has bytes after \(what)") }
    }
}
