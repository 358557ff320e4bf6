import Foundation
import GenCore
import Testing

@Suite("ImageSource")
struct ImageSourceTests {
    /// `gen sample --n 600` must not build one batch of 600: the source draws in batches of at
    /// most 256, so memory stays bounded whatever the count, and the steps add up across them.
    @Test func drawsInBoundedBatches() {
        var sizes: [Int] = []
        let source = ImageSource(sampler: "test", steps: 3) { count, _, onStep in
            sizes.append(count)
            for step in 1...3 { onStep(step) }
            return Tensor(Array(repeating: Float(sizes.count), count: count * 4), shape: [count, 1, 2, 2])
        }
        var reported: [Int] = []
        let images = source.draw(count: 600, generator: RandomGenerator(seed: 0)) { reported.append($0) }
        #expect(sizes == [256, 256, 88])
        #expect(images.shape == [600, 1, 2, 2] && images.scalars[0] == 1 && images.scalars.last == 3)
        #expect(reported == Array(1...9) && source.totalSteps(count: 600) == 9)
        sizes = []
        _ = source.draw(count: 256, generator: RandomGenerator(seed: 0))
        #expect(sizes == [256])
    }
}
