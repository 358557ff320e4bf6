import Foundation
import GenCore

let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gen-fuzz-hdf5-\(getpid())")

/// Opening an arbitrary file as an HDF5 dataset and reading from it: it may throw, never crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let source = folder.appendingPathComponent("input.h5")
    FileManager.default.createFile(atPath: source.path, contents: Data(bytes: start, count: count))
    if let data = try? HDF5Dataset(url: source) {
        _ = try? data.images(at: [0, data.count - 1], scaledTo: .unit)
        _ = try? data.labels(at: [0])
    }
    _ = try? HDF5Dataset.inventory(of: source)
    return 0
}
