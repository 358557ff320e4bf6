import Foundation
import GenCore

/// The PNG decoder on arbitrary bytes: it may throw, never crash or allocate without bound.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    _ = try? PNG.decode(Data(bytes: start, count: count), name: "fuzz")
    return 0
}
