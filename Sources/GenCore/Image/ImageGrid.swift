import Foundation

/// Tiles a batch of images into one picture, as `torchvision.utils.make_grid` and `save_image`
/// do: `nrow` images per row, `padding` pixels around and between them, values mapped from the
/// model's range to 0–255 with clamping (NaN becomes 0).
public enum ImageGrid {
    /// The grid of `images` `[batch, channels, height, width]`: 1 channel gray, 2 gray and
    /// alpha, 3 RGB, 4 RGBA.
    public static func make(_ images: Tensor, nrow: Int = 8, padding: Int = 2, padValue: Float = 0, range: PixelRange) -> PNGImage {
        require(images.rank == 4 && (1...4).contains(images.shape[1]) && images.shape[0] >= 1,
                "ImageGrid: images \(images.shape) must be [batch ≥ 1, 1 to 4 channels, height, width]")
        require(nrow >= 1 && padding >= 0, "ImageGrid: nrow \(nrow) must be ≥ 1 and padding \(padding) ≥ 0")
        let (count, channels, height, width) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3])
        let columns = min(nrow, count), rows = (count + columns - 1) / columns
        let cellHeight = height + padding, cellWidth = width + padding
        let gridHeight = rows * cellHeight + padding, gridWidth = columns * cellWidth + padding
        let (low, high) = range.bounds
        var pixels = [UInt8](repeating: quantize(padValue, low: 0, high: 1), count: gridHeight * gridWidth * channels)
        images.withUnsafeBufferPointer { source in
            for index in 0..<count {
                let top = (index / columns) * cellHeight + padding, left = (index % columns) * cellWidth + padding
                for c in 0..<channels {
                    for y in 0..<height {
                        let row = source.baseAddress! + ((index * channels + c) * height + y) * width
                        let target = ((top + y) * gridWidth + left) * channels + c
                        for x in 0..<width { pixels[target + x * channels] = quantize(row[x], low: low, high: high) }
                    }
                }
            }
        }
        return PNGImage(width: gridWidth, height: gridHeight, channels: channels, pixels: pixels)
    }

    /// Writes the grid of `images` as a PNG file, atomically.
    public static func write(_ images: Tensor, to url: URL, nrow: Int = 8, padding: Int = 2, range: PixelRange) throws {
        try PNG.write(make(images, nrow: nrow, padding: padding, range: range), to: url)
    }

    /// Maps `value` from `low...high` to 0–255 like torchvision (`·255 + 0.5`, clamp, truncate).
    /// Never traps: NaN gives 0, infinities clamp.
    @inline(__always)
    public static func quantize(_ value: Float, low: Float, high: Float) -> UInt8 {
        let scaled = (value - low) / (high - low) * 255 + 0.5
        guard scaled == scaled else { return 0 }
        return UInt8(min(max(scaled, 0), 255))
    }
}
