/// A neural-network building block: a class whose stored properties hold its parameters
/// (`Tensor`), buffers (`Tensor` properties whose names start with `_`) and sub-modules
/// (`Module`, `[Module]`, or optionals of them). They are found by reflection, so a layer
/// declares them and nothing else.
///
/// Paths follow PyTorch's `state_dict`: a property's name in snake case (`runningMean` →
/// `running_mean`, `_runningMean` → `running_mean`), array elements by index
/// (`blocks.0.conv.weight`).
///
/// ```swift
/// final class MLP: Module {
///     let fc1: Linear, fc2: Linear
///     init(inputs: Int, hidden: Int, outputs: Int) {
///         fc1 = Linear(inputs, hidden)
///         fc2 = Linear(hidden, outputs)
///     }
///     func callAsFunction(_ x: Tensor) -> Tensor { fc2(fc1(x).relu()) }
/// }
/// ```
///
/// Parameters and buffers are tensors whose memory the module owns: optimizers, EMA and
/// ``load(stateDict:)`` write into that memory in place.
open class Module {
    /// Whether the module is in training mode (dropout active, batch statistics used).
    public private(set) var isTraining = true

    public init() {}

    /// Switches this module and every sub-module to training (`true`) or evaluation mode.
    public func train(_ on: Bool = true) {
        isTraining = on
        for (_, child) in namedChildren() { child.train(on) }
    }

    /// Switches to evaluation mode.
    public func eval() { train(false) }

    /// Every parameter with its path, in declaration order, sub-modules recursively.
    public func namedParameters() -> [(String, Tensor)] {
        var result: [(String, Tensor)] = []
        visit(prefix: "") { path, tensor, isBuffer in if !isBuffer { result.append((path, tensor)) } }
        return result
    }

    /// Every buffer (running statistics, power-iteration vectors) with its path.
    public func namedBuffers() -> [(String, Tensor)] {
        var result: [(String, Tensor)] = []
        visit(prefix: "") { path, tensor, isBuffer in if isBuffer { result.append((path, tensor)) } }
        return result
    }

    /// The number of parameter elements (shared parameters counted once).
    public var parameterCount: Int {
        var seen = Set<ObjectIdentifier>()
        return namedParameters().reduce(0) { total, entry in
            seen.insert(ObjectIdentifier(entry.1.storage)).inserted ? total + entry.1.count : total
        }
    }

    /// Parameters and buffers by path: what a checkpoint stores.
    public func stateDict() -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        visit(prefix: "") { path, tensor, _ in result[path] = tensor }
        return result
    }

    /// The direct sub-modules with their names.
    public func namedChildren() -> [(String, Module)] {
        var result: [(String, Module)] = []
        for (label, value) in storedProperties() {
            if let module = value as? Module {
                result.append((label, module))
            } else if let modules = value as? [Module] {
                for (i, module) in modules.enumerated() { result.append(("\(label).\(i)", module)) }
            }
        }
        return result
    }

    /// Copies `stateDict` into this module's parameters and buffers in place.
    ///
    /// Every path of the module must be present with the same shape, and no extra paths may be
    /// given; otherwise nothing is changed and the error names the first difference.
    public func load(stateDict: [String: Tensor]) throws {
        let own = self.stateDict()
        for path in own.keys.sorted() {
            guard let given = stateDict[path] else { throw StateDictError.missing(path) }
            let expected = own[path]!
            if given.shape != expected.shape {
                throw StateDictError.shapeMismatch(path, expected: expected.shape, found: given.shape)
            }
        }
        if let extra = stateDict.keys.sorted().first(where: { own[$0] == nil }) {
            throw StateDictError.unexpected(extra)
        }
        for (path, tensor) in own { tensor.assign(stateDict[path]!) }
    }

    // MARK: Reflection

    /// The properties reflection sees, as (label, value). A container whose children are not
    /// named properties (``Sequential``) overrides this.
    open func storedProperties() -> [(String, Any)] {
        var mirrors: [Mirror] = []
        var mirror: Mirror? = Mirror(reflecting: self)
        while let current = mirror {
            mirrors.append(current)
            mirror = current.superclassMirror
        }
        return mirrors.reversed().flatMap { mirror in
            mirror.children.compactMap { child in child.label.map { ($0, child.value) } }
        }
    }

    private func visit(prefix: String, _ body: (String, Tensor, Bool) -> Void) {
        for (label, value) in storedProperties() {
            let isBuffer = label.hasPrefix("_")
            let name = prefix + Module.stateName(label)
            if let tensor = value as? Tensor {
                body(name, tensor, isBuffer)
            } else if let tensors = value as? [Tensor] {
                for (i, tensor) in tensors.enumerated() { body("\(name).\(i)", tensor, isBuffer) }
            } else if let module = value as? Module {
                module.visit(prefix: name + ".", body)
            } else if let modules = value as? [Module] {
                for (i, module) in modules.enumerated() { module.visit(prefix: "\(name).\(i).", body) }
            }
        }
    }

    /// `_runningMean` → `running_mean`.
    static func stateName(_ label: String) -> String {
        var result = ""
        for character in label.drop(while: { $0 == "_" }) {
            if character.isUppercase {
                result += "_" + character.lowercased()
            } else {
                result.append(character)
            }
        }
        return result
    }
}

/// Why a state dict could not be loaded into a module.
public enum StateDictError: Error, Equatable, CustomStringConvertible {
    case missing(String)
    case unexpected(String)
    case shapeMismatch(String, expected: [Int], found: [Int])

    public var description: String {
        switch self {
        case .missing(let path): return "missing tensor '\(path)'"
        case .unexpected(let path): return "unexpected tensor '\(path)' (the model has no such parameter)"
        case .shapeMismatch(let path, let expected, let found):
            return "tensor '\(path)' has shape \(found), the model expects \(expected)"
        }
    }
}

/// A module that maps one tensor to one tensor, so it can sit in a ``Sequential``.
public protocol UnaryLayer: Module {
    func callAsFunction(_ input: Tensor) -> Tensor
}
