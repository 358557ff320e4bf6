import Foundation

/// Quality against wall-clock time (`scripts/results.sh`'s `fid-vs-minutes.png`): from JSON
/// lines `{"family", "dataset", "minutes", "fid"}` and one `{"family": "floor", "dataset",
/// "fid"}` per dataset, FID against minutes with one line per family and the floor drawn, one
/// panel per dataset.
public enum QualityCurves {
    /// One measurement.
    public struct Point: Equatable, Sendable {
        public var family: String
        public var dataset: String
        /// nil for the floor.
        public var minutes: Double?
        public var fid: Double

        public init(family: String, dataset: String, minutes: Double?, fid: Double) {
            self.family = family
            self.dataset = dataset
            self.minutes = minutes
            self.fid = fid
        }
    }

    /// The points of `text`'s JSON lines that have a family, a dataset and an FID; lines
    /// without them are skipped, and a line that is not JSON is an error naming its number.
    public static func points(jsonLines text: String, file: String) throws -> [Point] {
        var points: [Point] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            guard let record = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw GenError.badData("\(file): line \(index + 1) is not a JSON object")
            }
            guard let family = record["family"] as? String, let dataset = record["dataset"] as? String,
                  let fid = (record["fid"] as? NSNumber)?.doubleValue, fid.isFinite else { continue }
            let minutes = (record["minutes"] as? NSNumber)?.doubleValue
            if family != "floor" && minutes == nil { continue }
            points.append(Point(family: family, dataset: dataset, minutes: family == "floor" ? nil : minutes, fid: fid))
        }
        guard points.contains(where: { $0.minutes != nil }) else {
            throw GenError.badData("\(file): no lines with a family, a dataset, minutes and an FID")
        }
        return points
    }

    /// The plot: a panel per dataset (in order of first appearance), a line per family.
    public static func image(_ points: [Point], panelWidth: Int = 620, height: Int = 440) -> PNGImage {
        var datasets: [String] = []
        for point in points where !datasets.contains(point.dataset) { datasets.append(point.dataset) }
        var families: [String] = []
        for point in points where point.minutes != nil && !families.contains(point.family) { families.append(point.family) }
        var canvas = Canvas(width: panelWidth * max(1, datasets.count), height: height)
        for (panel, dataset) in datasets.enumerated() {
            let here = points.filter { $0.dataset == dataset }
            let series = families.enumerated().compactMap { index, family -> LinePlot.Series? in
                let line = here.filter { $0.family == family }.compactMap { point in point.minutes.map { (x: $0, y: point.fid) } }.sorted { $0.x < $1.x }
                return line.isEmpty ? nil : LinePlot.Series(name: family, points: line, color: LinePlot.palette[index % LinePlot.palette.count])
            }
            let floors = here.filter { $0.minutes == nil }.map { (value: $0.fid, label: String(format: "floor %.1f", $0.fid)) }
            LinePlot(title: "FID against minutes: \(dataset)", xLabel: "wall-clock minutes of training", yLabel: "FID", series: series,
                     logY: true, references: floors)
                .draw(on: &canvas, x: panel * panelWidth, y: 0, width: panelWidth, height: height)
        }
        return canvas.image
    }
}
