import Foundation

/// `loss.png`: each plotted metric of a run against the step, its raw values faint and a
/// centred running mean over them (which, unlike an exponential average, does not lag behind on
/// short runs), with numbered axes, a title and a log scale when the loss spans decades.
public enum LossPlot {
    /// - Parameters:
    ///   - history: the values of each metric by step, plotted in the order of `metrics`.
    ///   - title: what the plot is of (the run's kind and folder name).
    public static func image(history: [String: [(step: Int, value: Float)]], metrics: [String], title: String,
                             width: Int = 760, height: Int = 440) -> PNGImage {
        var series: [LinePlot.Series] = []
        for (index, metric) in metrics.enumerated() {
            let points = (history[metric] ?? []).filter { $0.value.isFinite }
            let color = LinePlot.palette[index % LinePlot.palette.count]
            series.append(LinePlot.Series(name: metric, points: points.map { (Double($0.step), Double($0.value)) },
                                          color: LinePlot.light(color), thickness: 1, inLegend: false))
            series.append(LinePlot.Series(name: metric, points: smoothed(points), color: color, thickness: 2))
        }
        return LinePlot(title: title, xLabel: "step", yLabel: metrics.count == 1 ? metrics[0] : "value", series: series)
            .image(width: width, height: height)
    }

    /// The mean of each value's neighbours within a window of about a twentieth of the points.
    static func smoothed(_ points: [(step: Int, value: Float)]) -> [(x: Double, y: Double)] {
        let half = max(0, points.count / 40)
        guard half > 0 else { return points.map { (Double($0.step), Double($0.value)) } }
        var prefix = [0.0]
        for point in points { prefix.append(prefix.last! + Double(point.value)) }
        return points.indices.map { i in
            let low = max(0, i - half), high = min(points.count, i + half + 1)
            return (Double(points[i].step), (prefix[high] - prefix[low]) / Double(high - low))
        }
    }
}
