import Foundation

/// A plot of lines against one x axis, with numbered ticks on both axes, axis labels, a title,
/// a legend, a log y scale when the values span decades, and optional horizontal reference
/// lines (a metric's floor): what `loss.png`, `gen runs --compare` and the evaluation plots draw.
public struct LinePlot {
    public struct Series {
        public var name: String
        public var points: [(x: Double, y: Double)]
        public var color: Canvas.Color
        public var thickness: Int
        /// Whether the legend names it (faint raw values stay out of it).
        public var inLegend: Bool

        public init(name: String, points: [(x: Double, y: Double)], color: Canvas.Color, thickness: Int = 2, inLegend: Bool = true) {
            self.name = name
            self.points = points
            self.color = color
            self.thickness = thickness
            self.inLegend = inLegend
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    /// Log y scale: nil chooses it when every value is positive and they span more than 20×.
    public var logY: Bool?
    /// Horizontal lines with labels, drawn dashed.
    public var references: [(value: Double, label: String)]

    public init(title: String, xLabel: String, yLabel: String, series: [Series], logY: Bool? = nil, references: [(value: Double, label: String)] = []) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.logY = logY
        self.references = references
    }

    /// Distinct colours for lines, and a lighter version of each for raw values.
    public static let palette: [Canvas.Color] = [(31, 87, 180), (214, 96, 24), (36, 150, 70), (180, 40, 50), (120, 80, 170), (20, 150, 160), (140, 100, 40)]
    public static func light(_ color: Canvas.Color) -> Canvas.Color {
        (UInt8(255 - (255 - Int(color.0)) / 3), UInt8(255 - (255 - Int(color.1)) / 3), UInt8(255 - (255 - Int(color.2)) / 3))
    }

    public func image(width: Int = 760, height: Int = 440) -> PNGImage {
        var canvas = Canvas(width: width, height: height)
        draw(on: &canvas, x: 0, y: 0, width: width, height: height)
        return canvas.image
    }

    /// Draws the plot in the rectangle at (x, y).
    public func draw(on canvas: inout Canvas, x originX: Int, y originY: Int, width: Int, height: Int) {
        let (left, right, top, bottom) = (originX + 64, originX + width - 16, originY + 28, originY + height - 40)
        canvas.text(title, x: originX + (width - Canvas.textWidth(title, scale: 2)) / 2, y: originY + 6, scale: 2)
        canvas.text(xLabel, x: (left + right - Canvas.textWidth(xLabel)) / 2, y: bottom + 24)
        canvas.verticalText(yLabel, x: originX + 4, y: (top + bottom + Canvas.textWidth(yLabel)) / 2)
        let values = series.flatMap { $0.points } .filter { $0.x.isFinite && $0.y.isFinite }
        let ys = values.map(\.y) + references.map(\.value)
        guard let xMin = values.map(\.x).min(), let xMax = values.map(\.x).max(), let yMin = ys.min(), let yMax = ys.max() else {
            canvas.line(left, bottom, right, bottom, (0, 0, 0))
            canvas.line(left, top, left, bottom, (0, 0, 0))
            canvas.text("no values yet", x: left + 12, y: top + 12, (120, 120, 120))
            return
        }
        let log = logY ?? (yMin > 0 && yMax / yMin > 20)
        func transform(_ v: Double) -> Double { log ? log10(max(v, 1e-300)) : v }
        var (low, high) = (transform(yMin), transform(yMax))
        if high - low < 1e-12 { (low, high) = (low - 0.5, high + 0.5) } else { (low, high) = (low - 0.04 * (high - low), high + 0.04 * (high - low)) }
        let (xLow, xHigh) = (xMin, xMax > xMin ? xMax : xMin + 1)
        func px(_ v: Double) -> Int { left + Int((Double(right - left) * (v - xLow) / (xHigh - xLow)).rounded()) }
        func py(_ v: Double) -> Int { bottom - Int((Double(bottom - top) * (transform(v) - low) / (high - low)).rounded()) }
        // ticks and grid
        for tick in Self.ticks(low: xLow, high: xHigh) {
            let x = px(tick)
            canvas.line(x, top, x, bottom, (236, 236, 236))
            canvas.line(x, bottom, x, bottom + 4, (0, 0, 0))
            let label = Self.label(tick)
            canvas.text(label, x: x - Canvas.textWidth(label) / 2, y: bottom + 8)
        }
        let yTicks = log ? Self.logTicks(low: low, high: high) : Self.ticks(low: low, high: high)
        for tick in yTicks {
            let y = py(tick)
            guard y >= top && y <= bottom else { continue }
            canvas.line(left, y, right, y, (236, 236, 236))
            canvas.line(left - 4, y, left, y, (0, 0, 0))
            let label = Self.label(tick)
            canvas.text(label, x: left - 8 - Canvas.textWidth(label), y: y - 3)
        }
        canvas.line(left, bottom, right, bottom, (0, 0, 0))
        canvas.line(left, top, left, bottom, (0, 0, 0))
        for reference in references {
            let y = py(reference.value)
            for x in stride(from: left, to: right, by: 8) { canvas.line(x, y, min(x + 4, right), y, (90, 90, 90)) }
            canvas.text(reference.label, x: right - Canvas.textWidth(reference.label) - 4, y: y - 11, (90, 90, 90))
        }
        for s in series {
            let points = s.points.filter { $0.x.isFinite && $0.y.isFinite && (!log || $0.y > 0) }
            for (a, b) in zip(points, points.dropFirst()) { canvas.line(px(a.x), py(a.y), px(b.x), py(b.y), s.color, thickness: s.thickness) }
            if points.count == 1 { canvas.fill(x: px(points[0].x) - 2, y: py(points[0].y) - 2, width: 5, height: 5, s.color) }
        }
        // legend, top right
        let named = series.filter(\.inLegend)
        if named.count > 1 || (named.count == 1 && named[0].name != yLabel) {
            let widest = named.map { Canvas.textWidth($0.name) }.max() ?? 0
            var y = top + 6
            for s in named {
                canvas.fill(x: right - widest - 30, y: y + 2, width: 16, height: 3, s.color)
                canvas.text(s.name, x: right - widest - 8, y: y)
                y += 12
            }
        }
    }

    /// About five round values (1, 2 or 5 times a power of ten apart) in [low, high].
    public static func ticks(low: Double, high: Double) -> [Double] {
        let span = high - low
        guard span > 0, span.isFinite else { return [low] }
        let raw = span / 5, magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        return stride(from: (low / step).rounded(.up) * step, through: high, by: step).map { $0 }
    }

    /// Powers of ten (and 2 and 5 times them when few decades show), as values.
    public static func logTicks(low: Double, high: Double) -> [Double] {
        let decades = Int(floor(low))...Int(ceil(high))
        let multiples: [Double] = decades.count <= 3 ? [1, 2, 5] : [1]
        return decades.flatMap { d in multiples.map { $0 * pow(10, Double(d)) } }.filter { log10($0) >= low && log10($0) <= high }
    }

    /// A tick's label: plain for ordinary sizes, `1e-4` style for very small or large ones.
    public static func label(_ value: Double) -> String {
        if value == 0 { return "0" }
        let magnitude = abs(value)
        if magnitude >= 1e5 || magnitude < 1e-3 {
            let exponent = Int(floor(log10(magnitude)))
            let mantissa = value / pow(10, Double(exponent))
            let m = abs(mantissa - mantissa.rounded()) < 1e-9 ? String(Int(mantissa.rounded())) : String(format: "%.1f", mantissa)
            return "\(m)e\(exponent)"
        }
        var text = String(format: "%.4f", value)
        while text.contains(".") && (text.hasSuffix("0") || text.hasSuffix(".")) { text.removeLast() }
        return text
    }
}
