import ArgumentParser
import Foundation
import GenCore

struct Gen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gen",
        abstract: "Train generative models of images on the CPU: diffusion, VAE, flows and GANs.",
        version: GenCore.version,
        subcommands: [Train.self, Sample.self, Eval.self, Runs.self, Export.self, DataCommand.self, Info.self, Bench.self])
}

// A closed standard descriptor (`2>&-`) would be handed to the next file gen opens, and notes
// meant for stderr would land in a checkpoint: keep 0, 1 and 2 open, on /dev/null if need be.
for descriptor in [STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO] where fcntl(descriptor, F_GETFD) < 0 {
    let null = open("/dev/null", descriptor == STDIN_FILENO ? O_RDONLY : O_WRONLY)
    if null >= 0 && null != descriptor { dup2(null, descriptor); close(null) }
}
// Every HDF5 file is opened first in a child process (see HDF5Guard).
HDF5Dataset.screen = HDF5Guard.check
// A reader that went away (`| head`) or a file-size limit must not kill gen: writes fail instead.
signal(SIGPIPE, SIG_IGN)
signal(SIGXFSZ, SIG_IGN)
// Training takes SIGINT and SIGTERM from the start, so one that comes during set-up is honoured.
if CommandLine.arguments.dropFirst().first == "train" { Interruption.install() }
Gen.main()
