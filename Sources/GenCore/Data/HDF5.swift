import CHDF5
import Foundation

/// A thin, checked layer over the HDF5 C API.
///
/// HDF5 (as Debian builds it) is not thread-safe, and its authors state that it is not built to
/// read hostile files safely. So every call goes through ``HDF5/call(_:)`` under one lock, every
/// return value is checked, HDF5's own printing to stderr is off, filter plugins are never
/// loaded, and external links are never followed. Failures become ``DataError/hdf5(_:_:)``
/// errors carrying the messages of HDF5's error stack.
enum HDF5 {
    private static let lock = NSRecursiveLock()
    nonisolated(unsafe) private static var configured = false

    /// Runs `body` holding the HDF5 lock, after the one-time library set-up.
    static func call<R>(_ body: () throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        if !configured {
            configured = true
            // No clean-up at exit: gen closes what it writes itself, and after a failed write
            // (a full disk) HDF5's own closing of the broken file at exit crashes.
            H5dont_atexit()
            H5open()
            // h5py's LZF, built in (plugins stay off): see the shim
            _ = gen_register_lzf()
            // No printing to stderr: errors are read from the stack and thrown.
            H5Eset_auto2(gen_H5E_DEFAULT(), nil, nil)
            // No dynamically loaded filters: only the built-in ones (gzip, shuffle, …).
            H5PLset_loading_state(0)
        }
        return try body()
    }

    /// The messages on HDF5's current error stack, innermost last, then clears it.
    static func errorStack() -> String {
        final class Messages { var lines: [String] = [] }
        let messages = Messages()
        let context = Unmanaged.passUnretained(messages).toOpaque()
        H5Ewalk2(gen_H5E_DEFAULT(), H5E_WALK_DOWNWARD, { _, description, context in
            guard let description, let context else { return 0 }
            let messages = Unmanaged<Messages>.fromOpaque(context).takeUnretainedValue()
            if let text = description.pointee.desc.map({ String(cString: $0) }) {
                // HDF5's messages may span lines; errors are reported on one line.
                let line = text.split(whereSeparator: \.isNewline).joined(separator: " ").trimmingCharacters(in: .whitespaces)
                if !line.isEmpty { messages.lines.append(line) }
            }
            return 0
        }, context)
        H5Eclear2(gen_H5E_DEFAULT())
        var seen = Set<String>()
        return messages.lines.filter { seen.insert($0).inserted }.joined(separator: "; ")
    }

    /// Checks a returned identifier: negative means failure.
    static func check(_ id: hid_t, _ file: String, _ what: String) throws -> hid_t {
        guard id >= 0 else { throw failure(file, what) }
        return id
    }

    /// Checks a returned status: negative means failure.
    static func check(_ status: herr_t, _ file: String, _ what: String) throws {
        guard status >= 0 else { throw failure(file, what) }
    }

    /// The error of a failed call, from HDF5's error stack; a missing filter says which ones gen
    /// reads and how to repack the file.
    static func failure(_ file: String, _ what: String) -> DataError {
        let stack = errorStack()
        if let range = stack.range(of: "required filter '") {
            let name = stack[range.upperBound...].prefix { $0 != "'" }
            return .malformed(file, "compressed with the '\(name)' filter, which gen does not read (it reads gzip, shuffle, LZF, "
                + "Fletcher-32, N-bit and scale-offset, and loads no plugins); repack it, e.g. h5repack -f GZIP=4 \(file) repacked.h5")
        }
        return .hdf5(file, "\(what): \(stack)")
    }

    /// A file access property list that refuses to traverse external links.
    static func linkAccessRefusingExternalLinks(_ file: String) throws -> hid_t {
        let list = try check(H5Pcreate(gen_H5P_LINK_ACCESS()), file, "cannot create link access properties")
        try check(H5Pset_elink_cb(list, { _, _, _, _, _, _, _ in -1 }, nil), file, "cannot restrict external links")
        return list
    }
}

/// An open HDF5 object identifier, closed when released (or by ``close()``, which says
/// whether closing worked: for a file being written, closing is when data reaches the disk).
final class HDF5Handle {
    enum Kind { case file, dataset, dataspace, datatype, propertyList, group, attribute }
    let id: hid_t
    let kind: Kind
    private var isOpen = true

    init(_ id: hid_t, _ kind: Kind) {
        self.id = id
        self.kind = kind
    }

    /// Closes the object now, returning HDF5's status (negative on failure).
    @discardableResult
    func close() -> herr_t {
        guard isOpen else { return 0 }
        isOpen = false
        return HDF5.call {
            switch kind {
            case .file: return H5Fclose(id)
            case .dataset: return H5Dclose(id)
            case .dataspace: return H5Sclose(id)
            case .datatype: return H5Tclose(id)
            case .propertyList: return H5Pclose(id)
            case .group: return H5Gclose(id)
            case .attribute: return H5Aclose(id)
            }
        }
    }

    deinit { close() }
}

extension HDF5 {
    /// A failure to write `file`, in one line: the system's reason when HDF5's error stack
    /// names one (`No space left on device`), else the stack's last message.
    static func writeError(_ file: String, _ what: String) -> AtomicFileError {
        let stack = errorStack()
        var reason = stack.split(separator: ";").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "HDF5 failed"
        if let range = stack.range(of: "error message = '"), let end = stack[range.upperBound...].firstIndex(of: "'") {
            reason = String(stack[range.upperBound..<end])
        }
        return AtomicFileError(path: file, reason: "\(what): \(reason.prefix(200))")
    }

    /// Checks a status returned while writing: a failure is an unwritable output.
    static func checkWrite(_ status: herr_t, _ file: String, _ what: String) throws {
        guard status >= 0 else { throw writeError(file, what) }
    }
}
