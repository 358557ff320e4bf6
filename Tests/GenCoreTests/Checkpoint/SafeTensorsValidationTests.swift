import Foundation
import GenCore
import Testing

/// Builds safetensors bytes from a header text and a data area.
func safetensorsBytes(header: String, data: [UInt8] = [], length: UInt64? = nil) -> Data {
    var bytes = Data()
    withUnsafeBytes(of: (length ?? UInt64(header.utf8.count)).littleEndian) { bytes.append(contentsOf: $0) }
    bytes.append(contentsOf: Array(header.utf8))
    bytes.append(contentsOf: data)
    return bytes
}

/// One malformed file and a phrase its error must contain.
struct MalformedCase: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: @Sendable () -> Data
    let phrase: String
    var testDescription: String { name }
}

let eightBytes = [UInt8](repeating: 0, count: 8)

/// RELIABILITY.md items 1–3, one case each.
let malformedSafetensors: [MalformedCase] = [
    MalformedCase(name: "shorter than 8 bytes", bytes: { Data([1, 0, 0]) }, phrase: "shorter than the 8-byte header length"),
    MalformedCase(name: "header over 100 MB", bytes: { safetensorsBytes(header: "{}", length: 100_000_001) }, phrase: "exceeds 100000000"),
    MalformedCase(name: "header past the end", bytes: { safetensorsBytes(header: "{}", length: 50) }, phrase: "points past the end"),
    MalformedCase(name: "not JSON", bytes: { safetensorsBytes(header: "{\"a\": [1, 2") }, phrase: "not valid JSON"),
    MalformedCase(name: "not UTF-8", bytes: { var d = safetensorsBytes(header: "{\"ab\": 1}"); d[10] = 0xFF; return d }, phrase: "not valid JSON"),
    MalformedCase(name: "not an object", bytes: { safetensorsBytes(header: "[1, 2]") }, phrase: "not a JSON object"),
    MalformedCase(name: "unknown dtype", bytes: { safetensorsBytes(header: #"{"a":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}"#, data: eightBytes + eightBytes) }, phrase: "unknown dtype"),
    MalformedCase(name: "negative shape", bytes: { safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: eightBytes) }, phrase: "not a non-negative integer"),
    MalformedCase(name: "fractional shape", bytes: { safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}"#, data: eightBytes) }, phrase: "not a non-negative integer"),
    MalformedCase(name: "offsets not a pair", bytes: { safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}}"#, data: eightBytes) }, phrase: "data_offsets is not a pair"),
    MalformedCase(name: "missing field", bytes: { safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[2]}}"#, data: eightBytes) }, phrase: "exactly dtype, shape and data_offsets"),
    MalformedCase(name: "metadata not strings", bytes: { safetensorsBytes(header: #"{"__metadata__":{"epoch":3}}"#) }, phrase: "__metadata__ value of 'epoch' is not a string"),
    MalformedCase(name: "duplicate names", bytes: { safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: eightBytes) }, phrase: "duplicate key 'a'"),
    MalformedCase(name: "size disagrees with shape", bytes: { safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: eightBytes) }, phrase: "needs 12"),
    MalformedCase(name: "shape overflows", bytes: { safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#, data: eightBytes) }, phrase: "overflows"),
    MalformedCase(name: "gap between tensors", bytes: { safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: eightBytes) }, phrase: "gap in the data before 'a'"),
    MalformedCase(name: "overlapping tensors", bytes: { safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: eightBytes) }, phrase: "overlaps another tensor"),
    MalformedCase(name: "trailing bytes", bytes: { safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: eightBytes) }, phrase: "4 trailing bytes"),
    MalformedCase(name: "data past the end", bytes: { safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: eightBytes) }, phrase: "past the end of the file"),
]

@Suite("safetensors validation")
struct SafeTensorsValidationTests {
    @Test(arguments: malformedSafetensors)
    func rejects(_ c: MalformedCase) {
        do {
            _ = try SafeTensors.decode(c.bytes(), name: "bad.safetensors")
            Issue.record("\(c.name) was accepted")
        } catch {
            let message = "\(error)"
            #expect(message.hasPrefix("bad.safetensors: ") && message.contains(c.phrase), "\(message)")
        }
    }

    /// The bytes gen writes: sorted names, F32, 8-byte aligned header padded with spaces.
    @Test func writtenBytesAreExact() {
        let data = SafeTensors.encode(.init(tensors: ["w": Tensor([1, -2]), "b": Tensor(0.5)], metadata: ["k": "v"]))
        let header = #"{"__metadata__":{"k":"v"},"b":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        let padded = header + String(repeating: " ", count: (8 - header.utf8.count % 8) % 8)
        var expected = safetensorsBytes(header: padded)
        for value: Float in [0.5, 1, -2] { withUnsafeBytes(of: value.bitPattern.littleEndian) { expected.append(contentsOf: $0) } }
        #expect(data == expected)
    }

    @Test func float16AndFloat64FromPythonBecomeFloat32() throws {
        let contents = try SafeTensors.read(dataFixtures.appendingPathComponent("python_written.safetensors"))
        #expect(contents.tensors["a"]?.scalars == [0, 0.5, 1, 1.5, 2, 2.5])
        #expect(contents.tensors["b"]?.scalars == [1, -2, 0.5, 65504])
        #expect(contents.tensors["c"]?.shape == [] && contents.tensors["c"]?.item == 3.25)
        #expect(contents.tensors["empty"]?.shape == [0, 2])
        #expect(contents.metadata["format"] == "np")
    }
}
