import Foundation
import GenCore
import Testing

@Suite("PNG and image grids")
struct PNGTests {
    @Test func decodesFilesWrittenByPillow() throws {
        let gray = try PNG.read(dataFixtures.appendingPathComponent("gray_5x3.png"))
        #expect((gray.width, gray.height, gray.channels) == (5, 3, 1))
        #expect(gray.pixels == pattern(15).map { UInt8($0) })
        let rgb = try PNG.read(dataFixtures.appendingPathComponent("rgb_4x3.png"))
        #expect((rgb.width, rgb.height, rgb.channels) == (4, 3, 3))
        #expect(rgb.pixels == pattern(36).map { UInt8($0) })
    }

    @Test(arguments: [1, 3])
    func roundTripIsPixelExact(channels: Int) throws {
        let pixels = (0..<(7 * 5 * channels)).map { UInt8(($0 * 53 + 7) % 256) }
        let image = PNGImage(width: 7, height: 5, channels: channels, pixels: pixels)
        #expect(try PNG.decode(PNG.encode(image)) == image)
    }

    @Test(arguments: ["truncated.png", "garbage.png", "huge_header.png"])
    func badFilesFailWithAnError(_ name: String) {
        let path = dataFixtures.appendingPathComponent(name).path
        #expect {
            _ = try PNG.read(URL(fileURLWithPath: path))
        } throws: { error in
            guard let error = error as? ImageError, case .invalid(let file, let problem) = error else { return false }
            return file == path && !problem.isEmpty && (name != "huge_header.png" || problem.contains("100000×100000"))
        }
    }

    /// torchvision's make_grid layout: nrow columns, 2-pixel padding around and between.
    @Test func gridLayoutFollowsTorchvision() {
        let images = Tensor.full([5, 1, 3, 4], 1)
        let grid = ImageGrid.make(images, nrow: 2, padding: 2, range: .unit)
        #expect(grid.width == 2 * (4 + 2) + 2 && grid.height == 3 * (3 + 2) + 2 && grid.channels == 1)
        // padding is black, images white; the sixth cell is empty
        #expect(grid.pixels[0] == 0)
        #expect(grid.pixels[2 * grid.width + 2] == 255)
        #expect(grid.pixels[(2 * 5 + 2) * grid.width + (2 + 6)] == 0)
        #expect(grid.pixels[(2 * 5 + 2) * grid.width + 2] == 255)
    }

    @Test func quantizationClampsAndMapsNaNToZero() {
        let values = Tensor([-3, -1, 0, 1, 5, .nan, .infinity, -.infinity], shape: [1, 1, 1, 8])
        let grid = ImageGrid.make(values, nrow: 8, padding: 0, range: .symmetric)
        #expect(grid.pixels == [0, 0, 128, 255, 255, 0, 255, 0])
        #expect(ImageGrid.quantize(0.5, low: 0, high: 1) == 128)
    }

    @Test func writesAtomically() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gen-png-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("grid.png")
        let images = Tensor.randomUniform([4, 3, 5, 5], low: -1, high: 1, using: RandomGenerator(seed: 1))
        try ImageGrid.write(images, to: url, nrow: 2, range: .symmetric)
        let read = try PNG.read(url)
        #expect(read == ImageGrid.make(images, nrow: 2, range: .symmetric))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["grid.png"])
    }
}
