// swift-tools-version:5.3
// libFuzzer targets for gen's parsers of untrusted input (RELIABILITY.md item 23). Build and run:
//   cd Tests/Fuzz && swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
//   .build/release/FuzzSafeTensors corpus/safetensors -max_total_time=600
// (scripts/fuzz.sh does both for every target.) Tools version 5.3 on purpose: with it a target
// holding main.swift is an executable whose `main` libFuzzer supplies (newer tools versions rename
// the entry point, which -parse-as-library then leaves undefined), as swift-protobuf's FuzzTesting does.
import PackageDescription

let targets = ["FuzzSafeTensors", "FuzzPNG", "FuzzIDX", "FuzzCSV", "FuzzHDF5"]

let package = Package(
    name: "GenFuzz",
    dependencies: [.package(name: "gen", path: "../..")],
    targets: targets.map { name in
        .target(name: name, dependencies: [.product(name: "GenCore", package: "gen")])
    }
)
