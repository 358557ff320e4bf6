import Diffusion
import Flows
import Foundation
import GAN
import GenCore
import GenFamilies
import Testing
import VAE

/// `gen export --pytorch` against `Tests/Fixtures/export/` (made by `make_export_fixtures.py`):
/// gen still writes the exported model.py and config.json byte for byte, and gen's own module
/// with the exported weights computes what the exported PyTorch module computed.
@Suite("PyTorch export")
struct PyTorchExportTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/export")

    struct Exported {
        let source: String, arguments: String
        let weights: [String: Tensor], metadata: [String: String], outputs: [String: Tensor]
        init(_ name: String) throws {
            let folder = PyTorchExportTests.fixtures.appendingPathComponent(name)
            source = try String(contentsOf: folder.appendingPathComponent("model.py"), encoding: .utf8)
            arguments = try String(contentsOf: folder.appendingPathComponent("config.json"), encoding: .utf8)
            let contents = try SafeTensors.read(folder.appendingPathComponent("weights.safetensors"))
            (weights, metadata) = (contents.tensors, contents.metadata)
            outputs = try SafeTensors.read(folder.appendingPathComponent("outputs.safetensors")).tensors
        }

        /// The run configuration the weights came from (stored in their metadata by the export).
        func configuration<Family: ModelFamily>(_ family: Family.Type) throws -> Family.Configuration {
            try Family.runConfiguration(from: try #require(metadata["gen_config"]), file: "weights.safetensors").model
        }

        /// The family's module for that configuration is the exported one, and takes the weights.
        func task<Family: ModelFamily>(_ family: Family.Type, sourceLocation: SourceLocation = #_sourceLocation) throws -> Family.Task {
            let configuration = try configuration(family)
            let module = try #require(Family.pytorchModule(for: configuration))
            #expect(module.source == source, "model.py differs from the committed export: run make_export_fixtures.py again", sourceLocation: sourceLocation)
            #expect(module.argumentsJSON == arguments, "config.json: \(module.argumentsJSON)", sourceLocation: sourceLocation)
            let task = Family.makeTask(configuration)
            try task.model.load(stateDict: weights)
            task.model.eval()
            return task
        }

        func output(_ key: String) throws -> Tensor { try #require(outputs[key], "no \(key)") }
    }

    /// `ours` against PyTorch's `theirs`, relative to the larger of 1 and theirs' largest value.
    static func expectClose(_ ours: Tensor, _ theirs: Tensor, _ what: String, tolerance: Float = 1e-4,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(ours.shape == theirs.shape, "\(what): shape \(ours.shape) against \(theirs.shape)", sourceLocation: sourceLocation)
        let scale = max(1, theirs.scalars.map(abs).max() ?? 0)
        let worst = zip(ours.scalars, theirs.scalars).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= tolerance * scale, "\(what): differs by \(worst) (scale \(scale))", sourceLocation: sourceLocation)
    }

    @Test func unet() throws {
        let exported = try Exported("unet")
        let flow = try exported.task(FlowMatchingFamily.self)
        let x = try exported.output("x"), t = try exported.output("t")
        let out = withoutGradients { flow.network(x, times: t) }
        Self.expectClose(out, try exported.output("out"), "UNet output")
        // the three diffusion families export the same module for the same UNet
        let unet = try exported.configuration(FlowMatchingFamily.self).unet
        #expect(DDPMFamily.pytorchModule(for: DDPMConfiguration(unet: unet)) == unet.pytorchModule)
        #expect(ScoreSDEFamily.pytorchModule(for: ScoreSDEConfiguration(unet: unet)) == unet.pytorchModule)
    }

    @Test(arguments: ["vae-mlp", "vae-conv"])
    func vae(_ name: String) throws {
        let exported = try Exported(name)
        let vae = try exported.task(VAEFamily.self).network
        let x = try exported.output("x"), z = try exported.output("z")
        let (mean, logVariance) = withoutGradients { vae.encode(x) }
        Self.expectClose(mean, try exported.output("mu"), "\(name) μ")
        Self.expectClose(logVariance, try exported.output("logvar"), "\(name) log σ²")
        Self.expectClose(withoutGradients { vae.decode(z) }, try exported.output("decoded"), "\(name) decoder")
    }

    @Test func realnvp() throws {
        let exported = try Exported("realnvp")
        let flow = try exported.task(RealNVPFamily.self).flow
        let y = try exported.output("y"), z = try exported.output("z")
        Self.expectClose(withoutGradients { flow.logDensity(y) }, try exported.output("log_prob"), "log p(y)", tolerance: 1e-5)
        Self.expectClose(withoutGradients { flow.inverse(z).x }, try exported.output("inverse"), "inverse")
    }

    @Test func wgan() throws {
        let exported = try Exported("wgan")
        let wgan = try exported.task(WGANFamily.self)
        let z = try exported.output("z"), x = try exported.output("x")
        Self.expectClose(withoutGradients { wgan.generator(z) }, try exported.output("images"), "generator")
        Self.expectClose(withoutGradients { wgan.critic(x) }, try exported.output("scores"), "critic (stored u, v)")
    }

    @Test func classifier() throws {
        let exported = try Exported("classifier")
        let network = try exported.task(FeatureClassifierFamily.self).network
        let x = try exported.output("x")
        Self.expectClose(withoutGradients { network(x) }, try exported.output("logits"), "logits")
        Self.expectClose(withoutGradients { network.features(x) }, try exported.output("features"), "features")
    }

    /// The library call writes the three files of a run; it replaces them only when told to.
    @Test func exportWritesAndKeeps() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("gen-export-\(UInt32.random(in: 0...UInt32.max))")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let checkpoint = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/checkpoints/gen-0.1.0/wgan.safetensors")
        let run = try FamilyRegistry.builtIn.open(checkpoint)
        let written = try PyTorchExport.write(run, to: scratch)
        #expect(written.map(\.lastPathComponent) == PyTorchExport.files)
        let weights = try SafeTensors.read(scratch.appendingPathComponent("weights.safetensors"))
        let sampled = try run.family.pytorchExport(run.checkpoint, from: checkpoint, weights: .sampling).1
        #expect(weights.tensors.keys.sorted() == sampled.keys.sorted() && weights.metadata["kind"] == "wgan")
        #expect(weights.tensors.allSatisfy { $0.value.scalars == sampled[$0.key]?.scalars }, "the sampling weights: the generator's EMA")
        do {
            try PyTorchExport.write(run, to: scratch)
            Issue.record("an export over an earlier one without overwrite")
        } catch {
            #expect("\(error)".contains("model.py: already exists"), "\(error)")
        }
        #expect(try PyTorchExport.write(run, to: scratch, overwrite: true).count == 3)
    }
}
