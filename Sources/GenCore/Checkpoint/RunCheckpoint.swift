import Foundation

/// Where a training run stands, beyond its tensors: saved as JSON in the checkpoint's metadata.
public struct TrainerState: Codable, Sendable, Equatable {
    /// Optimizer updates done.
    public var step: Int
    /// The data loader's position.
    public var loader: LoaderPosition
    /// The noise generator's state.
    public var noise: RandomState
    /// The dropout generator's state.
    public var dropout: RandomState
    /// Non-finite losses in a row at the time of saving.
    public var nonFiniteStreak: Int

    public init(step: Int, loader: LoaderPosition, noise: RandomState, dropout: RandomState, nonFiniteStreak: Int) {
        self.step = step
        self.loader = loader
        self.noise = noise
        self.dropout = dropout
        self.nonFiniteStreak = nonFiniteStreak
    }
}

/// Everything a run needs to continue or to sample, in one safetensors file: the model's
/// weights (`model.*`), the EMA weights (`ema.*`), the optimizer's state (`optimizer.*`), and in
/// `__metadata__` the run's configuration (`config`, JSON), the ``TrainerState`` (`trainer`),
/// the family's kind (`kind`) and the version of gen that wrote it (`gen_version`): the file
/// alone is enough to sample from, evaluate, or resume the run.
public struct RunCheckpoint {
    public var configJSON: String
    public var trainer: TrainerState
    public var model: [String: Tensor]
    public var ema: [String: Tensor]
    public var optimizer: [String: Tensor]

    public init(configJSON: String, trainer: TrainerState, model: [String: Tensor], ema: [String: Tensor], optimizer: [String: Tensor]) {
        self.configJSON = configJSON
        self.trainer = trainer
        self.model = model
        self.ema = ema
        self.optimizer = optimizer
    }

    /// The weights to sample with: the EMA weights when the run keeps them.
    public var samplingWeights: [String: Tensor] {
        ema.isEmpty ? model : ema.filter { !$0.key.hasPrefix("__") }
    }

    /// Writes the checkpoint atomically and durably.
    public func write(to url: URL) throws {
        try SafeTensors.write(try contents(), to: url)
    }

    /// The checkpoint as the bytes of its file (what rank 0 sends the other ranks).
    public func encoded() throws -> Data {
        SafeTensors.encode(try contents())
    }

    private func contents() throws -> SafeTensors.Contents {
        var tensors: [String: Tensor] = [:]
        for (name, tensor) in model { tensors["model.\(name)"] = tensor }
        for (name, tensor) in ema { tensors["ema.\(name)"] = tensor }
        for (name, tensor) in optimizer { tensors["optimizer.\(name)"] = tensor }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let trainerJSON = String(decoding: try encoder.encode(trainer), as: UTF8.self)
        var metadata = ["config": configJSON, "trainer": trainerJSON, "gen_version": GenCore.version]
        if let kind = try? RunKind.decode(configJSON).kind { metadata["kind"] = kind }
        return .init(tensors: tensors, metadata: metadata)
    }

    /// The checkpoint a location names: a run folder's `checkpoint.safetensors`, or a file.
    public static func locate(_ location: URL) throws -> URL {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: location.path, isDirectory: &isFolder) else {
            throw GenError.missingInput("\(location.path): no such run or checkpoint file")
        }
        guard isFolder.boolValue else { return location }
        let url = location.appendingPathComponent("checkpoint.safetensors")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw GenError.missingInput("\(location.path): no checkpoint.safetensors in this folder")
        }
        return url
    }

    /// Reads a checkpoint written by ``write(to:)``.
    public static func read(_ url: URL) throws -> RunCheckpoint {
        try parse(try SafeTensors.read(url), name: url.path)
    }

    /// A checkpoint from the bytes ``encoded()`` gave; `name` names them in errors.
    public static func decode(_ data: Data, name: String) throws -> RunCheckpoint {
        try parse(try SafeTensors.decode(data, name: name), name: name)
    }

    private static func parse(_ contents: SafeTensors.Contents, name: String) throws -> RunCheckpoint {
        let url = URL(fileURLWithPath: name)
        guard let config = contents.metadata["config"], let trainerText = contents.metadata["trainer"] else {
            throw SafeTensorsError.invalid(url.path, "not a gen checkpoint (no config or trainer metadata)")
        }
        let trainer: TrainerState
        do { trainer = try JSONDecoder().decode(TrainerState.self, from: Data(trainerText.utf8)) } catch {
            throw SafeTensorsError.invalid(url.path, "trainer metadata is not understood")
        }
        var model: [String: Tensor] = [:], ema: [String: Tensor] = [:], optimizer: [String: Tensor] = [:]
        for (name, tensor) in contents.tensors {
            if name.hasPrefix("model.") { model[String(name.dropFirst(6))] = tensor }
            else if name.hasPrefix("ema.") { ema[String(name.dropFirst(4))] = tensor }
            else if name.hasPrefix("optimizer.") { optimizer[String(name.dropFirst(10))] = tensor }
            else { throw SafeTensorsError.invalid(url.path, "unexpected tensor '\(name)' in a gen checkpoint") }
        }
        return RunCheckpoint(configJSON: config, trainer: trainer, model: model, ema: ema, optimizer: optimizer)
    }

    /// The first tensor with a NaN or infinity among the weights and EMA weights, if any.
    public var firstNonFiniteTensor: String? {
        for (prefix, tensors) in [("model", model), ("ema", ema)] {
            for name in tensors.keys.sorted() where !tensors[name]!.isFinite { return "\(prefix).\(name)" }
        }
        return nil
    }
}
