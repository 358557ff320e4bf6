import ArgumentParser
import GenCore

struct Gen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gen",
        abstract: "Train generative models of images on the CPU: diffusion, VAE, flows and GANs.",
        version: GenCore.version,
        subcommands: [Train.self, Sample.self, Eval.self, DataCommand.self, Info.self, Bench.self])
}

// Every HDF5 file is opened first in a child process (see HDF5Guard).
HDF5Dataset.screen = HDF5Guard.check
Gen.main()
