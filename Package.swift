// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "gen",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "GenCore", targets: ["GenCore"]),
        .library(name: "Diffusion", targets: ["Diffusion"]),
        .library(name: "VAE", targets: ["VAE"]),
        .library(name: "Flows", targets: ["Flows"]),
        .library(name: "GAN", targets: ["GAN"]),
        .library(name: "GenFamilies", targets: ["GenFamilies"]),
        .library(name: "GenMPI", targets: ["GenMPI"]),
        .executable(name: "gen", targets: ["gen"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // System libraries, each through a tiny shim so Swift sees one module per library.
        .systemLibrary(
            name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5",
            providers: [.apt(["libhdf5-dev", "liblzf-dev"])]),
        .systemLibrary(
            name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
            providers: [.apt(["libpng-dev"])]),

        .systemLibrary(
            name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]),

        // MPI for data-parallel training across processes and machines (mpirun, srun).
        .systemLibrary(
            name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),

        // glibc's mallopt and prctl, which Swift's Glibc module leaves out.
        .systemLibrary(name: "CGlibc", path: "Sources/CGlibc"),

        // Kernels built for the CPU they run on (AVX-512 or portable, picked at load or run time):
        // element-wise ones, the worker pool, the convolutions' Winograd transforms and row copies.
        .target(name: "CKernels", path: "Sources/CKernels"),

        .target(name: "GenCore", dependencies: ["CBLAS", "CHDF5", "CPNG", "CZlib", "CGlibc", "CKernels"],
                resources: [.embedInCode("PyTorch/classifier.py")]),
        // Each family ships its PyTorch module (gen export --pytorch) as a Python file built into the code.
        .target(name: "Diffusion", dependencies: ["GenCore"], resources: [.embedInCode("PyTorch/unet.py")]),
        .target(name: "VAE", dependencies: ["GenCore"], resources: [.embedInCode("PyTorch/vae.py")]),
        .target(name: "Flows", dependencies: ["GenCore"], resources: [.embedInCode("PyTorch/realnvp.py")]),
        .target(name: "GAN", dependencies: ["GenCore"], resources: [.embedInCode("PyTorch/wgan.py")]),
        // The one list of the families (the registry), and what needs all of them (the benchmarks).
        .target(name: "GenFamilies", dependencies: ["GenCore", "Diffusion", "VAE", "Flows", "GAN"]),
        // A world of MPI ranks for GenCore's Communicator; only programs that train across
        // processes link MPI.
        .target(name: "GenMPI", dependencies: ["GenCore", "CMPI"]),
        .executableTarget(
            name: "gen",
            dependencies: [
                "GenCore", "Diffusion", "VAE", "Flows", "GAN", "GenFamilies", "GenMPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        .testTarget(name: "GenCoreTests", dependencies: ["GenCore", "CKernels"]),
        .testTarget(name: "DiffusionTests", dependencies: ["Diffusion", "GenCore"]),
        .testTarget(name: "VAETests", dependencies: ["VAE", "GenCore"]),
        .testTarget(name: "FlowsTests", dependencies: ["Flows", "GenCore"]),
        .testTarget(name: "GANTests", dependencies: ["GAN", "GenCore"]),
        .testTarget(name: "genTests", dependencies: ["gen", "GenCore", "Diffusion", "Flows"]),
        .testTarget(name: "GenFamiliesTests", dependencies: ["GenFamilies", "GenCore", "Diffusion", "VAE", "Flows", "GAN"]),
        // A sampler written against the public API only: the Sampler extension point's example.
        .testTarget(name: "SamplerExampleTests", dependencies: ["Diffusion", "GenCore"]),
    ]
)
