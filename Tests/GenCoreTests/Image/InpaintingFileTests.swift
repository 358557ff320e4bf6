import Foundation
import GenCore
import Testing

/// Inpainting's files: the mask (8-bit gray, the images' size, white kept), the images from an
/// HDF5 file or a folder of PNGs, and the grid.
@Suite("Inpainting files")
struct InpaintingFileTests {
    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("gen-inpaint-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    func write(_ picture: PNGImage, _ name: String) throws -> URL {
        let url = folder.appendingPathComponent(name)
        try PNG.write(picture, to: url)
        return url
    }

    @Test func maskIsOneWhereWhite() throws {
        let url = try write(PNGImage(width: 3, height: 2, channels: 1, pixels: [255, 0, 128, 127, 200, 1]), "mask.png")
        let keep = try Inpainting.readMask(url, height: 2, width: 3)
        #expect(keep.shape == [1, 1, 2, 3] && keep.scalars == [1, 0, 1, 0, 1, 0])
    }

    @Test func badMasksAreRefusedByName() throws {
        let rgb = try write(PNGImage(width: 2, height: 2, channels: 3, pixels: [UInt8](repeating: 255, count: 12)), "rgb.png")
        let wide = try write(PNGImage(width: 3, height: 2, channels: 1, pixels: [255, 0, 0, 0, 0, 0]), "wide.png")
        let white = try write(PNGImage(width: 2, height: 2, channels: 1, pixels: [255, 255, 255, 255]), "white.png")
        let black = try write(PNGImage(width: 2, height: 2, channels: 1, pixels: [0, 0, 0, 0]), "black.png")
        // a 16-bit gray header: the bit depth byte of the IHDR chunk
        var bytes = [UInt8](try Data(contentsOf: try write(PNGImage(width: 2, height: 2, channels: 1, pixels: [0, 255, 0, 255]), "deep.png")))
        bytes[24] = 16
        let deep = folder.appendingPathComponent("deep.png")
        try Data(bytes).write(to: deep)
        let text = folder.appendingPathComponent("text.png")
        try Data("not a png at all, no header here".utf8).write(to: text)
        let cases: [(URL, String)] = [
            (rgb, "the mask is RGB with 8-bit samples; it must be 8-bit gray"),
            (deep, "the mask is gray with 16-bit samples"),
            (wide, "the mask is 3×2; the images are 2×2"),
            (white, "all white: nothing to fill in"),
            (black, "all black"),
            (text, "not a PNG file"),
        ]
        for (url, message) in cases {
            #expect {
                _ = try Inpainting.readMask(url, height: 2, width: 2)
            } throws: { error in
                guard let error = error as? GenError else { return false }
                return error.message.hasPrefix(url.path) && error.message.contains(message) && error.category == .badData
            }
        }
        #expect(throws: DataError.self) { _ = try Inpainting.readMask(folder.appendingPathComponent("missing.png"), height: 2, width: 2) }
    }

    @Test func imagesFromAFolderOfPNGsInNameOrder() throws {
        let images = folder.appendingPathComponent("images")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        try PNG.write(PNGImage(width: 2, height: 1, channels: 1, pixels: [0, 255]), to: images.appendingPathComponent("b.png"))
        try PNG.write(PNGImage(width: 2, height: 1, channels: 1, pixels: [255, 0]), to: images.appendingPathComponent("a.png"))
        let read = try Inpainting.readImages(images.path, shape: [1, 1, 2], count: 5)
        #expect(read.shape == [2, 1, 1, 2] && read.scalars == [1, -1, -1, 1])
        #expect(throws: GenError.self) { _ = try Inpainting.readImages(images.path, shape: [3, 1, 2], count: 5) }
    }

    @Test func gridRowsAreMaskedInputCompletionsOriginal() {
        let originals = Tensor([1, 2, 3, 4], shape: [2, 1, 1, 2])
        let keep = Tensor([1, 0], shape: [1, 1, 1, 2])
        let completions = Tensor([1, 9, 1, 8, 3, 7, 3, 6], shape: [4, 1, 1, 2])
        let (grid, columns) = Inpainting.grid(originals: originals, keep: keep, completions: completions)
        #expect(columns == 4 && grid.shape == [8, 1, 1, 2])
        #expect(grid.scalars == [1, 0, 1, 9, 1, 8, 1, 2, 3, 0, 3, 7, 3, 6, 3, 4])
        #expect(Inpainting.repeated(originals, times: 2).scalars == [1, 2, 1, 2, 3, 4, 3, 4])
    }
}
