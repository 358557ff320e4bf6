/// Updates a module's parameters in place from their gradients.
///
/// A concrete optimizer names its per-parameter state (`slotNames`, e.g. Adam's first and
/// second moments) and implements one update of one parameter; the base class keeps the state
/// by parameter path, counts steps, and saves and restores everything for checkpoints.
///
/// ```swift
/// final class SignSGD: Optimizer {
///     override func update(parameter: Tensor, gradient: Tensor, slots: [Tensor], step: Int) {
///         let p = parameter, g = gradient
///         p.withUnsafeMutableBufferPointer { p in
///             g.withUnsafeBufferPointer { g in
///                 for i in p.indices { p[i] -= learningRate * (g[i] > 0 ? 1 : -1) }
///             }
///         }
///     }
/// }
/// ```
open class Optimizer {
    /// The learning rate of the next update; a schedule may change it before every step.
    public var learningRate: Float
    /// Updates made so far.
    public private(set) var step = 0
    /// Names of the per-parameter state tensors, in the order `update` receives them.
    public let slotNames: [String]
    private var slots: [String: [Tensor]] = [:]

    public init(learningRate: Float, slotNames: [String] = []) {
        self.learningRate = learningRate
        self.slotNames = slotNames
    }

    /// Applies one update to every parameter of `model` that has a gradient.
    public func update(_ model: Module, with gradients: Gradients) {
        step += 1
        for (path, parameter) in model.namedParameters() {
            guard let gradient = gradients[path] else { continue }
            require(gradient.shape == parameter.shape,
                    "Optimizer: gradient of '\(path)' has shape \(gradient.shape), parameter \(parameter.shape)")
            let state = slots[path] ?? slotNames.map { _ in Tensor.zeros(parameter.shape) }
            // load(stateDict:for:) checks every slot's shape; a kernel never sees a short buffer.
            require(state.allSatisfy { $0.shape == parameter.shape },
                    "Optimizer: the state of '\(path)' does not have the parameter's shape \(parameter.shape)")
            slots[path] = state
            update(parameter: parameter, gradient: gradient, slots: state, step: step)
        }
    }

    /// Updates one parameter in place. `slots` are this parameter's state tensors (zeros at the
    /// first step), updated in place too; `step` counts from 1.
    open func update(parameter: Tensor, gradient: Tensor, slots: [Tensor], step: Int) {
        fatalError("\(type(of: self)) must override update(parameter:gradient:slots:step:)")
    }

    /// The optimizer's state as tensors keyed `"<slot>.<parameter path>"`, plus `"step"`.
    public func stateDict() -> [String: Tensor] {
        var result = ["step": Tensor(Float(step))]
        for (path, state) in slots {
            for (name, tensor) in zip(slotNames, state) { result["\(name).\(path)"] = tensor.copy() }
        }
        return result
    }

    /// Restores state saved by ``stateDict()`` for the parameters of `model`: every entry must
    /// name a slot of this optimizer and a parameter of `model`, with the parameter's shape,
    /// every slot of a parameter must be there, and every value finite.
    public func load(stateDict: [String: Tensor], for model: Module) throws {
        guard let saved = stateDict["step"], saved.count == 1, saved.item >= 0, saved.item == saved.item.rounded(),
              saved.item < Float(1 << 40) else {
            throw OptimizerStateError.missingStep
        }
        let shapes = Dictionary(uniqueKeysWithValues: model.namedParameters().map { ($0.0, $0.1.shape) })
        var restored: [String: [Tensor?]] = [:]
        for key in stateDict.keys.sorted() where key != "step" {
            guard let dot = key.firstIndex(of: "."), let slot = slotNames.firstIndex(of: String(key[..<dot])) else {
                throw OptimizerStateError.unknownEntry(key)
            }
            let path = String(key[key.index(after: dot)...])
            guard let shape = shapes[path] else { throw OptimizerStateError.unknownEntry(key) }
            let tensor = stateDict[key]!
            guard tensor.shape == shape else { throw OptimizerStateError.shapeMismatch(key, expected: shape, found: tensor.shape) }
            guard tensor.isFinite else { throw OptimizerStateError.nonFinite(key) }
            var state = restored[path] ?? Array(repeating: nil, count: slotNames.count)
            state[slot] = tensor.copy()
            restored[path] = state
        }
        var complete: [String: [Tensor]] = [:]
        for (path, state) in restored {
            guard state.allSatisfy({ $0 != nil }) else {
                let missing = zip(slotNames, state).first { $0.1 == nil }!.0
                throw OptimizerStateError.missingEntry("\(missing).\(path)")
            }
            complete[path] = state.compactMap { $0 }
        }
        slots = complete
        step = Int(saved.item)
    }
}

/// Why saved optimizer state could not be restored.
public enum OptimizerStateError: Error, Equatable, CustomStringConvertible {
    case missingStep
    case unknownEntry(String)
    case missingEntry(String)
    case shapeMismatch(String, expected: [Int], found: [Int])
    case nonFinite(String)

    public var description: String {
        switch self {
        case .missingStep: return "optimizer state has no valid 'step'"
        case .unknownEntry(let key): return "optimizer state has an entry '\(key)' for no parameter of this model"
        case .missingEntry(let key): return "optimizer state lacks '\(key)'"
        case .shapeMismatch(let key, let expected, let found): return "optimizer state '\(key)' has shape \(found), its parameter \(expected)"
        case .nonFinite(let key): return "optimizer state '\(key)' holds non-finite values"
        }
    }
}

/// Applies `body(i)` for every element index, split over the threads for large tensors.
@inline(__always)
func forEachElement(_ count: Int, _ body: (Int) -> Void) {
    Threads.parallelFor(count, costPerItem: 8) { range in for i in range { body(i) } }
}
