import CBLAS
import CHDF5
import CPNG

/// gen's own version.
public enum GenCore {
    public static let version = "0.1.0"
}

/// The versions of the system libraries this process runs with.
public struct SystemInfo: Sendable {
    /// OpenBLAS's version and configuration (`openblas_get_config`).
    public var openBLAS: String
    /// HDF5's library version (`H5get_libversion`).
    public var hdf5: String
    /// libpng's version string.
    public var libpng: String
    /// The thread count of GenCore's kernels.
    public var threads: Int
    /// The thread count OpenBLAS reports: 1, since GenCore's kernels split products themselves.
    public var openBLASThreads: Int

    /// Reads the versions from the linked libraries.
    public static var current: SystemInfo {
        _ = Threads.singleThreadedBLAS
        var major: UInt32 = 0, minor: UInt32 = 0, release: UInt32 = 0
        H5get_libversion(&major, &minor, &release)
        let config = openblas_get_config().map { String(cString: $0) } ?? "unknown"
        let png = png_get_libpng_ver(nil).map { String(cString: $0) } ?? "unknown"
        return SystemInfo(
            openBLAS: config.trimmingCharacters(in: .whitespaces), hdf5: "\(major).\(minor).\(release)",
            libpng: png, threads: Threads.count, openBLASThreads: Int(openblas_get_num_threads()))
    }
}

import Foundation
