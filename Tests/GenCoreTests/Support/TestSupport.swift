import Foundation
import GenCore
import Testing

/// The folder of committed test fixtures (`Tests/Fixtures`).
let fixturesFolder = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures")

/// A deterministic tensor of standard normal values.
func randn(_ shape: [Int], seed: UInt64 = 1) -> Tensor {
    Tensor.randomNormal(shape, using: RandomGenerator(seed: seed, stream: .init(rawValue: 77)))
}

/// Standard normal values pushed at least `margin` away from zero (for functions with a kink at 0).
func randnAwayFromZero(_ shape: [Int], seed: UInt64 = 1, margin: Float = 0.1) -> Tensor {
    Tensor(randn(shape, seed: seed).scalars.map { $0 >= 0 ? $0 + margin : $0 - margin }, shape: shape)
}

/// The largest |a − b| / (atol/rtol + |b|)-style violation: returns the worst element's
/// absolute error and whether all elements satisfy |a − b| ≤ atol + rtol·|b|.
func allClose(_ a: Tensor, _ b: Tensor, rtol: Float = 1e-4, atol: Float = 1e-5) -> Bool {
    guard a.shape == b.shape else { return false }
    return zip(a.scalars, b.scalars).allSatisfy { x, y in abs(x - y) <= atol + rtol * abs(y) }
}

/// The largest absolute difference between two tensors of one shape.
func maxDifference(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.shape == b.shape, "maxDifference: \(a.shape) vs \(b.shape)")
    return zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0
}

/// Checks the gradients of `f` at `inputs` against central finite differences of the scalar
/// `L(x) = Σ f(x)·w` for a fixed random `w`, computed in double precision.
///
/// Tolerance: |analytic − numeric| ≤ `atol + rtol·|numeric|` for every element checked
/// (all elements of small inputs, an evenly spread subset of large ones).
func checkGradients(
    _ inputs: [Tensor], step: Float = 1e-3, rtol: Float = 1e-2, atol: Float = 1e-3,
    sourceLocation: SourceLocation = #_sourceLocation, _ f: ([Tensor]) -> Tensor
) {
    let probe = withoutGradients { f(inputs) }
    let weights = randn(probe.shape, seed: 99)
    func loss(_ xs: [Tensor]) -> Double {
        let y = withoutGradients { f(xs) }
        return zip(y.scalars, weights.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }
    let (_, analytic) = valueAndGrad(at: inputs) { xs in (f(xs) * weights).sum() }
    for (index, input) in inputs.enumerated() {
        #expect(analytic[index].shape == input.shape, "gradient shape of input \(index)", sourceLocation: sourceLocation)
        let checked = input.count <= 256 ? Array(0..<input.count) : stride(from: 0, to: input.count, by: input.count / 128 + 1).map { $0 }
        var failures: [String] = []
        for element in checked {
            let plus = inputs.map { $0.copy() }, minus = inputs.map { $0.copy() }
            plus[index].withUnsafeMutableBufferPointer { $0[element] += step }
            minus[index].withUnsafeMutableBufferPointer { $0[element] -= step }
            let numeric = Float((loss(plus) - loss(minus)) / (2 * Double(step)))
            let value = analytic[index].scalars[element]
            if abs(value - numeric) > atol + rtol * abs(numeric) {
                failures.append("input \(index)[\(element)]: analytic \(value), numeric \(numeric)")
            }
        }
        #expect(failures.isEmpty, "\(failures.prefix(5).joined(separator: "; "))", sourceLocation: sourceLocation)
    }
}

/// Checks the gradients of `f(model, input)` with respect to every parameter of `model` and
/// to `input`, against central finite differences (see ``checkGradients``).
func checkModuleGradients(
    _ model: Module, input: Tensor, step: Float = 1e-3, rtol: Float = 1e-2, atol: Float = 1e-3,
    sourceLocation: SourceLocation = #_sourceLocation, _ f: @escaping (Module, Tensor) -> Tensor
) {
    let probe = withoutGradients { f(model, input) }
    let weights = randn(probe.shape, seed: 98)
    func loss() -> Double {
        let y = withoutGradients { f(model, input) }
        return zip(y.scalars, weights.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }
    let (_, gradients, inputGradients) = valueAndGrad(model, at: [input]) { m, xs in (f(m, xs[0]) * weights).sum() }
    var targets = model.namedParameters()
    targets.append(("input", input))
    for (path, tensor) in targets {
        let analytic = path == "input" ? inputGradients[0] : gradients[path]
        #expect(analytic != nil, "no gradient for \(path)", sourceLocation: sourceLocation)
        guard let analytic else { continue }
        let checked = tensor.count <= 128 ? Array(0..<tensor.count) : stride(from: 0, to: tensor.count, by: tensor.count / 64 + 1).map { $0 }
        var failures: [String] = []
        for element in checked {
            let original = tensor.scalars[element]
            tensor.withUnsafeMutableBufferPointer { $0[element] = original + step }
            let plus = loss()
            tensor.withUnsafeMutableBufferPointer { $0[element] = original - step }
            let minus = loss()
            tensor.withUnsafeMutableBufferPointer { $0[element] = original }
            let numeric = Float((plus - minus) / (2 * Double(step)))
            let value = analytic.scalars[element]
            if abs(value - numeric) > atol + rtol * abs(numeric) {
                failures.append("\(path)[\(element)]: analytic \(value), numeric \(numeric)")
            }
        }
        #expect(failures.isEmpty, "\(failures.prefix(5).joined(separator: "; "))", sourceLocation: sourceLocation)
    }
}
