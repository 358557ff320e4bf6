import Flows
import Foundation
import GenCore
import VAE

/// Rebuilds the models of vae and realnvp runs from their checkpoints.
enum ModelRun {
    /// The run's model configuration, or a one-line error naming the file.
    static func configuration<Model: Codable & Sendable>(_ checkpoint: RunCheckpoint, from url: URL, kind: String) throws -> Model {
        do {
            return try RunConfiguration<Model>.decode(checkpoint.configJSON).model
        } catch {
            throw Failure(message: "\(url.path): the run configuration does not describe a \(kind) model: \(error)", code: Exit.badData)
        }
    }

    /// Loads the sampling (EMA) or raw weights into `module` and switches it to evaluation mode.
    static func loadWeights(_ module: Module, _ checkpoint: RunCheckpoint, from url: URL, emaWeights: Bool) throws {
        do {
            try module.load(stateDict: emaWeights ? checkpoint.samplingWeights : checkpoint.model)
        } catch let error as StateDictError {
            throw Failure(message: "\(url.path): does not fit its own configuration: \(error)", code: Exit.badData)
        }
        module.eval()
    }

    static func vae(_ checkpoint: RunCheckpoint, from url: URL, emaWeights: Bool) throws -> VAE {
        let configuration: VAEConfiguration = try self.configuration(checkpoint, from: url, kind: "vae")
        if let problem = configuration.problem { throw Failure(message: "\(url.path): \(problem)", code: Exit.badData) }
        let vae = VAE(configuration)
        try loadWeights(vae.network, checkpoint, from: url, emaWeights: emaWeights)
        return vae
    }

    static func realNVP(_ checkpoint: RunCheckpoint, from url: URL, emaWeights: Bool) throws -> RealNVP {
        let configuration: RealNVPConfiguration = try self.configuration(checkpoint, from: url, kind: "realnvp")
        if let problem = configuration.problem { throw Failure(message: "\(url.path): \(problem)", code: Exit.badData) }
        let model = RealNVP(configuration)
        try loadWeights(model.flow, checkpoint, from: url, emaWeights: emaWeights)
        return model
    }
}
