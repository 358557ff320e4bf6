import Foundation
import GenCore
import Testing

/// `fid-vs-minutes.png` from results.sh's JSON lines.
@Suite("Quality against minutes")
struct QualityCurvesTests {
    static let lines = """
    {"family": "floor", "dataset": "mnist", "n": 1000, "fid": 20.5}
    {"family": "ddpm", "dataset": "mnist", "minutes": 2, "fid": 300, "steps": 100}
    {"family": "ddpm", "dataset": "mnist", "minutes": 5, "fid": 90}
    {"family": "flow", "dataset": "mnist", "minutes": 5, "fid": 60}
    {"family": "classifier", "dataset": "mnist", "accuracy": 0.97}
    {"family": "floor", "dataset": "fashion", "fid": 9}
    {"family": "vae", "dataset": "fashion", "minutes": 2, "fid": 150}

    """

    /// Lines with a family, a dataset, an FID and (but for the floor) minutes are points; the
    /// others are skipped; a line that is not JSON names its number.
    @Test func readsThePoints() throws {
        let points = try QualityCurves.points(jsonLines: Self.lines, file: "r.jsonl")
        #expect(points.count == 6)
        #expect(points[0] == QualityCurves.Point(family: "floor", dataset: "mnist", minutes: nil, fid: 20.5))
        #expect(points[1] == QualityCurves.Point(family: "ddpm", dataset: "mnist", minutes: 2, fid: 300))
        #expect(throws: GenError.badData("r.jsonl: line 2 is not a JSON object")) {
            try QualityCurves.points(jsonLines: "{\"family\": \"ddpm\"}\nnot json\n", file: "r.jsonl")
        }
        #expect(throws: GenError.self) { try QualityCurves.points(jsonLines: "{\"family\": \"floor\", \"dataset\": \"m\", \"fid\": 3}", file: "r.jsonl") }
    }

    /// One panel per dataset, each family's line in its own colour.
    @Test func drawsAPanelPerDatasetAndALinePerFamily() throws {
        let image = QualityCurves.image(try QualityCurves.points(jsonLines: Self.lines, file: "r.jsonl"), panelWidth: 500, height: 400)
        #expect(image.width == 1000 && image.height == 400)
        func count(_ color: Canvas.Color, from: Int, to: Int) -> Int {
            var n = 0
            for y in 0..<image.height { for x in from..<to {
                let i = (y * image.width + x) * image.channels
                if image.pixels[i] == color.0 && image.pixels[i + 1] == color.1 && image.pixels[i + 2] == color.2 { n += 1 }
            } }
            return n
        }
        let (ddpm, flow, vae) = (LinePlot.palette[0], LinePlot.palette[1], LinePlot.palette[2])
        #expect(count(ddpm, from: 0, to: 500) > 100, "ddpm's line on the MNIST panel")
        #expect(count(flow, from: 0, to: 500) > 10, "flow's one point (its legend at least)")
        #expect(count(vae, from: 500, to: 1000) > 10 && count(vae, from: 0, to: 500) == 0, "the vae only on the Fashion panel")
    }
}
