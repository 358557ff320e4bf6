import Foundation
import GenCore
import Testing

/// Two interleaving half circles with Gaussian noise (scikit-learn's `make_moons`).
func twoMoons(count: Int, noise: Float, generator: RandomGenerator) -> (points: Tensor, labels: [Int]) {
    var points: [Float] = [], labels: [Int] = []
    for i in 0..<count {
        let label = i % 2
        let angle = Float.pi * generator.nextUniform()
        let (x, y) = label == 0 ? (cos(angle), sin(angle)) : (1 - cos(angle), 0.5 - sin(angle))
        points += [x + noise * generator.nextNormal(), y + noise * generator.nextNormal()]
        labels.append(label)
    }
    return (Tensor(points, shape: [count, 2]), labels)
}

final class MLP: Module {
    let fc1: Linear, fc2: Linear, fc3: Linear
    init(generator: RandomGenerator) {
        fc1 = Linear(2, 32, generator: generator)
        fc2 = Linear(32, 32, generator: generator)
        fc3 = Linear(32, 2, generator: generator)
    }
    func callAsFunction(_ x: Tensor) -> Tensor { fc3(fc2(fc1(x).relu()).relu()) }
}

func crossEntropy(logits: Tensor, labels: [Int]) -> Tensor {
    -(logits.logSoftmax(axis: 1) * Tensor.oneHot(labels, classes: logits.shape[1])).sum(axes: [1]).mean()
}

@Suite("Learning")
struct LearningTests {
    /// A small MLP reaches ≥ 97% accuracy on 1,000 two-moons points within 2,000 Adam steps.
    @Test func mlpLearnsTwoMoons() {
        let generator = RandomGenerator(seed: 0)
        let (points, labels) = twoMoons(count: 1000, noise: 0.1, generator: generator)
        let model = MLP(generator: generator)
        let optimizer = Adam(learningRate: 1e-2)
        var accuracy: Float = 0
        for step in 0..<2000 {
            let batch = (0..<128).map { _ in generator.nextInt(below: 1000) }
            let (_, gradients) = valueAndGrad(model) { m in
                crossEntropy(logits: m(points[rows: batch]), labels: batch.map { labels[$0] })
            }
            optimizer.update(model, with: gradients)
            if step % 100 == 99 {
                let predictions = withoutGradients { model(points) }
                accuracy = Float(labels.indices.filter { i in (predictions[i, 1] > predictions[i, 0] ? 1 : 0) == labels[i] }.count) / 1000
                if accuracy >= 0.97 { break }
            }
        }
        #expect(accuracy >= 0.97, "accuracy \(accuracy)")
    }

    /// A small conv net fits a fixed random batch: the loss falls by 10×.
    @Test func convNetFitsAFixedBatch() {
        let generator = RandomGenerator(seed: 1)
        let model = Sequential(
            Conv2d(1, 8, kernelSize: 3, padding: 1, generator: generator), GroupNorm(groups: 4, channels: 8), SiLU(),
            Conv2d(8, 16, kernelSize: 3, stride: 2, padding: 1, generator: generator), ReLU(),
            Flatten(), Linear(16 * 7 * 7, 10, generator: generator))
        let images = Tensor.randomNormal([32, 1, 14, 14], using: generator)
        let labels = (0..<32).map { _ in generator.nextInt(below: 10) }
        let optimizer = Adam(learningRate: 3e-3)
        var first: Float = 0, last: Float = 0
        for step in 0..<150 {
            let (loss, gradients) = valueAndGrad(model) { m in crossEntropy(logits: m(images), labels: labels) }
            optimizer.update(model, with: gradients)
            if step == 0 { first = loss.item }
            last = loss.item
        }
        #expect(last * 10 <= first, "loss \(first) → \(last)")
    }
}
