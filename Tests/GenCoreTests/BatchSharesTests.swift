import GenCore
import Testing

@Suite("BatchShares: cutting a global batch for data-parallel ranks")
struct BatchSharesTests {
    @Test(arguments: [(9, 2), (64, 3), (7, 7), (100, 8), (5, 1)])
    func sharesCoverTheBatchOnceAndEvenly(_ batchSize: Int, _ shards: Int) {
        let shares = BatchShares(batchSize: batchSize, shards: shards)
        let ranges = (0..<shards).map(shares.range)
        #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == batchSize)
        for (a, b) in zip(ranges, ranges.dropFirst()) { #expect(a.upperBound == b.lowerBound) }
        let sizes = ranges.map(\.count)
        #expect(sizes.max()! - sizes.min()! <= 1 && sizes.min()! >= 1)
        #expect(sizes == sizes.sorted(by: >), "the larger shares come first")
    }

    @Test func everyShardHasOneRankAndRankZeroHoldsShardZero() {
        let shares = BatchShares(batchSize: 64, shards: 5)
        let assigned = (0..<2).map { shares.shards(ofRank: $0, of: 2) }
        #expect(assigned == [[0, 2, 4], [1, 3]])
        #expect(shares.shards(ofRank: 0, of: 1) == [0, 1, 2, 3, 4])
    }
}
