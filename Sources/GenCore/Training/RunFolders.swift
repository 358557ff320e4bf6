import Foundation

/// The run folders under one folder (`./runs` by default), as `gen train` makes them.
public enum RunFolders {
    /// The files of a run folder that only gen writes: outputs must never replace them.
    public static func ownFiles(of folder: URL) -> [URL] {
        (["checkpoint.safetensors", "config.json", "metrics.jsonl", "loss.png", "eval.jsonl", ".lock"]
            + (EvaluationMetric.sampleMetrics + [.classAccuracy]).map(Evaluation.sweepPlotName)).map { folder.appendingPathComponent($0) }
    }

    /// A new run's folder when none is given: `runs/<kind>-<date>-<time>`.
    public static func newFolder(kind: String, under runs: URL = URL(fileURLWithPath: "runs")) -> URL {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        return runs.appendingPathComponent("\(kind)-\(formatter.string(from: Date()))")
    }

    /// The run under `runs` whose checkpoint was written last, among those whose configuration
    /// satisfies `condition` (read from `config.json`; all runs with a checkpoint when nil).
    public static func mostRecent(under runs: URL = URL(fileURLWithPath: "runs"), where condition: ((RunKind) -> Bool)? = nil) -> URL? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: runs.path)) ?? []
        let candidates = names.compactMap { name -> (URL, Date)? in
            let folder = runs.appendingPathComponent(name)
            if let condition {
                guard let text = try? String(contentsOf: folder.appendingPathComponent("config.json"), encoding: .utf8),
                      let header = try? RunKind.decode(text), condition(header) else { return nil }
            }
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: folder.appendingPathComponent("checkpoint.safetensors").path),
                  let date = attributes[.modificationDate] as? Date else { return nil }
            return (folder, date)
        }
        return candidates.max { $0.1 < $1.1 }?.0
    }
}
