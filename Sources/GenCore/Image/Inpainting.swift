import Foundation

/// The files around inpainting (`gen sample --inpaint IMAGES --mask MASK.png`): the mask, the
/// images to fill in, and the grid of results.
public enum Inpainting {
    /// The mask of an 8-bit gray PNG of the images' size: `[1, 1, H, W]`, 1 where the PNG is
    /// white (≥ 128: the pixel is kept), 0 where it is black (generated).
    /// - Throws: ``GenError`` (bad data) for another size, another colour type or bit depth,
    ///   or a mask that keeps every pixel or none.
    public static func readMask(_ url: URL, height: Int, width: Int) throws -> Tensor {
        try InputFile.check(url.path)
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw GenError.missingInput("\(url.path): cannot read the mask (\((error as NSError).localizedDescription))")
        }
        // the IHDR chunk follows the 8-byte signature: length, "IHDR", width, height, bit depth, colour type
        let bytes = [UInt8](data.prefix(26))
        guard bytes.count == 26, bytes[12..<16].elementsEqual("IHDR".utf8) else {
            throw GenError.badData("\(url.path): not a PNG file; the mask must be an 8-bit gray PNG")
        }
        let (depth, colour) = (Int(bytes[24]), Int(bytes[25]))
        let colours = [0: "gray", 2: "RGB", 3: "palette", 4: "gray+alpha", 6: "RGBA"]
        guard colour == 0 && depth == 8 else {
            throw GenError.badData("\(url.path): the mask is \(colours[colour] ?? "colour type \(colour)") with \(depth)-bit samples; it must be 8-bit gray (white: keep, black: generate)")
        }
        let picture: PNGImage
        do { picture = try PNG.decode(data, name: url.path) } catch { throw GenError.badData("\(error)") }
        guard picture.width == width && picture.height == height else {
            throw GenError.badData("\(url.path): the mask is \(picture.width)×\(picture.height); the images are \(width)×\(height)")
        }
        let keep = picture.pixels.map { $0 >= 128 ? Float(1) : 0 }
        let kept = keep.reduce(0, +)
        guard kept < Float(keep.count) else { throw GenError.badData("\(url.path): the mask is all white: nothing to fill in (black marks the pixels to generate)") }
        guard kept > 0 else { throw GenError.badData("\(url.path): the mask is all black: nothing is known to fill in from (white marks the pixels to keep)") }
        return Tensor(keep, shape: [1, 1, height, width])
    }

    /// The first `count` images (fewer if there are fewer) of an HDF5 file or a folder of PNG
    /// files (sorted by name), `[N, C, H, W]` in [−1, 1], checked against `shape` (`[C, H, W]`).
    public static func readImages(_ path: String, shape: [Int], count: Int) throws -> Tensor {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw GenError.missingInput("\(path): no such file or folder")
        }
        guard isFolder.boolValue else {
            let data = try HDF5Dataset(url: URL(fileURLWithPath: path), options: .init(readLabels: false))
            guard data.imageShape == shape else { throw GenError.badData("\(path): images are \(data.imageShape), the run was trained on \(shape)") }
            return try data.images(at: Array(0..<min(count, data.count)), scaledTo: .symmetric)
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.lowercased().hasSuffix(".png") }.sorted().prefix(count)
        guard !names.isEmpty else { throw GenError.badData("\(path): the folder holds no .png files") }
        var scalars: [Float] = []
        for name in names {
            let file = URL(fileURLWithPath: path).appendingPathComponent(name)
            let picture: PNGImage
            do { picture = try PNG.read(file) } catch { throw GenError.badData("\(error)") }
            guard [picture.channels, picture.height, picture.width] == shape else {
                throw GenError.badData("\(file.path): a \(picture.channels)-channel \(picture.width)×\(picture.height) image; the run was trained on \(shape[0])-channel \(shape[2])×\(shape[1]) images")
            }
            // interleaved HWC to planar CHW, 0…255 to [−1, 1]
            let (channels, pixels) = (picture.channels, picture.width * picture.height)
            for channel in 0..<channels {
                for index in 0..<pixels { scalars.append(Float(picture.pixels[index * channels + channel]) / 127.5 - 1) }
            }
        }
        return Tensor(scalars, shape: [names.count] + shape)
    }

    /// Each image repeated `times` times in a row: `[N·times, C, H, W]`.
    public static func repeated(_ images: Tensor, times: Int) -> Tensor {
        let size = images.count / images.shape[0]
        let scalars = images.scalars
        var out: [Float] = []
        out.reserveCapacity(scalars.count * times)
        for image in 0..<images.shape[0] {
            for _ in 0..<times { out.append(contentsOf: scalars[(image * size)..<((image + 1) * size)]) }
        }
        return Tensor(out, shape: [images.shape[0] * times] + Array(images.shape.dropFirst()))
    }

    /// The grid `gen sample --inpaint` writes, one row per image: the masked input (generated
    /// pixels gray), its `completions`, then the original. Returns the images and the columns.
    public static func grid(originals: Tensor, keep: Tensor, completions: Tensor) -> (images: Tensor, columns: Int) {
        let count = originals.shape[0], perImage = completions.shape[0] / count
        let size = originals.count / count
        let masked = (originals * keep).scalars, original = originals.scalars, filled = completions.scalars
        var out: [Float] = []
        for image in 0..<count {
            let range = (image * size)..<((image + 1) * size)
            out.append(contentsOf: masked[range])
            for k in 0..<perImage {
                let index = image * perImage + k
                out.append(contentsOf: filled[(index * size)..<((index + 1) * size)])
            }
            out.append(contentsOf: original[range])
        }
        return (Tensor(out, shape: [count * (perImage + 2)] + Array(originals.shape.dropFirst())), perImage + 2)
    }
}
