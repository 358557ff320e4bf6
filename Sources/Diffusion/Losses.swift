import GenCore

/// The DDPM training loss (Ho et al. 2020, Eq. 14, "L_simple"), for any prediction type: draw a
/// step k uniformly from 1…T and noise ε, form `xt = α·data + σ·ε`, and return the mean squared
/// error between the network's output and its target (ε, data or velocity).
/// - Parameters:
///   - data: clean images `[N, C, H, W]` in [−1, 1]
///   - generator: draws the steps and the noise
public func ddpmLoss(network: any DenoisingNetwork, prediction: Prediction, schedule: NoiseSchedule,
                     data: Tensor, generator: RandomGenerator) -> Tensor {
    let batch = data.shape[0]
    // 1. random steps and noise
    let times = (0..<batch).map { _ in Double(1 + generator.nextInt(below: schedule.steps)) / Double(schedule.steps) }
    let noise = Tensor.randomNormal(data.shape, using: generator)
    let (alpha, sigma) = schedule.coefficients(times)
    // 2. the noisy images and what the network should say about them
    let xt = alpha * data + sigma * noise
    let target = Prediction.target(prediction, data: data, noise: noise, alpha: alpha, sigma: sigma)
    // 3. mean squared error
    let output = network(xt, times: Tensor(times.map(Float.init)))
    return (output - target).squared().mean()
}
