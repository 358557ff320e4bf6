/// Stops with `message` when a library function is misused (mismatched shapes, an axis out of
/// range). Unlike `precondition`, the message is printed in optimized builds too, so the user
/// learns which op and which shapes were wrong. The model-family modules use it too.
@inline(__always)
public func require(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
    file: StaticString = #fileID, line: UInt = #line
) {
    if !condition() { fatalError(message(), file: file, line: line) }
}
