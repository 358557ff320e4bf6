import Foundation
import GenCore

/// The safetensors header parser and validator on arbitrary bytes: it may throw, never crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    _ = try? SafeTensors.decode(Data(bytes: start, count: count), name: "fuzz")
    return 0
}
