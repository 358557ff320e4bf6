import Foundation

/// One recorded step: the tensors it read (`parents`) and how to carry a gradient back to them.
final class TapeNode {
    let tapeID: Int
    let index: Int
    let shape: [Int]
    let parents: [TapeNode?]
    /// Maps the gradient of this node's output to gradients of its inputs, in `parents` order
    /// (nil where an input needs none). Nil for leaves.
    let pullback: ((Tensor) -> [Tensor?])?

    init(tapeID: Int, index: Int, shape: [Int], parents: [TapeNode?], pullback: ((Tensor) -> [Tensor?])?) {
        self.tapeID = tapeID
        self.index = index
        self.shape = shape
        self.parents = parents
        self.pullback = pullback
    }
}

/// Reverse-mode differentiation by recording (Wengert list): while a tape is current, every
/// differentiable primitive that reads a watched tensor appends a node; `gradients` walks them
/// backwards. Nodes are appended in execution order, which is a topological order.
///
/// The public entry points are the functional ``valueAndGrad(_:_:)`` family; the tape itself
/// is an implementation detail.
final class GradientTape {
    /// The tape recording on this thread, if any. Each thread has its own, so two threads may
    /// differentiate at once; kernels' worker threads never record.
    static var current: GradientTape? {
        get { pthread_getspecific(currentKey).map { Unmanaged<GradientTape>.fromOpaque($0).takeUnretainedValue() } }
        // Unretained: whoever makes a tape current (``recording(_:)``, the gradient entry
        // points) holds it for as long as it is current.
        set { pthread_setspecific(currentKey, newValue.map { Unmanaged.passUnretained($0).toOpaque() }) }
    }

    private static let currentKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    private static let idLock = NSLock()
    nonisolated(unsafe) private static var nextID = 0

    let id: Int
    private(set) var nodes: [TapeNode] = []

    init() {
        id = GradientTape.idLock.withLock {
            GradientTape.nextID += 1
            return GradientTape.nextID
        }
    }

    /// A new leaf: a tensor whose gradient the caller wants.
    func leaf(shape: [Int]) -> TapeNode {
        let node = TapeNode(tapeID: id, index: nodes.count, shape: shape, parents: [], pullback: nil)
        nodes.append(node)
        return node
    }

    /// Returns `x` as a watched leaf of this tape.
    func watch(_ x: Tensor) -> (Tensor, TapeNode) {
        let node = leaf(shape: x.shape)
        return (Tensor(shape: x.shape, storage: x.storage, node: node), node)
    }

    func append(shape: [Int], parents: [TapeNode?], pullback: @escaping (Tensor) -> [Tensor?]) -> TapeNode {
        let node = TapeNode(tapeID: id, index: nodes.count, shape: shape, parents: parents, pullback: pullback)
        nodes.append(node)
        return node
    }

    /// Runs `body` with this tape recording, restoring whatever was current before.
    func recording<R>(_ body: () throws -> R) rethrows -> R {
        let previous = GradientTape.current
        GradientTape.current = self
        defer { GradientTape.current = previous }
        return try body()
    }

    /// Gradients of `output` (weighted by `seed`, same shape as `output`) with respect to `targets`.
    func gradients(of output: Tensor, seed: Tensor, with targets: [TapeNode]) -> [Tensor?] {
        guard let start = output.trackedNode(in: self) else {
            return targets.map { _ in nil }
        }
        require(seed.shape == output.shape, "gradients: seed shape \(seed.shape) does not match output \(output.shape)")
        let wanted = Set(targets.map(\.index))
        var accumulated = [Tensor?](repeating: nil, count: nodes.count)
        accumulated[start.index] = seed
        // Pullbacks compute with plain tensors: nothing is recorded while going backwards.
        let previous = GradientTape.current
        GradientTape.current = nil
        defer { GradientTape.current = previous }
        for index in stride(from: start.index, through: 0, by: -1) {
            let node = nodes[index]
            guard let gradient = accumulated[index], let pullback = node.pullback else { continue }
            if !wanted.contains(index) { accumulated[index] = nil }
            let inputGradients = pullback(gradient)
            for (parent, inputGradient) in zip(node.parents, inputGradients) {
                guard let parent, let inputGradient else { continue }
                require(inputGradient.shape == parent.shape,
                        "autodiff: a pullback gave shape \(inputGradient.shape) for an input of shape \(parent.shape)")
                if let existing = accumulated[parent.index] {
                    accumulated[parent.index] = Kernels.zip(existing, inputGradient, AddKernel(), op: "accumulate")
                } else {
                    accumulated[parent.index] = inputGradient
                }
            }
        }
        return targets.map { accumulated[$0.index] }
    }
}

extension Tensor {
    /// The node through which gradients reach this tensor on `tape`, if any: its own, or the
    /// leaf of a watched parameter whose memory it shares.
    @inline(__always)
    func trackedNode(in tape: GradientTape) -> TapeNode? {
        if let node, node.tapeID == tape.id { return node }
        if let leaf = storage.watchedLeaf, leaf.tapeID == tape.id, leaf.shape == shape { return leaf }
        return nil
    }
}

/// Records a primitive's output on the current tape when any input is tracked; otherwise
/// returns it untouched, so code run without a tape pays nothing but one check.
@inline(__always)
func record(_ output: Tensor, inputs: [Tensor], pullback: @escaping (Tensor) -> [Tensor?]) -> Tensor {
    guard let tape = GradientTape.current else { return output }
    return recordSlow(output, inputs: inputs, tape: tape, pullback: pullback)
}

@inline(never)
private func recordSlow(
    _ output: Tensor, inputs: [Tensor], tape: GradientTape, pullback: @escaping (Tensor) -> [Tensor?]
) -> Tensor {
    let parents = inputs.map { $0.trackedNode(in: tape) }
    if parents.allSatisfy({ $0 == nil }) { return output }
    var result = output
    result.node = tape.append(shape: output.shape, parents: parents, pullback: pullback)
    return result
}

/// As ``record(_:inputs:pullback:)``, for primitives whose input gradients are costly: the
/// pullback is told which inputs are tracked (`wanted[i]`) and may return nil for the others,
/// whose gradients would be dropped anyway (a network's input images, a detached batch).
@inline(__always)
func record(_ output: Tensor, inputs: [Tensor], selectivePullback: @escaping (Tensor, _ wanted: [Bool]) -> [Tensor?]) -> Tensor {
    guard let tape = GradientTape.current else { return output }
    let wanted = inputs.map { $0.trackedNode(in: tape) != nil }
    return recordSlow(output, inputs: inputs, tape: tape) { selectivePullback($0, wanted) }
}
