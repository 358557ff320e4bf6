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

    /// One convolution of the benchmark models: batch 64, a square kernel, stride and padding;
    /// `transposed` for a transposed convolution (the DCGAN generator's).
    public struct ConvolutionCase: Sendable {
        public var channels: Int, outChannels: Int, size: Int, kernel: Int, stride: Int, padding: Int
        public var transposed = false

        /// The shape string both sides print: `64xCxHxW, C->O, kxk[, stride s][, pad p][, transposed]`.
        var shape: String {
            "64x\(channels)x\(size)x\(size), \(channels)->\(outChannels), \(kernel)x\(kernel)"
                + (stride == 1 ? "" : ", stride \(stride)") + (padding == 0 ? "" : ", pad \(padding)") + (transposed ? ", transposed" : "")
        }

        var outSize: Int { transposed ? (size - 1) * stride - 2 * padding + kernel : (size + 2 * padding - kernel) / stride + 1 }

        /// Multiply–adds ×2 of the forward pass.
        var gflop: Double {
            let pixels = Double(transposed ? size * size : outSize * outSize)
            return 2 * 64 * pixels * Double(channels * outChannels * kernel * kernel) / 1e9
        }
    }

    /// The convolutions timed by `gen bench --ops` (and `scripts/bench_ops.py`): the 64-channel
    /// UNet convolution, RealNVP's 32-channel ones at each scale, the GAN critic's and generator's.
    public static let convolutionCases: [ConvolutionCase] = [
        ConvolutionCase(channels: 64, outChannels: 64, size: 28, kernel: 3, stride: 1, padding: 1),
        ConvolutionCase(channels: 32, outChannels: 32, size: 28, kernel: 3, stride: 1, padding: 1),
        ConvolutionCase(channels: 32, outChannels: 32, size: 14, kernel: 3, stride: 1, padding: 1),
        ConvolutionCase(channels: 32, outChannels: 32, size: 7, kernel: 3, stride: 1, padding: 1),
        ConvolutionCase(channels: 64, outChannels: 64, size: 14, kernel: 3, stride: 1, padding: 1),
        ConvolutionCase(channels: 64, outChannels: 64, size: 7, kernel: 3, stride: 1, padding: 1),
        ConvolutionCase(channels: 1, outChannels: 64, size: 28, kernel: 4, stride: 2, padding: 1),
        ConvolutionCase(channels: 64, outChannels: 128, size: 14, kernel: 4, stride: 2, padding: 1),
        ConvolutionCase(channels: 128, outChannels: 64, size: 7, kernel: 4, stride: 2, padding: 1, transposed: true),
        ConvolutionCase(channels: 64, outChannels: 1, size: 14, kernel: 4, stride: 2, padding: 1, transposed: true),
    ]

    /// Matmul 512×512 and ``convolutionCases``, forward and backward.
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

        for c in convolutionCases {
            let images = Tensor.randomNormal([64, c.channels, c.size, c.size], using: generator)
            let weight = Tensor.randomNormal(c.transposed ? [c.channels, c.outChannels, c.kernel, c.kernel] : [c.outChannels, c.channels, c.kernel, c.kernel],
                                             using: generator) * 0.1
            let bias = Tensor.randomNormal([c.outChannels], using: generator)
            let cotangent = Tensor.randomNormal([64, c.outChannels, c.outSize, c.outSize], using: generator)
            func convolve(_ xs: [Tensor]) -> Tensor {
                c.transposed
                    ? xs[0].convTranspose2d(weight: xs[1], bias: xs[2], stride: (c.stride, c.stride), padding: (c.padding, c.padding))
                    : xs[0].conv2d(weight: xs[1], bias: xs[2], stride: (c.stride, c.stride), padding: (c.padding, c.padding))
            }
            results.append(Result(
                op: c.transposed ? "conv_transpose2d" : "conv2d", shape: c.shape,
                forward_s: medianSeconds(repetitions: repetitions) { _ = convolve([images, weight, bias]) },
                forward_backward_s: medianSeconds(repetitions: repetitions) {
                    _ = vectorJacobianProduct(at: [images, weight, bias], convolve, cotangent: { _ in cotangent })
                },
                gflop_forward: c.gflop))
        }
        return results
    }
}
