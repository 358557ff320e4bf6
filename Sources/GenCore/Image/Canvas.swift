/// An RGB picture to draw plots on: lines, rectangles, other pictures and text in a built-in
/// 5×7 pixel font (digits, lower-case letters, common punctuation; capitals drawn as lower
/// case), so that plots need no font library.
public struct Canvas {
    public typealias Color = (UInt8, UInt8, UInt8)
    public let width: Int
    public let height: Int
    public private(set) var pixels: [UInt8]

    public init(width: Int, height: Int, background: Color = (255, 255, 255)) {
        require(width >= 1 && height >= 1, "Canvas: size \(width)×\(height)")
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        fill(x: 0, y: 0, width: width, height: height, background)
    }

    /// The picture as an RGB image.
    public var image: PNGImage { PNGImage(width: width, height: height, channels: 3, pixels: pixels) }

    public mutating func plot(_ x: Int, _ y: Int, _ color: Color) {
        guard x >= 0, x < width, y >= 0, y < height else { return }
        let i = (y * width + x) * 3
        (pixels[i], pixels[i + 1], pixels[i + 2]) = color
    }

    /// A straight line, `thickness` pixels wide.
    public mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ color: Color, thickness: Int = 1) {
        let count = max(abs(x1 - x0), abs(y1 - y0), 1)
        for i in 0...count {
            let x = x0 + (x1 - x0) * i / count, y = y0 + (y1 - y0) * i / count
            for dx in 0..<thickness { for dy in 0..<thickness { plot(x + dx - thickness / 2, y + dy - thickness / 2, color) } }
        }
    }

    public mutating func fill(x: Int, y: Int, width: Int, height: Int, _ color: Color) {
        for row in max(0, y)..<min(self.height, y + height) where width > 0 {
            for column in max(0, x)..<min(self.width, x + width) { plot(column, row, color) }
        }
    }

    /// Another picture (gray, gray and alpha, RGB or RGBA; alpha ignored) with its top left at
    /// (x, y).
    public mutating func draw(_ picture: PNGImage, x: Int, y: Int) {
        let c = picture.channels
        for row in 0..<picture.height {
            for column in 0..<picture.width {
                let i = (row * picture.width + column) * c
                let color = c >= 3 ? (picture.pixels[i], picture.pixels[i + 1], picture.pixels[i + 2])
                    : (picture.pixels[i], picture.pixels[i], picture.pixels[i])
                plot(x + column, y + row, color)
            }
        }
    }

    /// Pixels `text` takes at `scale`: 6 per character (5 and a space), 8 high.
    public static func textWidth(_ text: String, scale: Int = 1) -> Int { text.count * 6 * scale }

    /// Writes `text` with its top left at (x, y), each font pixel `scale` pixels square.
    public mutating func text(_ text: String, x: Int, y: Int, _ color: Color = (0, 0, 0), scale: Int = 1) {
        for (index, character) in text.lowercased().enumerated() {
            guard let rows = Self.glyphs[character] else { continue }
            for (row, bits) in rows.enumerated() {
                for column in 0..<5 where bits & (0x10 >> column) != 0 {
                    fill(x: x + (index * 6 + column) * scale, y: y + row * scale, width: scale, height: scale, color)
                }
            }
        }
    }

    /// Writes `text` turned a quarter counter-clockwise (bottom to top), its start at (x, y).
    public mutating func verticalText(_ text: String, x: Int, y: Int, _ color: Color = (0, 0, 0)) {
        for (index, character) in text.lowercased().enumerated() {
            guard let rows = Self.glyphs[character] else { continue }
            for (row, bits) in rows.enumerated() {
                for column in 0..<5 where bits & (0x10 >> column) != 0 { plot(x + row, y - index * 6 - column, color) }
            }
        }
    }

    /// The HD44780 character set's 5×7 glyphs, one row a byte (bit 4 leftmost).
    static let glyphs: [Character: [UInt8]] = [
        "0": [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E], "1": [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        "2": [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F], "3": [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        "4": [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02], "5": [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        "6": [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E], "7": [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        "8": [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E], "9": [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        "a": [0, 0, 0x0E, 0x01, 0x0F, 0x11, 0x0F], "b": [0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1E],
        "c": [0, 0, 0x0E, 0x10, 0x10, 0x11, 0x0E], "d": [0x01, 0x01, 0x0D, 0x13, 0x11, 0x11, 0x0F],
        "e": [0, 0, 0x0E, 0x11, 0x1F, 0x10, 0x0E], "f": [0x06, 0x09, 0x08, 0x1C, 0x08, 0x08, 0x08],
        "g": [0, 0x0F, 0x11, 0x11, 0x0F, 0x01, 0x0E], "h": [0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11],
        "i": [0x04, 0, 0x0C, 0x04, 0x04, 0x04, 0x0E], "j": [0x02, 0, 0x06, 0x02, 0x02, 0x12, 0x0C],
        "k": [0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12], "l": [0x0C, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        "m": [0, 0, 0x1A, 0x15, 0x15, 0x11, 0x11], "n": [0, 0, 0x16, 0x19, 0x11, 0x11, 0x11],
        "o": [0, 0, 0x0E, 0x11, 0x11, 0x11, 0x0E], "p": [0, 0, 0x1E, 0x11, 0x1E, 0x10, 0x10],
        "q": [0, 0, 0x0D, 0x13, 0x0F, 0x01, 0x01], "r": [0, 0, 0x16, 0x19, 0x10, 0x10, 0x10],
        "s": [0, 0, 0x0E, 0x10, 0x0E, 0x01, 0x1E], "t": [0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06],
        "u": [0, 0, 0x11, 0x11, 0x11, 0x13, 0x0D], "v": [0, 0, 0x11, 0x11, 0x11, 0x0A, 0x04],
        "w": [0, 0, 0x11, 0x11, 0x15, 0x15, 0x0A], "x": [0, 0, 0x11, 0x0A, 0x04, 0x0A, 0x11],
        "y": [0, 0, 0x11, 0x11, 0x0F, 0x01, 0x0E], "z": [0, 0, 0x1F, 0x02, 0x04, 0x08, 0x1F],
        ".": [0, 0, 0, 0, 0, 0x0C, 0x0C], ",": [0, 0, 0, 0, 0x0C, 0x04, 0x08], "-": [0, 0, 0, 0x1F, 0, 0, 0],
        "+": [0, 0x04, 0x04, 0x1F, 0x04, 0x04, 0], ":": [0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0], "/": [0, 0x01, 0x02, 0x04, 0x08, 0x10, 0],
        "_": [0, 0, 0, 0, 0, 0, 0x1F], "(": [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02], ")": [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
        "%": [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03], "=": [0, 0, 0x1F, 0, 0x1F, 0, 0], "×": [0, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0],
        " ": [0, 0, 0, 0, 0, 0, 0],
    ]
}
