import Foundation

/// The complete state of a ``RandomGenerator``: save it in a checkpoint, restore it to continue
/// the same stream.
public struct RandomState: Sendable, Equatable, Codable {
    public var words: [UInt64]
}

/// A seeded pseudo-random generator (xoshiro256**, Blackman & Vigna 2018) with named streams.
///
/// `RandomGenerator(seed: 7, stream: .noise)` and `RandomGenerator(seed: 7, stream: .dataOrder)`
/// are independent, so drawing more noise never changes the data order. A generator is a
/// reference type: layers and loops that share one draw from one stream in turn.
///
/// ```swift
/// let rng = RandomGenerator(seed: 0)
/// let noise = Tensor.randomNormal([64, 1, 28, 28], using: rng)
/// let saved = rng.state          // … later: rng.state = saved
/// ```
public final class RandomGenerator {
    /// Independent streams derived from one seed.
    public struct Stream: RawRepresentable, Sendable, Hashable {
        public var rawValue: UInt64
        public init(rawValue: UInt64) { self.rawValue = rawValue }
        public static let main = Stream(rawValue: 0)
        public static let initialization = Stream(rawValue: 1)
        public static let dataOrder = Stream(rawValue: 2)
        public static let noise = Stream(rawValue: 3)
        public static let dropout = Stream(rawValue: 4)
        public static let sampling = Stream(rawValue: 5)
    }

    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// A generator for `stream` of `seed`.
    public init(seed: UInt64, stream: Stream = .main) {
        var mix = seed ^ (stream.rawValue &* 0x9E37_79B9_7F4A_7C15)
        func next() -> UInt64 {
            mix &+= 0x9E37_79B9_7F4A_7C15
            var z = mix
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = next(); s1 = next(); s2 = next(); s3 = next()
    }

    /// The generator's state, to save and restore.
    public var state: RandomState {
        get { RandomState(words: [s0, s1, s2, s3]) }
        set {
            require(newValue.words.count == 4 && newValue.words.contains { $0 != 0 },
                    "RandomGenerator.state: a state is four words, not all zero")
            (s0, s1, s2, s3) = (newValue.words[0], newValue.words[1], newValue.words[2], newValue.words[3])
        }
    }

    /// The next 64 random bits.
    @inline(__always)
    public func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// A uniform `Float` in `[0, 1)` with 24 random bits.
    @inline(__always)
    public func nextUniform() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// A uniform integer in `0..<bound` (Lemire's method, unbiased).
    public func nextInt(below bound: Int) -> Int {
        require(bound > 0, "RandomGenerator.nextInt: bound must be positive, got \(bound)")
        let bound = UInt64(bound)
        var product = next().multipliedFullWidth(by: bound)
        if product.low < bound {
            let threshold = (0 &- bound) % bound
            while product.low < threshold { product = next().multipliedFullWidth(by: bound) }
        }
        return Int(product.high)
    }

    /// A standard normal `Float` (Box–Muller; uses one pair, returns the first).
    public func nextNormal() -> Float {
        var pair = (Float(0), Float(0))
        withUnsafeMutablePointer(to: &pair) { p in
            p.withMemoryRebound(to: Float.self, capacity: 2) {
                fillNormal(UnsafeMutableBufferPointer(start: $0, count: 2), mean: 0, std: 1)
            }
        }
        return pair.0
    }

    /// A random permutation of `0..<count` (Fisher–Yates).
    public func permutation(_ count: Int) -> [Int] {
        var order = Array(0..<count)
        if count > 1 {
            for i in stride(from: count - 1, to: 0, by: -1) { order.swapAt(i, nextInt(below: i + 1)) }
        }
        return order
    }

    /// Fills `buffer` with uniform samples in `[low, high)`.
    public func fillUniform(_ buffer: UnsafeMutableBufferPointer<Float>, low: Float, high: Float) {
        let width = high - low
        for i in buffer.indices { buffer[i] = low + width * nextUniform() }
    }

    /// Fills `buffer` with normal samples (Box–Muller in pairs, computed in double precision).
    public func fillNormal(_ buffer: UnsafeMutableBufferPointer<Float>, mean: Float, std: Float) {
        var i = 0
        while i < buffer.count {
            // u1 ∈ (0, 1] so that log(u1) is finite.
            let u1 = (Double(next() >> 11) + 1) * 0x1p-53
            let u2 = Double(next() >> 11) * 0x1p-53
            let radius = (-2 * Foundation.log(u1)).squareRoot()
            let angle = 2 * Double.pi * u2
            buffer[i] = mean + std * Float(radius * Foundation.cos(angle))
            if i + 1 < buffer.count { buffer[i + 1] = mean + std * Float(radius * Foundation.sin(angle)) }
            i += 2
        }
    }
}
