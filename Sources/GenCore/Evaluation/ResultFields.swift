import Foundation

/// One line of results: named values in a fixed order, written as one JSON object (what
/// `gen eval` prints).
public struct ResultFields: Sendable, Equatable, ExpressibleByArrayLiteral {
    /// A value, with the precision it is worth writing.
    public enum Value: Sendable, Equatable {
        case text(String)
        case integer(Int)
        /// A number written with `decimals` digits after the point.
        case number(Double, decimals: Int)
        /// A number written in its shortest exact form (`0.001`, `1e-05`).
        case real(Double)
        case null

        /// The value as a number, if it is one.
        public var number: Double? {
            switch self {
            case .integer(let value): return Double(value)
            case .number(let value, _), .real(let value): return value
            case .text, .null: return nil
            }
        }
    }

    public private(set) var entries: [(key: String, value: Value)]

    public init(_ entries: [(String, Value)] = []) { self.entries = entries.map { (key: $0.0, value: $0.1) } }
    public init(arrayLiteral elements: (String, Value)...) { self.init(elements) }

    public static func == (a: ResultFields, b: ResultFields) -> Bool {
        a.entries.map(\.key) == b.entries.map(\.key) && a.entries.map(\.value) == b.entries.map(\.value)
    }

    /// Appends a field (replacing one of the same key in place).
    public mutating func set(_ key: String, _ value: Value) {
        if let index = entries.firstIndex(where: { $0.key == key }) { entries[index].value = value } else { entries.append((key, value)) }
    }

    public mutating func append(contentsOf other: ResultFields) {
        for (key, value) in other.entries { set(key, value) }
    }

    public subscript(key: String) -> Value? { entries.first { $0.key == key }?.value }

    /// The fields as one line of JSON, in order.
    public var json: String {
        "{" + entries.map { "\(jsonQuoted($0.key)): \(Self.encode($0.value))" }.joined(separator: ", ") + "}"
    }

    private static func encode(_ value: Value) -> String {
        switch value {
        case .text(let text): return jsonQuoted(text)
        case .integer(let number): return String(number)
        case .number(let number, let decimals):
            guard number.isFinite else { return "null" }
            return String(format: "%.\(decimals)f", number)
        case .real(let number): return number.isFinite ? "\(number)" : "null"
        case .null: return "null"
        }
    }
}
