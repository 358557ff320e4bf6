import ArgumentParser
import Foundation
import GenCore
import GenFamilies

/// `gen export RUN --pytorch OUT/`: the run's model as a PyTorch module, its weights and its
/// keyword arguments.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a run's model for PyTorch: model.py (class Model), weights.safetensors and config.json.",
        discussion: """
            In Python: model = Model(**json.load(open("config.json"))); \
            model.load_state_dict(safetensors.torch.load_file("weights.safetensors"), strict=True)
            """)

    @Argument(help: ArgumentHelp("The run folder (or its checkpoint file).", valueName: "run"))
    var runFolder: String

    @Option(help: "The folder to write (created if missing).")
    var pytorch: String

    @Flag(help: "Export the raw weights instead of the EMA weights.")
    var noEMA = false

    @Flag(help: "Replace model.py, weights.safetensors and config.json if the folder has them.")
    var force = false

    func run() throws {
        try reportingFailures {
            let saved = try FamilyRegistry.builtIn.open(URL(fileURLWithPath: runFolder))
            let weights: ModelWeights = noEMA ? .raw : .sampling
            try PyTorchExport.write(saved, to: URL(fileURLWithPath: pytorch), weights: weights, overwrite: force)
            print("wrote \(pytorch): model.py, weights.safetensors (\(weights == .sampling ? "EMA" : "raw") weights) and config.json of the \(saved.kind) run \(saved.folder.path)")
        }
    }
}
