import ArgumentParser
import GenCore

/// `gen info`: what this binary runs on.
struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the versions of the libraries gen is linked against and the thread count.")

    func run() {
        let info = SystemInfo.current
        print("gen \(GenCore.version)")
        print("OpenBLAS  \(info.openBLAS)")
        print("HDF5      \(info.hdf5)")
        print("libpng    \(info.libpng)")
        print("threads   \(info.threads) (OpenBLAS: \(info.openBLASThreads))")
    }
}
