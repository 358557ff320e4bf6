import GenCore
import Testing

/// Library misuse stops the process with a message naming the op and the shapes, never a
/// silent wrong answer. Each case runs in a child process (an exit test).
@Suite("Misuse messages")
struct MisuseTests {
    @Test func mismatchedBroadcast() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]) + Tensor.zeros([4])
        }
        let message = standardError(result)
        #expect(message.contains("add: shapes [2, 3] and [4] do not broadcast"), "stderr: \(message)")
    }

    @Test func axisOutOfRange() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]).sum(axes: [2])
        }
        let message = standardError(result)
        #expect(message.contains("sum: axis 2 out of range for rank 2"), "stderr: \(message)")
    }

    @Test func incompatibleMatmul() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]).matmul(Tensor.zeros([4, 5]))
        }
        let message = standardError(result)
        #expect(message.contains("matmul: inner sizes differ in [2, 3] × [4, 5]"), "stderr: \(message)")
    }

    @Test func convChannelMismatch() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([1, 3, 8, 8]).conv2d(weight: Tensor.zeros([4, 2, 3, 3]))
        }
        let message = standardError(result)
        #expect(message.contains("conv2d: input [1, 3, 8, 8], weight [4, 2, 3, 3]"), "stderr: \(message)")
    }

    @Test func badReshape() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]).reshaped([4, 2])
        }
        let message = standardError(result)
        #expect(message.contains("reshape: cannot reshape [2, 3]"), "stderr: \(message)")
    }
}

/// The standard error of an exit test's child process as text.
func standardError(_ result: ExitTest.Result?) -> String {
    String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
}
