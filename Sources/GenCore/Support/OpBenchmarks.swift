import Foundation

/// Timings of single operations, to compare GenCore's kernels with another framework's on the
/// same machine (`gen bench --ops`; `scripts/bench_ops.py` is the PyTorch side).
public enum OpBenchmarks {
    /// One measured operation: median seconds of the forward pass and of forward + backward.
    public struct Result: Sendable, Codable {
        public var op: String
        public var shape: String
        public var forward_s: Double
        public var forward_backward_s: Double
        public var gflop_forward: Double
    }

    /// Median wall time of `body` over `repetitions` runs after `warmup` runs.
    public static func medianSeconds(repetitions: Int, warmup: Int = 3, _ body: () -> Void) -> Double {
        for _ in 0..<warmup { body() }
        var times: [Double] = []
        for _ in 0..<max(1, repetitions) {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return times.sorted()[times.count / 2]
    }

    /// Matmul 512×512 and a 64→64-channel 3×3 convolution on 64×28×28, forward and backward.
    public static func run(repetitions: Int = 20) -> [Result] {
        let generator = RandomGenerator(seed: 0)
        var results: [Result] = []

        let a = Tensor.randomNormal([512, 512], using: generator), b = Tensor.randomNormal([512, 512], using: generator)
        let matmulCotangent = Tensor.randomNormal([512, 512], using: generator)
        results.append(Result(
            op: "matmul", shape: "512x512 @ 512x512",
            forward_s: medianSeconds(repetitions: repetitions) { _ = a.matmul(b) },
            forward_backward_s: medianSeconds(repetitions: repetitions) {
                _ = vectorJacobianProduct(at: [a, b], { $0[0].matmul($0[1]) }, cotangent: { _ in matmulCotangent })
            },
            gflop_forward: 2 * 512 * 512 * 512 / 1e9))

        let images = Tensor.randomNormal([64, 64, 28, 28], using: generator)
        let conv = Conv2d(64, 64, kernelSize: 3, padding: 1, generator: generator)
        let convCotangent = Tensor.randomNormal([64, 64, 28, 28], using: generator)
        results.append(Result(
            op: "conv2d", shape: "64x64x28x28, 64->64, 3x3, pad 1",
            forward_s: medianSeconds(repetitions: repetitions) { _ = withoutGradients { conv(images) } },
            forward_backward_s: medianSeconds(repetitions: repetitions) {
                _ = vectorJacobianProduct(at: [images, conv.weight, conv.bias!], { xs in
                    xs[0].conv2d(weight: xs[1], bias: xs[2], padding: (1, 1))
                }, cotangent: { _ in convCotangent })
            },
            gflop_forward: 2 * 64 * 64 * 28 * 28 * 64 * 9 / 1e9))
        return results
    }
}
