import Foundation
import GenCore
import Testing

/// `n` rows of `d` features drawn by `row` from a seeded generator.
private func features(_ n: Int, _ d: Int, seed: UInt64, _ row: (RandomGenerator) -> [Float]) -> Tensor {
    let generator = RandomGenerator(seed: seed)
    return Tensor((0..<n).flatMap { _ in row(generator) }, shape: [n, d])
}

/// A non-Gaussian cloud in d dimensions: one of four clusters, with correlated coordinates.
private func mixture(_ n: Int, d: Int = 16, seed: UInt64) -> Tensor {
    features(n, d, seed: seed) { g in
        let cluster = Float(g.nextInt(below: 4))
        let shared = g.nextNormal()
        return (0..<d).map { j in cluster * Float(j % 3) + 0.5 * shared + g.nextNormal() * (1 + Float(j) / Float(d)) }
    }
}

@Suite("Sample metrics: Fréchet distance, KID, precision/recall")
struct SampleMetricsTests {
    // MARK: Fréchet distance

    /// Two Gaussians in closed form. Diagonal covariances: Σ (√a − √b)². A non-commuting 2×2
    /// pair: the eigenvalues λ₁, λ₂ of Σ₁Σ₂ are positive, so tr (Σ₁Σ₂)^½ = √(tr Σ₁Σ₂ + 2√det Σ₁Σ₂).
    @Test func frechetDistanceMatchesClosedForms() {
        let a: [Double] = [1, 2, 0.5, 3, 0.1], b: [Double] = [2, 0.5, 0.5, 1, 4]
        func diagonal(_ v: [Double]) -> [Double] {
            var m = [Double](repeating: 0, count: v.count * v.count)
            for i in v.indices { m[i * v.count + i] = v[i] }
            return m
        }
        let mean1: [Double] = [0, 1, 2, 3, 4], mean2: [Double] = [1, 1, 0, 3, 4.5]
        var expected = zip(mean1, mean2).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        expected += zip(a, b).reduce(0) { $0 + ($1.0.squareRoot() - $1.1.squareRoot()) * ($1.0.squareRoot() - $1.1.squareRoot()) }
        let fid = FrechetDistance.between(mean1: mean1, covariance1: diagonal(a), mean2: mean2, covariance2: diagonal(b))
        #expect(abs(fid - expected) < 1e-9 * max(1, expected), "\(fid) vs \(expected)")

        let s1: [Double] = [2, 0.5, 0.5, 1], s2: [Double] = [1, -0.3, -0.3, 0.5]
        let product = LinearAlgebra.multiply(s1, s2, m: 2, k: 2, n: 2)
        let det = (s1[0] * s1[3] - s1[1] * s1[2]) * (s2[0] * s2[3] - s2[1] * s2[2])
        let rootTrace = (product[0] + product[3] + 2 * det.squareRoot()).squareRoot()
        let closed = 1 + 4 + (2 + 1) + (1 + 0.5) - 2 * rootTrace  // ‖(1, 2) − (0, 0)‖² = 5
        let computed = FrechetDistance.between(mean1: [1, 2], covariance1: s1, mean2: [0, 0], covariance2: s2)
        #expect(abs(computed - closed) < 1e-9, "\(computed) vs \(closed)")
        // symmetric in its arguments, and 0 for one Gaussian against itself
        #expect(abs(FrechetDistance.between(mean1: [0, 0], covariance1: s2, mean2: [1, 2], covariance2: s1) - closed) < 1e-9)
        #expect(FrechetDistance.between(mean1: [1, 2], covariance1: s1, mean2: [1, 2], covariance2: s1) < 1e-9)
    }

    /// The statistics of 40,000 draws of two 3-D Gaussians give the closed form's distance.
    @Test func frechetDistanceOfSampledGaussians() {
        // x = μ + L z with L lower triangular: Σ = L Lᵀ
        let l1: [Float] = [1, 0, 0, 0.5, 1.2, 0, -0.3, 0.4, 0.8], l2: [Float] = [1.5, 0, 0, -0.2, 0.7, 0, 0.1, 0.3, 1.1]
        let mu1: [Float] = [0, 1, -1], mu2: [Float] = [0.5, 0.5, 0]
        func draw(_ l: [Float], _ mu: [Float], seed: UInt64) -> Tensor {
            features(40_000, 3, seed: seed) { g in
                let z = (0..<3).map { _ in g.nextNormal() }
                return (0..<3).map { i in mu[i] + (0..<3).reduce(0) { $0 + l[i * 3 + $1] * z[$1] } }
            }
        }
        func covariance(_ l: [Float]) -> [Double] {
            (0..<9).map { index in (0..<3).reduce(0.0) { $0 + Double(l[index / 3 * 3 + $1]) * Double(l[index % 3 * 3 + $1]) } }
        }
        let exact = FrechetDistance.between(mean1: mu1.map(Double.init), covariance1: covariance(l1),
                                            mean2: mu2.map(Double.init), covariance2: covariance(l2))
        let estimated = FrechetDistance.between(FeatureStatistics(features: draw(l1, mu1, seed: 1)), FeatureStatistics(features: draw(l2, mu2, seed: 2)))
        #expect(abs(estimated - exact) < 0.03 * exact, "sampled \(estimated) vs exact \(exact)")
    }

    /// ~0 for two samples of the same data; grows with every step of added noise.
    @Test func frechetDistanceIsNearZeroForTheSameDataAndGrowsWithNoise() {
        let reference = mixture(4000, seed: 1), other = mixture(4000, seed: 2)
        let statistics = FeatureStatistics(features: reference)
        let same = FrechetDistance.between(statistics, FeatureStatistics(features: other))
        let trace = (0..<16).reduce(0.0) { $0 + statistics.covariance[$1 * 16 + $1] }
        var distances: [Double] = []
        for (level, sigma) in [Float(0.25), 0.5, 1, 2, 4].enumerated() {
            let noise = Tensor.randomNormal(other.shape, using: RandomGenerator(seed: 10 + UInt64(level))) * sigma
            distances.append(FrechetDistance.between(statistics, FeatureStatistics(features: other + noise)))
        }
        #expect(same < 0.005 * trace, "same data: \(same) (trace of Σ \(trace))")
        #expect(same < distances[0], "same \(same), noise \(distances)")
        #expect(zip(distances, distances.dropFirst()).allSatisfy { $0 < $1 }, "not increasing: \(distances)")
    }

    // MARK: KID

    /// On two samples of one distribution the unbiased estimate is within its standard error
    /// of 0; the biased (V-statistic) estimate on the same subsets is not. A shifted sample
    /// scores many standard errors above 0.
    @Test func kernelInceptionDistanceIsUnbiased() {
        let x = mixture(5000, seed: 3), y = mixture(5000, seed: 4)
        let kid = KernelInceptionDistance(x, y, generator: RandomGenerator(seed: 5))
        #expect(kid.subsets == 10 && kid.subsetSize == 500)
        #expect(abs(kid.mean) <= 3 * kid.standardError, "mean \(kid.mean) ± \(kid.standardError)")
        // over 60 independent pairs of samples of one distribution the estimates average to 0
        // within 3 standard errors of their mean, while the V-statistic's average sits far above
        let pairs = (0..<60).map { i -> (unbiased: Double, biased: Double) in
            let a = mixture(100, d: 4, seed: 1000 + UInt64(i)), b = mixture(100, d: 4, seed: 2000 + UInt64(i))
            let scale = 1 / (a.scalars.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(a.count)).squareRoot()
            let xa = a.scalars.map { Double($0) * scale }, xb = b.scalars.map { Double($0) * scale }
            return (KernelInceptionDistance.unbiasedMMD2(xa, xb, rows: 100, dimension: 4), vStatistic(xa, xb, rows: 100, dimension: 4))
        }
        func meanAndError(_ v: [Double]) -> (Double, Double) {
            let mean = v.reduce(0, +) / Double(v.count)
            return (mean, (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count - 1) / Double(v.count)).squareRoot())
        }
        let (unbiasedMean, unbiasedError) = meanAndError(pairs.map(\.unbiased)), (biasedMean, biasedError) = meanAndError(pairs.map(\.biased))
        #expect(abs(unbiasedMean) < 3 * unbiasedError, "unbiased: \(unbiasedMean) ± \(unbiasedError)")
        #expect(biasedMean > 5 * biasedError, "the V-statistic: \(biasedMean) ± \(biasedError)")
        // the V-statistic keeps k(x, x): biased upward by about (E k(x, x) − E k(x, y)) · 2 / m
        let d = 16, m = 500
        let xs = Array(x.scalars.prefix(m * d)).map(Double.init), ys = Array(y.scalars.prefix(m * d)).map(Double.init)
        let scale = 1 / (x.scalars.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(x.count)).squareRoot()
        let unbiased = KernelInceptionDistance.unbiasedMMD2(xs.map { $0 * scale }, ys.map { $0 * scale }, rows: m, dimension: d)
        let biased = vStatistic(xs.map { $0 * scale }, ys.map { $0 * scale }, rows: m, dimension: d)
        #expect(biased - unbiased > 3 * kid.standardError && biased > kid.standardError, "biased \(biased), unbiased \(unbiased), standard error \(kid.standardError)")

        let shifted = KernelInceptionDistance(x, y + 0.3, generator: RandomGenerator(seed: 5))
        #expect(shifted.mean > 5 * shifted.standardError, "\(shifted)")
    }

    private func vStatistic(_ x: [Double], _ y: [Double], rows m: Int, dimension d: Int) -> Double {
        func k(_ a: [Double], _ i: Int, _ b: [Double], _ j: Int) -> Double {
            let dot = (0..<d).reduce(0.0) { $0 + a[i * d + $1] * b[j * d + $1] }
            return pow(dot / Double(d) + 1, 3)
        }
        var total = 0.0
        for i in 0..<m { for j in 0..<m { total += k(x, i, x, j) + k(y, i, y, j) - 2 * k(x, i, y, j) } }
        return total / Double(m * m)
    }

    /// Against SciPy and NumPy (`make_sampler_fixtures.py`): on two 8-D samples with full
    /// covariances, the Fréchet distance equals scipy.linalg.sqrtm's; the unbiased MMD² on the
    /// features divided by the reference set's RMS equals NumPy's under the cubic kernel, and
    /// differs from the quadratic kernel's; KID's subsets average the same statistic.
    @Test func metricsMatchSciPy() throws {
        let fixture = try SafeTensors.read(fixturesFolder.appendingPathComponent("sampler_steps.safetensors")).tensors
        let x = try #require(fixture["metrics.x"]), y = try #require(fixture["metrics.y"])
        let fid = FrechetDistance.between(FeatureStatistics(features: x), FeatureStatistics(features: y))
        let expectedFID = Double(try #require(fixture["metrics.fid"]).item)
        #expect(abs(fid - expectedFID) < 1e-4 * expectedFID, "FID \(fid), SciPy \(expectedFID)")
        let xs = x.scalars.map(Double.init), ys = y.scalars.map(Double.init)
        let scale = 1 / (xs.reduce(0) { $0 + $1 * $1 } / Double(xs.count)).squareRoot()
        #expect(abs(scale - Double(try #require(fixture["metrics.rms_scale"]).item)) < 1e-6 * scale)
        let mmd = KernelInceptionDistance.unbiasedMMD2(xs.map { $0 * scale }, ys.map { $0 * scale }, rows: 300, dimension: 8)
        let cubic = Double(try #require(fixture["metrics.kid_cubic"]).item), quadratic = Double(try #require(fixture["metrics.kid_quadratic"]).item)
        #expect(abs(mmd - cubic) < 1e-4 * abs(cubic), "MMD² \(mmd), NumPy cubic \(cubic)")
        #expect(abs(cubic - quadratic) > 0.1 * abs(cubic), "the fixture tells the kernels apart")
        // KID with two subsets of 150: the mean of the subsets' statistics, on the same scale
        let kid = KernelInceptionDistance(x, y, subsetSize: 150, generator: RandomGenerator(seed: 4))
        let shuffle = RandomGenerator(seed: 4)
        let xOrder = shuffle.permutation(300), yOrder = shuffle.permutation(300)
        let halves = (0..<2).map { s -> Double in
            let a = xOrder[(s * 150)..<((s + 1) * 150)].flatMap { r in xs[(r * 8)..<((r + 1) * 8)].map { $0 * scale } }
            let b = yOrder[(s * 150)..<((s + 1) * 150)].flatMap { r in ys[(r * 8)..<((r + 1) * 8)].map { $0 * scale } }
            return KernelInceptionDistance.unbiasedMMD2(a, b, rows: 150, dimension: 8)
        }
        #expect(kid.subsets == 2 && abs(kid.mean - (halves[0] + halves[1]) / 2) < 1e-9, "\(kid.mean) vs \(halves)")
    }

    /// Multiplying both sets by one constant changes nothing: the reference set fixes the scale.
    @Test func kernelInceptionDistanceIgnoresTheFeatureScale() {
        let x = mixture(400, seed: 6), y = mixture(400, seed: 7) + 0.2
        let once = KernelInceptionDistance(x, y, generator: RandomGenerator(seed: 1))
        let scaled = KernelInceptionDistance(x * 30, y * 30, generator: RandomGenerator(seed: 1))
        #expect(abs(once.mean - scaled.mean) < 1e-6 * max(1, abs(once.mean)), "\(once.mean) vs \(scaled.mean)")
    }

    // MARK: Precision and recall

    /// Uniform squares: real [0, 1]², generated [a, a + 1] × [0, 1]; the k-NN balls reach a little
    /// past each edge, so the measured overlaps sit slightly above the true ones.
    @Test(arguments: [(0.0, 1.0, 1.0), (0.5, 0.5, 0.5), (3.0, 0.0, 0.0)])
    func precisionAndRecallOfShiftedSquares(shift: Double, expectedPrecision: Double, expectedRecall: Double) {
        let real = features(3000, 2, seed: 1) { g in [g.nextUniform(), g.nextUniform()] }
        let generated = features(3000, 2, seed: 2) { g in [Float(shift) + g.nextUniform(), g.nextUniform()] }
        let pr = PrecisionRecall(real: real, generated: generated)
        #expect(abs(pr.precision - expectedPrecision) < 0.05 && abs(pr.recall - expectedRecall) < 0.05, "shift \(shift): \(pr)")
    }

    /// Samples from one half of the data: every sample looks real (precision ~1), half the data
    /// is covered (recall ~0.5).
    @Test func droppedModeLowersRecallOnly() {
        let real = features(3000, 2, seed: 3) { g in [g.nextUniform(), g.nextUniform()] }
        let generated = features(1500, 2, seed: 4) { g in [0.5 * g.nextUniform(), g.nextUniform()] }
        let pr = PrecisionRecall(real: real, generated: generated)
        #expect(pr.precision > 0.97 && abs(pr.recall - 0.5) < 0.05, "\(pr)")
    }

    // MARK: The feature classifier and the cache

    /// Cross-entropy equals −log softmax at the label, averaged.
    @Test func crossEntropyMatchesItsDefinition() {
        let logits = Tensor([2, -1, 0.5, 0, 3, 1], shape: [2, 3])
        let loss = FeatureClassifier.crossEntropy(logits: logits, labels: [0, 1], classes: 3).item
        let row0: Double = -(2 - log(exp(2.0) + exp(-1.0) + exp(0.5))), row1: Double = -(3 - log(exp(0.0) + exp(3.0) + exp(1.0)))
        #expect(abs(Double(loss) - (row0 + row1) / 2) < 1e-5)
    }

    /// On 8×8 images whose class is the bright quadrant, the classifier learns to ≥ 95% held-out
    /// accuracy, and its features separate the classes.
    @Test func classifierLearnsQuadrants() {
        Random.seed(3)
        func images(_ n: Int, seed: UInt64) -> (Tensor, [Int]) {
            let g = RandomGenerator(seed: seed)
            var values: [Float] = [], labels: [Int] = []
            for _ in 0..<n {
                let label = g.nextInt(below: 4)
                labels.append(label)
                for y in 0..<8 { for x in 0..<8 {
                    let quadrant = (y / 4) * 2 + x / 4
                    values.append((quadrant == label ? 0.6 : -0.4) + 0.5 * g.nextNormal())
                } }
            }
            return (Tensor(values, shape: [n, 1, 8, 8]), labels)
        }
        let classifier = FeatureClassifier(FeatureClassifierConfiguration(imageShape: [1, 8, 8], classes: 4, channels: 8, features: 16))
        let optimizer = Adam(learningRate: 3e-3)
        for step in 0..<150 {
            let (x, y) = images(32, seed: UInt64(100 + step))
            let (_, gradients) = valueAndGrad(classifier.network) { _ in
                FeatureClassifier.crossEntropy(logits: classifier.network(x), labels: y, classes: 4)
            }
            optimizer.update(classifier.network, with: gradients)
        }
        let (test, labels) = images(400, seed: 1)
        let accuracy = classifier.accuracy(test, labels: labels)
        #expect(accuracy >= 0.95, "accuracy \(accuracy)")
        #expect(classifier.network.isTraining, "scoring must leave the mode as it was")
        let features = classifier.features(test, batchSize: 64)
        #expect(features.shape == [400, 16])
        // features of one class against another are far apart; of one class split in two, close
        let zeros = labels.indices.filter { labels[$0] == 0 }, ones = labels.indices.filter { labels[$0] == 1 }
        func rows(_ r: [Int]) -> Tensor { Tensor(r.flatMap { Array(features.scalars[($0 * 16)..<($0 * 16 + 16)]) }, shape: [r.count, 16]) }
        let half = zeros.count / 2
        let within = FrechetDistance.between(FeatureStatistics(features: rows(Array(zeros[..<half]))), FeatureStatistics(features: rows(Array(zeros[half...]))))
        let across = FrechetDistance.between(FeatureStatistics(features: rows(zeros)), FeatureStatistics(features: rows(ones)))
        #expect(across > 5 * within, "within a class \(within), across classes \(across)")
    }

    /// FNV-1a's published test vectors, and the cache's round trip and refusals.
    @Test func contentHashAndFeatureCache() throws {
        #expect(ContentHash.of("") == "cbf29ce484222325")
        #expect(ContentHash.of("a") == "af63dc4c8601ec8c")
        #expect(ContentHash.of("foobar") == "85944171f73967e8")
        let scratch = try TemporaryFolder()
        let file = scratch.url.appendingPathComponent("data.h5")
        try Data("foobar".utf8).write(to: file)
        #expect(try ContentHash.of(file: file) == "85944171f73967e8")
        let url = FeatureCache.url(beside: file, dataHash: "d", classifierHash: "c", selection: "first 3")
        #expect(url.deletingLastPathComponent().path == scratch.url.path && url.lastPathComponent.hasPrefix("data.h5.features-"))
        #expect(url != FeatureCache.url(beside: file, dataHash: "d", classifierHash: "c2", selection: "first 3"))
        #expect(FeatureCache.load(url, count: 3) == nil)
        let stored = Tensor([1, 2, 3, 4, 5, 6], shape: [3, 2])
        #expect(FeatureCache.store(stored, to: url, metadata: [:]))
        #expect(FeatureCache.load(url, count: 3)?.scalars == stored.scalars)
        #expect(FeatureCache.load(url, count: 4) == nil, "another count is another selection")
        try Data("garbage".utf8).write(to: url)
        #expect(FeatureCache.load(url, count: 3) == nil)
    }
}
