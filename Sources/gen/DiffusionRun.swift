import Diffusion
import Foundation
import GenCore

/// Rebuilds the model of a diffusion-family run (ddpm, sde, flow) from its checkpoint.
enum DiffusionRun {
    static let kinds = ["ddpm", "sde", "flow"]

    /// The run's kind and its model with the sampling (EMA) or raw weights, in evaluation mode.
    static func load(_ checkpoint: RunCheckpoint, from url: URL, emaWeights: Bool) throws -> (kind: String, model: any DiffusionModel & TrainingTask) {
        let kind = try RunKind.decode(checkpoint.configJSON).kind
        let model: any DiffusionModel & TrainingTask
        do {
            switch kind {
            case "ddpm": model = DDPM(try RunConfiguration<DDPMConfiguration>.decode(checkpoint.configJSON).model)
            case "sde": model = ScoreSDE(try RunConfiguration<ScoreSDEConfiguration>.decode(checkpoint.configJSON).model)
            case "flow":
                let configuration = try RunConfiguration<FlowMatchingConfiguration>.decode(checkpoint.configJSON).model
                guard configuration.prediction == .velocity else {
                    throw Failure(message: "\(url.path): a flow run must predict the velocity, its configuration says \(configuration.prediction)", code: Exit.badData)
                }
                model = FlowMatching(configuration)
            default:
                throw Failure(message: "\(url.path): a \(kind) run; this command knows \(kinds.joined(separator: ", ")) runs", code: Exit.badData)
            }
        } catch let error as DecodingError {
            throw Failure(message: "\(url.path): the run configuration does not describe a \(kind) model: \(error)", code: Exit.badData)
        }
        do {
            try model.model.load(stateDict: emaWeights ? checkpoint.samplingWeights : checkpoint.model)
        } catch let error as StateDictError {
            throw Failure(message: "\(url.path): does not fit its own configuration: \(error)", code: Exit.badData)
        }
        model.model.eval()
        return (kind, model)
    }
}
