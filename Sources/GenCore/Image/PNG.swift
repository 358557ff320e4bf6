import CPNG
import Foundation

/// An 8-bit image: `height` rows of `width` pixels of `channels` bytes (1 gray, 2 gray and
/// alpha, 3 RGB, 4 RGBA; files read are gray or RGB).
public struct PNGImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var channels: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        require(width >= 1 && height >= 1 && (1...4).contains(channels) && pixels.count == width * height * channels,
                "PNGImage: \(pixels.count) bytes do not make a \(width)×\(height) image with \(channels) channels")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }
}

/// PNG files through libpng's simplified `png_image_*` API, which reports errors by return
/// value: Swift cannot catch the `longjmp` of libpng's classic API.
public enum PNG {
    /// The largest image decoded, in pixels (a header claiming more is refused before any
    /// allocation).
    public static let maximumPixels = 1 << 26

    /// Decodes PNG bytes as gray (for gray files) or RGB (for colour files), 8 bits per channel.
    public static func decode(_ data: Data, name: String = "PNG data") throws -> PNGImage {
        func fail(_ problem: String) -> ImageError { .invalid(name, problem) }
        var image = png_image()
        image.version = gen_PNG_IMAGE_VERSION()
        let began = data.withUnsafeBytes { raw in
            png_image_begin_read_from_memory(&image, raw.baseAddress, raw.count)
        }
        guard began != 0 else {
            defer { png_image_free(&image) }
            throw fail(message(of: &image))
        }
        let (width, height) = (Int(image.width), Int(image.height))
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        guard width >= 1, height >= 1, !overflow, pixels <= maximumPixels else {
            png_image_free(&image)
            throw fail("header claims a \(width)×\(height) image, larger than the \(maximumPixels)-pixel limit")
        }
        let channels = image.format & UInt32(PNG_FORMAT_FLAG_COLOR) != 0 ? 3 : 1
        image.format = channels == 3 ? gen_PNG_FORMAT_RGB() : gen_PNG_FORMAT_GRAY()
        var buffer = [UInt8](repeating: 0, count: pixels * channels)
        let finished = data.withUnsafeBytes { _ in
            buffer.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
        }
        guard finished != 0 else {
            defer { png_image_free(&image) }
            throw fail(message(of: &image))
        }
        return PNGImage(width: width, height: height, channels: channels, pixels: buffer)
    }

    /// Reads and decodes a PNG file.
    public static func read(_ url: URL) throws -> PNGImage {
        let data: Data
        try InputFile.check(url.path)
        do { data = try Data(contentsOf: url) } catch {
            throw ImageError.unreadable(url.path, (error as NSError).localizedDescription)
        }
        return try decode(data, name: url.path)
    }

    /// Encodes an image as PNG bytes.
    public static func encode(_ picture: PNGImage) throws -> Data {
        var image = png_image()
        image.version = gen_PNG_IMAGE_VERSION()
        image.width = UInt32(picture.width)
        image.height = UInt32(picture.height)
        image.format = [gen_PNG_FORMAT_GRAY(), gen_PNG_FORMAT_GA(), gen_PNG_FORMAT_RGB(), gen_PNG_FORMAT_RGBA()][picture.channels - 1]
        var size = 0
        let sized = picture.pixels.withUnsafeBytes { png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, 0, nil) }
        guard sized != 0, size > 0 else {
            defer { png_image_free(&image) }
            throw ImageError.invalid("PNG encoder", message(of: &image))
        }
        var data = Data(count: size)
        let written = data.withUnsafeMutableBytes { target in
            picture.pixels.withUnsafeBytes { png_image_write_to_memory(&image, target.baseAddress, &size, 0, $0.baseAddress, 0, nil) }
        }
        guard written != 0 else {
            defer { png_image_free(&image) }
            throw ImageError.invalid("PNG encoder", message(of: &image))
        }
        return data.prefix(size)
    }

    /// Writes a PNG file atomically.
    public static func write(_ picture: PNGImage, to url: URL) throws {
        try AtomicFile.write(try encode(picture), to: url)
    }

    private static func message(of image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in
            let text = String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            return text.isEmpty ? "libpng failed" : text
        }
    }
}

/// Why an image could not be read or written.
public enum ImageError: Error, Equatable, CustomStringConvertible {
    case unreadable(String, String)
    case invalid(String, String)

    public var description: String {
        switch self {
        case .unreadable(let file, let reason): return "\(file): cannot read: \(reason)"
        case .invalid(let file, let problem): return "\(file): not a valid PNG: \(problem)"
        }
    }
}
