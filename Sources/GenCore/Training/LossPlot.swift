import Foundation

/// Draws a training curve as a PNG: the raw loss in light blue, a smoothed loss in dark blue,
/// a log scale when the loss spans more than a factor of ten, horizontal grid lines at powers
/// of ten (or at quarters on a linear scale).
public enum LossPlot {
    public static func image(steps: [Int], losses: [Float], width: Int = 720, height: Int = 400) -> PNGImage {
        var pixels = [UInt8](repeating: 255, count: width * height * 3)
        func plot(_ x: Int, _ y: Int, _ color: (UInt8, UInt8, UInt8)) {
            guard x >= 0, x < width, y >= 0, y < height else { return }
            let i = (y * width + x) * 3
            (pixels[i], pixels[i + 1], pixels[i + 2]) = color
        }
        func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ color: (UInt8, UInt8, UInt8)) {
            let count = max(abs(x1 - x0), abs(y1 - y0), 1)
            for i in 0...count {
                plot(x0 + (x1 - x0) * i / count, y0 + (y1 - y0) * i / count, color)
            }
        }
        let (left, right, top, bottom) = (40, width - 16, 16, height - 32)
        let points = zip(steps, losses).filter { $0.1.isFinite && $0.1 > -Float.greatestFiniteMagnitude }
        line(left, bottom, right, bottom, (0, 0, 0))
        line(left, top, left, bottom, (0, 0, 0))
        guard points.count >= 2, let low = points.map(\.1).min(), let high = points.map(\.1).max() else {
            return PNGImage(width: width, height: height, channels: 3, pixels: pixels)
        }
        let logScale = low > 0 && high / low > 10
        func transform(_ v: Float) -> Double { logScale ? log10(Double(v)) : Double(v) }
        let (yLow, yHigh) = (transform(low), transform(high) + (high == low ? 1 : 0))
        let (xLow, xHigh) = (Double(points.first!.0), Double(max(points.last!.0, points.first!.0 + 1)))
        func x(_ step: Int) -> Int { left + Int(Double(right - left) * (Double(step) - xLow) / (xHigh - xLow)) }
        func y(_ value: Double) -> Int { bottom - Int(Double(bottom - top) * (value - yLow) / (yHigh - yLow)) }
        // grid
        var marks: [Double] = []
        if logScale {
            let first = Int(yLow.rounded(.up)), last = Int(yHigh.rounded(.down))
            if first <= last { marks = (first...last).map { Double($0) } }
        } else {
            let span = yHigh - yLow
            marks = [yLow + span / 4, yLow + span / 2, yLow + 3 * span / 4]
        }
        for mark in marks where mark >= yLow && mark <= yHigh { line(left + 1, y(mark), right, y(mark), (220, 220, 220)) }
        // raw and smoothed loss
        var smoothed = Double(points[0].1)
        var previous: (Int, Int, Int)?
        for (step, loss) in points {
            smoothed = 0.9 * smoothed + 0.1 * Double(loss)
            let px = x(step), raw = y(transform(loss)), smooth = y(transform(Float(smoothed)))
            if let (qx, qRaw, qSmooth) = previous {
                line(qx, qRaw, px, raw, (160, 190, 235))
                line(qx, qSmooth, px, smooth, (20, 60, 170))
            }
            previous = (px, raw, smooth)
        }
        return PNGImage(width: width, height: height, channels: 3, pixels: pixels)
    }
}
