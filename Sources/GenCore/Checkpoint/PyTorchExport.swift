import Foundation

/// A family's module written in PyTorch: the source of `model.py`, which defines
/// `class Model(torch.nn.Module)` with gen's parameter names and layouts, and the keyword
/// arguments that build it for one configuration.
public struct PyTorchModule: Sendable, Equatable {
    /// A keyword argument's value, as `config.json` holds it.
    public enum Argument: Sendable, Equatable {
        case integer(Int)
        case number(Double)
        case flag(Bool)
        case text(String)
        case integers([Int])
        case none

        /// A `Float` setting as its shortest decimal (0.1, not 0.10000000149011612).
        public static func number(_ value: Float) -> Argument { .number(Double("\(value)") ?? Double(value)) }

        var json: String {
            switch self {
            case .integer(let value): return "\(value)"
            case .number(let value): return value.isFinite ? "\(value)" : "null"
            case .flag(let value): return value ? "true" : "false"
            case .text(let value): return jsonQuoted(value)
            case .integers(let values): return "[" + values.map(String.init).joined(separator: ", ") + "]"
            case .none: return "null"
            }
        }
    }

    /// The Python source.
    public var source: String
    /// `Model`'s keyword arguments.
    public var arguments: [String: Argument]

    public init(source: String, arguments: [String: Argument]) {
        self.source = source
        self.arguments = arguments
    }

    /// `config.json`: the keyword arguments, sorted, one per line.
    public var argumentsJSON: String {
        "{\n" + arguments.sorted { $0.key < $1.key }.map { "  \(jsonQuoted($0.key)): \($0.value.json)" }.joined(separator: ",\n") + "\n}\n"
    }
}

/// `gen export --pytorch`: a run's model as a PyTorch module a user loads without gen.
///
/// ```python
/// import json, torch
/// from safetensors.torch import load_file
/// from model import Model
/// model = Model(**json.load(open("config.json")))
/// model.load_state_dict(load_file("weights.safetensors"), strict=True)
/// model.eval()
/// ```
public enum PyTorchExport {
    /// The files an export writes.
    public static let files = ["model.py", "weights.safetensors", "config.json"]

    /// Writes `model.py`, `weights.safetensors` (the module's state with `weights`, gen's names)
    /// and `config.json` (`Model`'s keyword arguments) of `run` into `folder`, which is created
    /// if missing. Existing files of those names are replaced only with `overwrite`.
    /// - Returns: the files written.
    /// - Throws: a usage error for a family without a PyTorch module.
    @discardableResult
    public static func write(_ run: SavedRun, to folder: URL, weights: ModelWeights = .sampling, overwrite: Bool = false) throws -> [URL] {
        let (module, state) = try run.family.pytorchExport(run.checkpoint, from: run.checkpointURL, weights: weights)
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder) {
            guard isFolder.boolValue else { throw GenError.usage("\(folder.path): exists and is not a folder") }
        } else {
            do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
                throw GenError.cannotWrite("\(folder.path): cannot create the folder (\(error.localizedDescription))")
            }
        }
        let urls = files.map { folder.appendingPathComponent($0) }
        for url in urls { try OutputFile.check(url.path, overwrite: overwrite, protected: [run.checkpointURL]) }
        // the run configuration too, so the file says which gen model the weights fit
        let metadata = ["format": "pt", "gen_version": GenCore.version, "kind": run.kind, "weights": weights.label, "gen_config": run.checkpoint.configJSON]
        try AtomicFile.write(Data(module.source.utf8), to: urls[0])
        try SafeTensors.write(SafeTensors.Contents(tensors: state, metadata: metadata), to: urls[1])
        try AtomicFile.write(Data(module.argumentsJSON.utf8), to: urls[2])
        return urls
    }
}

extension ModelFamily {
    /// The module and its state (with `weights`) of the run in `checkpoint`, for
    /// ``PyTorchExport``; throws a usage error when the family has no PyTorch module.
    public static func pytorchExport(_ checkpoint: RunCheckpoint, from url: URL, weights: ModelWeights) throws -> (PyTorchModule, [String: Tensor]) {
        let configuration = try runConfiguration(from: checkpoint.configJSON, file: url.path)
        guard let module = pytorchModule(for: configuration.model) else {
            throw GenError.usage("\(url.path): \(configuration.model.conditioning == nil ? "" : "class-conditional ")\(kind) runs have no PyTorch module to export")
        }
        return (module, try load(checkpoint, from: url, weights: weights).model.stateDict())
    }
}
