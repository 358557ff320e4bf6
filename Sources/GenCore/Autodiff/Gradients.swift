/// Gradients of a scalar loss with respect to a module's parameters, keyed by parameter path
/// (`"down.0.conv1.weight"`), as ``valueAndGrad(_:_:)`` returns them. Parameters the loss does
/// not depend on have no entry.
public typealias Gradients = [String: Tensor]

/// Evaluates `loss(model)` and its gradient with respect to every parameter of `model`.
///
/// ```swift
/// let (loss, gradients) = valueAndGrad(model) { model in
///     (model(images) - targets).squared().mean()
/// }
/// optimizer.update(model, with: gradients)
/// ```
/// - Returns: the loss (a scalar, detached from the tape) and the gradients by parameter path.
public func valueAndGrad<M: Module>(
    _ model: M, _ loss: (M) throws -> Tensor
) rethrows -> (value: Tensor, gradients: Gradients) {
    let (value, gradients, _) = try valueAndGrad(model, at: [], { model, _ in try loss(model) })
    return (value, gradients)
}

/// Evaluates `f(model, inputs)` and its gradients with respect to the parameters of `model`
/// and to each of `inputs`.
/// - Returns: the scalar value, the parameter gradients, and one gradient per input (zeros
///   where the value does not depend on an input).
public func valueAndGrad<M: Module>(
    _ model: M, at inputs: [Tensor], _ f: (M, [Tensor]) throws -> Tensor
) rethrows -> (value: Tensor, gradients: Gradients, inputGradients: [Tensor]) {
    let tape = GradientTape()
    let parameters = model.namedParameters()
    var leaves: [TapeNode] = []
    var storages: [TensorStorage] = []
    for (_, parameter) in parameters {
        if let existing = parameter.storage.watchedLeaf, existing.tapeID == tape.id {
            leaves.append(existing)  // a parameter shared between two paths
        } else {
            let leaf = tape.leaf(shape: parameter.shape)
            parameter.storage.watchedLeaf = leaf
            storages.append(parameter.storage)
            leaves.append(leaf)
        }
    }
    defer { for storage in storages { storage.watchedLeaf = nil } }
    let watched = inputs.map { tape.watch($0) }
    let value = try tape.recording { try f(model, watched.map(\.0)) }
    require(value.count == 1, "valueAndGrad: the function must return one value, got shape \(value.shape)")
    let all = tape.gradients(of: value, seed: Tensor.ones(value.shape), with: leaves + watched.map(\.1))
    var gradients = Gradients()
    for (i, (path, _)) in parameters.enumerated() {
        if let gradient = all[i] { gradients[path] = gradient }
    }
    let inputGradients = inputs.indices.map { i in all[leaves.count + i] ?? Tensor.zeros(inputs[i].shape) }
    return (value.detached, gradients, inputGradients)
}

/// Evaluates the scalar `f(x)` and its gradient with respect to `x`.
public func valueAndGrad(at x: Tensor, _ f: (Tensor) throws -> Tensor) rethrows -> (value: Tensor, gradient: Tensor) {
    let (value, gradients) = try valueAndGrad(at: [x]) { try f($0[0]) }
    return (value, gradients[0])
}

/// Evaluates the scalar `f(inputs)` and its gradient with respect to each input.
public func valueAndGrad(at inputs: [Tensor], _ f: ([Tensor]) throws -> Tensor) rethrows -> (value: Tensor, gradients: [Tensor]) {
    let (value, cotangents) = try vectorJacobianProduct(at: inputs, f) { Tensor.ones($0.shape) }
    return (value, cotangents)
}

/// Evaluates `y = f(inputs)` and the vector-Jacobian product `vᵀ ∂y/∂inputᵢ` for each input,
/// with `v = cotangent(y)` (same shape as `y`). One backward pass, whatever the shape of `y`:
/// the likelihood code uses it for Hutchinson's trace estimator.
public func vectorJacobianProduct(
    at inputs: [Tensor], _ f: ([Tensor]) throws -> Tensor, cotangent: (Tensor) -> Tensor
) rethrows -> (value: Tensor, gradients: [Tensor]) {
    let tape = GradientTape()
    let watched = inputs.map { tape.watch($0) }
    let value = try tape.recording { try f(watched.map(\.0)) }
    let seed = cotangent(value)
    let gradients = tape.gradients(of: value, seed: seed, with: watched.map(\.1))
    return (value.detached, inputs.indices.map { gradients[$0] ?? Tensor.zeros(inputs[$0].shape) })
}

/// Runs `body` with gradient recording switched off, for sampling and evaluation: no tape
/// nodes are created and intermediate tensors are freed as soon as they are unused.
public func withoutGradients<R>(_ body: () throws -> R) rethrows -> R {
    let previous = GradientTape.current
    GradientTape.current = nil
    defer { GradientTape.current = previous }
    return try body()
}
