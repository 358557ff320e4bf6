// swift-tools-version:6.0
import PackageDescription

// gen by path. A path dependency is known by its folder's name, so `package:` below names the
// checkout's folder; `name: "gen"` lets any folder name serve.
let package = Package(
    name: "TrainFromLibrary",
    platforms: [.macOS(.v14)],
    dependencies: [.package(name: "gen", path: "../..")],
    targets: [
        .executableTarget(name: "TrainFromLibrary", dependencies: [
            .product(name: "GenCore", package: "gen"),
            .product(name: "Diffusion", package: "gen"),
        ]),
    ]
)
