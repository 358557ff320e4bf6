import GenCore

/// What a denoising network predicts from `xt = alpha·data + sigma·noise` (alpha² + sigma² = 1):
/// the noise ε, the clean data, or the velocity v = alpha·ε − sigma·data (Salimans & Ho 2022).
/// Every conversion between them lives here.
public enum Prediction: String, Codable, Sendable, CaseIterable {
    case noise, data, velocity

    /// The target the network should output, given the true `data` and `noise`.
    public static func target(_ kind: Prediction, data: Tensor, noise: Tensor, alpha: Tensor, sigma: Tensor) -> Tensor {
        switch kind {
        case .noise: return noise
        case .data: return data
        case .velocity: return alpha * noise - sigma * data
        }
    }

    /// The noise implied by a prediction of `kind` at `xt`.
    public static func noise(from output: Tensor, _ kind: Prediction, xt: Tensor, alpha: Tensor, sigma: Tensor) -> Tensor {
        switch kind {
        case .noise: return output
        case .data: return (xt - alpha * output) / sigma               // ε = (xt − α·x̂)/σ
        case .velocity: return sigma * xt + alpha * output             // ε = σ·xt + α·v
        }
    }

    /// The clean data implied by a prediction of `kind` at `xt`.
    public static func data(from output: Tensor, _ kind: Prediction, xt: Tensor, alpha: Tensor, sigma: Tensor) -> Tensor {
        switch kind {
        case .noise: return (xt - sigma * output) / alpha              // x̂ = (xt − σ·ε)/α
        case .data: return output
        case .velocity: return alpha * xt - sigma * output             // x̂ = α·xt − σ·v
        }
    }

    /// The velocity implied by a prediction of `kind` at `xt`.
    public static func velocity(from output: Tensor, _ kind: Prediction, xt: Tensor, alpha: Tensor, sigma: Tensor) -> Tensor {
        let noise = noise(from: output, kind, xt: xt, alpha: alpha, sigma: sigma)
        let data = data(from: output, kind, xt: xt, alpha: alpha, sigma: sigma)
        return alpha * noise - sigma * data
    }

    /// The score ∇ log p(xt) = −ε/σ.
    public static func score(from output: Tensor, _ kind: Prediction, xt: Tensor, alpha: Tensor, sigma: Tensor) -> Tensor {
        -noise(from: output, kind, xt: xt, alpha: alpha, sigma: sigma) / sigma
    }
}

/// Anything that maps noisy images and times to a prediction: a trained network, or an exact
/// analytic denoiser in tests.
public protocol DenoisingNetwork: AnyObject {
    /// - Parameters: xt `[N, C, H, W]`, times `[N]` in [0, 1]. Returns `[N, C, H, W]`.
    func callAsFunction(_ xt: Tensor, times: Tensor) -> Tensor
}

extension UNet: DenoisingNetwork {}

/// A network together with its prediction type and noise schedule: it answers "what noise /
/// data is in `xt` at time t". Samplers talk only to this, never to a concrete network.
public final class Denoiser {
    public let network: any DenoisingNetwork
    public let prediction: Prediction
    public let schedule: NoiseSchedule

    public init(network: any DenoisingNetwork, prediction: Prediction, schedule: NoiseSchedule) {
        self.network = network
        self.prediction = prediction
        self.schedule = schedule
    }

    /// The predicted noise and data at `xt`, all samples at time `t`.
    public func predict(_ xt: Tensor, at t: Double) -> (noise: Tensor, data: Tensor) {
        let batch = xt.shape[0]
        let output = network(xt, times: Tensor.full([batch], Float(t)))
        let alpha = Tensor(Float(schedule.alpha(t))), sigma = Tensor(Float(schedule.sigma(t)))
        return (Prediction.noise(from: output, prediction, xt: xt, alpha: alpha, sigma: sigma),
                Prediction.data(from: output, prediction, xt: xt, alpha: alpha, sigma: sigma))
    }
}
