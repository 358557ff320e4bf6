import Foundation

/// One run folder at a glance, as `gen runs` lists it: its kind, how far it got, how long it
/// trained, its last loss and its latest evaluation.
public struct RunSummary {
    public let folder: URL
    public let kind: String
    /// Steps done and the run's total.
    public let step: Int
    public let steps: Int
    /// Seconds of training (from the metrics log; nil for runs that predate it).
    public let elapsed: Double?
    /// The metric the run's progress line follows (`loss`, or a GAN's `wasserstein`), its last
    /// value and its values by step.
    public let progressMetric: String
    public let lastValue: Double?
    public let curve: [(step: Int, value: Double)]
    /// The last line of `eval.jsonl`, if the run was evaluated.
    public let latestEvaluation: [String: Any]?
    /// The newest sample grid.
    public let latestGrid: URL?

    /// The summary of the run in `folder`, read from its checkpoint's metadata and its logs.
    public static func read(_ folder: URL, registry: FamilyRegistry) throws -> RunSummary {
        let url = try RunCheckpoint.locate(folder)
        let contents = try SafeTensors.readMetadata(url)
        guard let config = contents["config"], let trainerText = contents["trainer"],
              let trainer = try? JSONDecoder().decode(TrainerState.self, from: Data(trainerText.utf8)) else {
            throw SafeTensorsError.invalid(url.path, "not a gen checkpoint (no config or trainer metadata)")
        }
        let family = try registry.family(ofConfiguration: config, file: url.path)
        let header = try RunKind.decode(config)
        let metric = family.progressMetric
        var curve: [(Int, Double)] = [], elapsed: Double?
        if let text = try? String(contentsOf: folder.appendingPathComponent("metrics.jsonl"), encoding: .utf8) {
            for line in text.split(separator: "\n") {
                guard let record = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let step = record["step"] as? Int else { continue }
                if let value = record[metric] as? Double { curve.append((step, value)) }
                if let seconds = record["elapsed"] as? Double { elapsed = seconds }
            }
        }
        let evaluation = (try? String(contentsOf: folder.appendingPathComponent("eval.jsonl"), encoding: .utf8))?
            .split(separator: "\n").last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let grids = ((try? FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("samples").path)) ?? [])
            .filter { $0.hasSuffix(".png") }.sorted()
        return RunSummary(folder: folder, kind: family.kind, step: trainer.step, steps: header.training.steps, elapsed: elapsed,
                          progressMetric: metric, lastValue: curve.last?.1, curve: curve, latestEvaluation: evaluation,
                          latestGrid: grids.last.map { folder.appendingPathComponent("samples").appendingPathComponent($0) })
    }

    /// Every run under `runs` (folders holding a checkpoint), oldest first; folders that are not
    /// runs, or whose checkpoint cannot be read, are left out.
    public static func list(under runs: URL, registry: FamilyRegistry) -> [RunSummary] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: runs.path)) ?? []
        return names.sorted().compactMap { try? read(runs.appendingPathComponent($0), registry: registry) }
    }

    /// The latest evaluation in a few words: `fid 12.3 kid 0.004` or `bpd 1.23`.
    public var evaluationText: String {
        guard let evaluation = latestEvaluation else { return "-" }
        let keys = ["fid", "kid", "precision", "recall", "bpd", "nll_nats", "accuracy"].filter { evaluation[$0] is Double }
        return keys.map { "\($0) \(LinePlot.label(((evaluation[$0] as? Double ?? 0) * 1000).rounded() / 1000))" }.joined(separator: " ")
    }

    /// One line of `gen runs`.
    public var line: String {
        let wall = elapsed.map { ProgressReporter.clock($0) } ?? "-"
        let last = lastValue.map { "\(progressMetric) \(String(format: "%.4g", $0))" } ?? "-"
        return [kind.padding(toLength: 10, withPad: " ", startingAt: 0), "\(step)/\(steps)".padding(toLength: 14, withPad: " ", startingAt: 0),
                wall.padding(toLength: 9, withPad: " ", startingAt: 0), last.padding(toLength: 22, withPad: " ", startingAt: 0),
                evaluationText.padding(toLength: 34, withPad: " ", startingAt: 0), folder.path].joined(separator: " ")
    }

    /// How the picture names a run: its kind, and its folder's name unless that is the kind.
    static func label(_ run: RunSummary) -> String {
        run.folder.lastPathComponent == run.kind ? run.kind : "\(run.kind) \(run.folder.lastPathComponent)"
    }

    /// Several runs side by side in one picture: their progress curves on shared axes (a colour
    /// each, smoothed) above their latest sample grids, each named.
    public static func comparison(_ runs: [RunSummary]) throws -> PNGImage {
        let grids = try runs.map { try $0.latestGrid.map { try PNG.read($0) } }
        let cell = 220, plotHeight = 380
        let width = max(760, runs.count * (cell + 10) + 10)
        var canvas = Canvas(width: width, height: plotHeight + cell + 40)
        let series = runs.enumerated().map { index, run in
            LinePlot.Series(name: label(run),
                            points: LossPlot.smoothed(run.curve.map { (step: $0.step, value: Float($0.value)) }),
                            color: LinePlot.palette[index % LinePlot.palette.count])
        }
        let metrics = Set(runs.map(\.progressMetric))
        LinePlot(title: "runs compared", xLabel: "step", yLabel: metrics.count == 1 ? (metrics.first ?? "loss") : "loss", series: series)
            .draw(on: &canvas, x: 0, y: 0, width: width, height: plotHeight)
        for (index, run) in runs.enumerated() {
            let x = 10 + index * (cell + 10), y = plotHeight + 10
            if let grid = grids[index] { canvas.draw(Self.fit(grid, within: cell), x: x, y: y) }
            canvas.fill(x: x, y: y + cell + 6, width: 16, height: 4, LinePlot.palette[index % LinePlot.palette.count])
            canvas.text(String(label(run).prefix(cell / 6 - 4)), x: x + 20, y: y + cell + 4)
        }
        return canvas.image
    }

    /// `picture` shrunk (nearest pixel) to fit a `side` × `side` square, if it is larger.
    static func fit(_ picture: PNGImage, within side: Int) -> PNGImage {
        let scale = max(Double(picture.width) / Double(side), Double(picture.height) / Double(side), 1)
        guard scale > 1 else { return picture }
        let (w, h, c) = (max(1, Int(Double(picture.width) / scale)), max(1, Int(Double(picture.height) / scale)), picture.channels)
        var pixels = [UInt8](repeating: 0, count: w * h * c)
        for y in 0..<h { for x in 0..<w {
            let (sx, sy) = (min(picture.width - 1, Int(Double(x) * scale)), min(picture.height - 1, Int(Double(y) * scale)))
            for k in 0..<c { pixels[(y * w + x) * c + k] = picture.pixels[(sy * picture.width + sx) * c + k] }
        } }
        return PNGImage(width: w, height: h, channels: c, pixels: pixels)
    }
}
