import ArgumentParser
import GenCore

struct Gen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gen",
        abstract: "Train generative models of images on the CPU: diffusion, VAE, flows and GANs.",
        version: GenCore.version,
        subcommands: [Train.self, Sample.self, Eval.self, DataCommand.self, Info.self, Bench.self])
}

Gen.main()
