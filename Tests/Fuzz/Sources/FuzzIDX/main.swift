import Foundation
import GenCore

let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gen-fuzz-idx-\(getpid())")

/// The IDX importer (plain or gzip) on an arbitrary file: it may throw, never crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let source = folder.appendingPathComponent("input-idx3-ubyte"), out = folder.appendingPathComponent("out.h5")
    FileManager.default.createFile(atPath: source.path, contents: Data(bytes: start, count: count))
    _ = try? DatasetImporter.run(source: source, to: out, options: ImportOptions(format: .idx, overwrite: true))
    return 0
}
