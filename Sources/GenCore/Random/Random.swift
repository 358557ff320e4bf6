/// The process-wide default generators, used where a caller does not pass one: parameter
/// initialization and dropout. Seed them once at start-up for reproducible runs.
public enum Random {
    nonisolated(unsafe) private static var seedValue: UInt64 = 0
    nonisolated(unsafe) private static var initialization = RandomGenerator(seed: 0, stream: .initialization)
    nonisolated(unsafe) private static var dropoutGenerator = RandomGenerator(seed: 0, stream: .dropout)

    /// Reseeds the default generators.
    public static func seed(_ seed: UInt64) {
        seedValue = seed
        initialization = RandomGenerator(seed: seed, stream: .initialization)
        dropoutGenerator = RandomGenerator(seed: seed, stream: .dropout)
    }

    /// The generator layers draw their initial weights from.
    public static var initializer: RandomGenerator { initialization }

    /// The generator dropout draws its masks from.
    public static var dropout: RandomGenerator { dropoutGenerator }
}
