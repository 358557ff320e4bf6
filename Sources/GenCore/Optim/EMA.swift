/// An exponential moving average of a module's parameters, for sampling from smoothed weights
/// (Ho et al. 2020 use decay 0.9999).
///
/// With warm-up the decay at update `n` is `min(decay, (1 + n) / (10 + n))`, so early averages
/// follow the weights closely. Buffers (running statistics) are copied, not averaged.
public final class ExponentialMovingAverage {
    /// The decay (set once by a budgeted run's plan, before sampling counts).
    public internal(set) var decay: Float
    public let warmup: Bool
    public private(set) var updates = 0
    /// The averaged parameters and buffers, by path.
    public private(set) var shadow: [String: Tensor]

    /// Starts the average at the module's current weights.
    public init(_ model: Module, decay: Float = 0.9999, warmup: Bool = true) {
        self.decay = decay
        self.warmup = warmup
        shadow = model.stateDict().mapValues { $0.copy() }
    }

    /// The decay the next update uses.
    public var currentDecay: Float {
        warmup ? min(decay, Float(1 + updates) / Float(10 + updates)) : decay
    }

    /// Moves the average toward the module's current weights.
    public func update(from model: Module) {
        let d = currentDecay
        updates += 1
        let parameters = Set(model.namedParameters().map(\.0))
        for (path, tensor) in model.stateDict() {
            guard let average = shadow[path] else { continue }
            if parameters.contains(path) {
                let a = average.pointer, p = tensor.pointer
                forEachElement(tensor.count) { i in a[i] = d * a[i] + (1 - d) * p[i] }
            } else {
                average.assign(tensor)
            }
        }
    }

    /// Writes the averaged weights into `model` (for sampling or evaluation).
    public func copy(to model: Module) throws { try model.load(stateDict: shadow) }

    /// The state to checkpoint: the average and the update count.
    public func stateDict() -> [String: Tensor] {
        var result = shadow.mapValues { $0.copy() }
        result["__updates"] = Tensor(Float(updates))
        return result
    }

    /// Restores state saved by ``stateDict()``; paths and shapes must match the model's.
    public func load(stateDict: [String: Tensor]) throws {
        for (path, tensor) in shadow {
            guard let saved = stateDict[path] else { throw StateDictError.missing(path) }
            guard saved.shape == tensor.shape else {
                throw StateDictError.shapeMismatch(path, expected: tensor.shape, found: saved.shape)
            }
        }
        if let stray = stateDict.keys.sorted().first(where: { shadow[$0] == nil && $0 != "__updates" }) { throw StateDictError.unexpected(stray) }
        let count = stateDict["__updates"].map { $0.count == 1 ? $0.item : -1 } ?? 0
        guard count >= 0, count == count.rounded(), count < Float(1 << 40) else { throw StateDictError.unexpected("__updates (not a count)") }
        for (path, tensor) in shadow { tensor.assign(stateDict[path]!) }
        updates = Int(count)
    }
}
