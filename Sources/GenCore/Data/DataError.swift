/// Why a dataset or an import source could not be read. Each message names the file and the
/// problem in one line.
public enum DataError: Error, Equatable, CustomStringConvertible {
    case missingFile(String)
    /// The file exists but cannot be read (no permission).
    case unreadable(String, String)
    case notHDF5(String)
    case hdf5(String, String)
    case missingDataset(String, name: String, available: [String])
    case noImageDataset(String, available: [String])
    case ambiguousImageDataset(String, candidates: [String])
    case wrongRank(String, name: String, shape: [Int])
    case unsupportedType(String, name: String, type: String)
    case emptyDataset(String, name: String)
    case externalLink(String, name: String)
    case ambiguousLayout(String, name: String, shape: [Int])
    case labelsMismatch(String, name: String, count: Int, images: Int)
    case malformed(String, String)

    public var description: String {
        switch self {
        case .missingFile(let file): return "\(file): no such file"
        case .unreadable(let file, let reason): return "\(file): cannot read: \(reason)"
        case .notHDF5(let file): return "\(file): not an HDF5 file"
        case .hdf5(let file, let details): return "\(file): HDF5 error: \(details)"
        case .missingDataset(let file, let name, let available):
            return "\(file): no dataset named '\(name)' (datasets: \(available.isEmpty ? "none" : available.joined(separator: ", ")))"
        case .noImageDataset(let file, let available):
            return "\(file): no image-like dataset (rank 3 or 4, uint8 or float) among \(available.isEmpty ? "no datasets" : available.joined(separator: ", "))"
        case .ambiguousImageDataset(let file, let candidates):
            return "\(file): several image-like datasets (\(candidates.joined(separator: ", "))); choose one with --dataset"
        case .wrongRank(let file, let name, let shape):
            return "\(file): dataset '\(name)' has shape \(shape); images must be rank 3 (NHW) or 4 (NCHW or NHWC)"
        case .unsupportedType(let file, let name, let type):
            return "\(file): dataset '\(name)' holds \(type); images must be uint8, float32 or float64"
        case .emptyDataset(let file, let name): return "\(file): dataset '\(name)' is empty"
        case .externalLink(let file, let name): return "\(file): '\(name)' is an external link, which gen does not follow"
        case .ambiguousLayout(let file, let name, let shape):
            return "\(file): cannot tell whether dataset '\(name)' of shape \(shape) is NCHW or NHWC; give --layout"
        case .labelsMismatch(let file, let name, let count, let images):
            return "\(file): labels '\(name)' has \(count) entries but there are \(images) images"
        case .malformed(let file, let problem): return "\(file): \(problem)"
        }
    }
}
