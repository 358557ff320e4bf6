import Foundation
import GAN
import GenCore

/// Rebuilds a wgan run's model from its checkpoint.
enum GANRun {
    /// The WGAN with the generator's sampling (EMA) or raw weights, in evaluation mode.
    static func load(_ checkpoint: RunCheckpoint, from url: URL, emaWeights: Bool) throws -> WGAN {
        let configuration: GANConfiguration
        do {
            configuration = try RunConfiguration<GANConfiguration>.decode(checkpoint.configJSON).model
        } catch {
            throw Failure(message: "\(url.path): the run configuration does not describe a wgan model: \(error)", code: Exit.badData)
        }
        if let problem = configuration.problem { throw Failure(message: "\(url.path): \(problem)", code: Exit.badData) }
        let wgan = WGAN(configuration)
        do {
            try wgan.model.load(stateDict: checkpoint.model)
            if emaWeights && !checkpoint.ema.isEmpty { try wgan.generator.load(stateDict: checkpoint.samplingWeights) }
        } catch let error as StateDictError {
            throw Failure(message: "\(url.path): does not fit its own configuration: \(error)", code: Exit.badData)
        }
        wgan.model.eval()
        return wgan
    }
}
