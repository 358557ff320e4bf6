/// A feature classifier as a run stores it.
public struct FeatureClassifierConfiguration: ModelConfiguration {
    /// `[channels, height, width]`.
    public var imageShape: [Int]
    public var classes: Int
    /// Channels of the first convolution (the second has twice as many).
    public var channels: Int
    /// Width of the penultimate layer: the features the sample metrics compare.
    public var features: Int

    public init(imageShape: [Int], classes: Int, channels: Int = 32, features: Int = 128) {
        self.imageShape = imageShape
        self.classes = classes
        self.channels = channels
        self.features = features
    }

    public func estimatedTrainingBytes(batchSize: Int) -> Double {
        let c = Double(channels), pixels = Double(imageShape[1] * imageShape[2])
        return trainingBytes(parameters: 9 * Double(imageShape[0]) * c + 18 * c * c + 2 * c * pixels / 16 * Double(features) + Double(features * classes),
                             activationsPerImage: 6 * (c * pixels + c * pixels / 2), batchSize: batchSize)
    }

    public func validate() throws(ConfigurationError) {
        try checkImageShape(imageShape)
        guard imageShape[1] % 4 == 0, imageShape[2] % 4 == 0 else {
            throw .data("the classifier halves images twice: \(imageShape[1])×\(imageShape[2]) is not a multiple of 4")
        }
        guard classes >= 2 else { throw .data("a classifier needs at least 2 classes, the labels hold \(classes)") }
        guard channels >= 1, features >= 1 else { throw .settings("--channels and --features must be at least 1") }
    }
}

/// The network: two 3×3 convolutions with ReLU and 2×2 max pooling, a dense layer whose ReLU
/// outputs are the features, and a linear layer to the class logits (the small MNIST classifier
/// of the MNIST-FID convention). Inputs are images in [-1, 1].
public final class FeatureClassifierNetwork: Module {
    public let conv1: Conv2d
    public let conv2: Conv2d
    public let fc1: Linear
    public let fc2: Linear

    public init(_ configuration: FeatureClassifierConfiguration) {
        let c = configuration.channels, shape = configuration.imageShape
        conv1 = Conv2d(shape[0], c, kernelSize: 3, padding: 1)
        conv2 = Conv2d(c, 2 * c, kernelSize: 3, padding: 1)
        fc1 = Linear(2 * c * (shape[1] / 4) * (shape[2] / 4), configuration.features)
        fc2 = Linear(configuration.features, configuration.classes)
    }

    /// The penultimate layer's activations `[N, features]`.
    public func features(_ x: Tensor) -> Tensor {
        let h1 = conv1(x).relu().maxPool2d(kernel: (2, 2))
        let h2 = conv2(h1).relu().maxPool2d(kernel: (2, 2))
        return fc1(h2.flattened()).relu()
    }

    /// Class logits `[N, classes]`.
    public func callAsFunction(_ x: Tensor) -> Tensor { fc2(features(x)) }
}

/// Trains a ``FeatureClassifierNetwork`` by cross-entropy on labelled images, and serves its
/// features to ``FrechetDistance``, ``KernelInceptionDistance`` and ``PrecisionRecall``.
public final class FeatureClassifier: SingleLossTask {
    public let configuration: FeatureClassifierConfiguration
    public let network: FeatureClassifierNetwork

    public init(_ configuration: FeatureClassifierConfiguration) {
        do { try configuration.validate() } catch { require(false, "FeatureClassifier: \(error)") }
        self.configuration = configuration
        network = FeatureClassifierNetwork(configuration)
    }

    public var model: Module { network }
    public var pixelRange: PixelRange { .symmetric }
    /// A classifier draws no images; the trainer writes no sample grids.
    public var drawsSamples: Bool { false }

    /// The mean cross-entropy of the batch's labels under the logits.
    public func loss(batch: Batch, generator: RandomGenerator) -> Tensor {
        guard let labels = batch.labels else { preconditionFailure("FeatureClassifier: the batch has no labels (FeatureClassifierFamily.needsLabels)") }
        return FeatureClassifier.crossEntropy(logits: network(batch.images), labels: labels, classes: configuration.classes)
    }

    /// −log softmax(logits)[label], averaged over the rows.
    public static func crossEntropy(logits: Tensor, labels: [Int], classes: Int) -> Tensor {
        -(logits.logSoftmax(axis: 1) * Tensor.oneHot(labels, classes: classes)).sum(axes: [1]).mean()
    }

    /// Never called: ``drawsSamples`` is false. Blank images.
    public func samples(count: Int, generator: RandomGenerator) -> Tensor {
        Tensor.zeros([count] + configuration.imageShape)
    }

    /// Features `[N, features]` of images in [-1, 1], in batches of `batchSize`, without gradients.
    public func features(_ images: Tensor, batchSize: Int = 256) -> Tensor {
        evaluated(images, batchSize: batchSize) { network.features($0) }
    }

    /// The predicted classes of images in [-1, 1].
    public func predictions(_ images: Tensor, batchSize: Int = 256) -> [Int] {
        let logits = evaluated(images, batchSize: batchSize) { network($0) }
        let classes = configuration.classes, values = logits.scalars
        return (0..<logits.shape[0]).map { row in
            let scores = values[(row * classes)..<((row + 1) * classes)]
            return scores.indices.max { scores[$0] < scores[$1] }! - row * classes
        }
    }

    /// The fraction of images whose predicted class is their label.
    public func accuracy(_ images: Tensor, labels: [Int]) -> Double {
        require(images.rank == 4 && images.shape[0] == labels.count && !labels.isEmpty,
                "FeatureClassifier.accuracy: \(labels.count) labels for images \(images.shape)")
        return Double(zip(predictions(images), labels).filter { $0 == $1 }.count) / Double(labels.count)
    }

    private func evaluated(_ images: Tensor, batchSize: Int, _ body: (Tensor) -> Tensor) -> Tensor {
        require(images.rank == 4 && Array(images.shape.dropFirst()) == configuration.imageShape,
                "FeatureClassifier: images \(images.shape) do not match the classifier's \(configuration.imageShape)")
        let wasTraining = network.isTraining
        network.eval()
        defer { if wasTraining { network.train() } }
        return withoutGradients {
            let n = images.shape[0]
            let parts = stride(from: 0, to: n, by: batchSize).map { start in
                body(images.slice(axis: 0, start: start, count: min(n, start + batchSize) - start))
            }
            return parts.count == 1 ? parts[0] : Tensor.concatenate(parts, axis: 0)
        }
    }
}
