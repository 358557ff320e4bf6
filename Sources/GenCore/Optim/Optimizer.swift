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

    /// Restores state saved by ``stateDict()``; refuses non-finite moments.
    public func load(stateDict: [String: Tensor]) throws {
        guard let saved = stateDict["step"], saved.count == 1, saved.item >= 0 else {
            throw OptimizerStateError.missingStep
        }
        var restored: [String: [Tensor]] = [:]
        for key in stateDict.keys where key != "step" {
            guard let dot = key.firstIndex(of: "."), let slot = slotNames.firstIndex(of: String(key[..<dot])) else {
                throw OptimizerStateError.unknownEntry(key)
            }
            let path = String(key[key.index(after: dot)...])
            let tensor = stateDict[key]!
            guard tensor.isFinite else { throw OptimizerStateError.nonFinite(key) }
            var state = restored[path] ?? slotNames.map { _ in Tensor.zeros(tensor.shape) }
            state[slot] = tensor.copy()
            restored[path] = state
        }
        slots = restored
        step = Int(saved.item)
    }
}

/// Why saved optimizer state could not be restored.
public enum OptimizerStateError: Error, Equatable, CustomStringConvertible {
    case missingStep
    case unknownEntry(String)
    case nonFinite(String)

    public var description: String {
        switch self {
        case .missingStep: return "optimizer state has no valid 'step'"
        case .unknownEntry(let key): return "optimizer state has an unknown entry '\(key)'"
        case .nonFinite(let key): return "optimizer state '\(key)' holds non-finite values"
        }
    }
}

/// Applies `body(i)` for every element index, split over the threads for large tensors.
@inline(__always)
func forEachElement(_ count: Int, _ body: (Int) -> Void) {
    Threads.parallelFor(count, costPerItem: 8) { range in for i in range { body(i) } }
}
