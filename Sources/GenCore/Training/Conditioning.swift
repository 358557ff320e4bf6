import Foundation

/// How a model is conditioned on class labels, as its configuration stores it.
public struct ClassConditioning: Codable, Sendable, Equatable {
    /// The classes: labels run from 0 to `classes − 1`.
    public var classes: Int
    /// The probability that a training label is replaced by the null class, so that one
    /// network learns the conditional and the unconditional model (Ho & Salimans 2022); for the
    /// diffusion families, nil elsewhere.
    public var dropout: Double?

    public init(classes: Int, dropout: Double? = nil) {
        self.classes = classes
        self.dropout = dropout
    }

    /// Throws when no model can be conditioned this way.
    public func validate() throws(ConfigurationError) {
        guard classes >= 2, classes <= 1 << 16 else { throw .data("conditioning needs 2 to 65536 classes, not \(classes)") }
        if let dropout, !(dropout >= 0 && dropout < 1) { throw .settings("--class-dropout must be in [0, 1), got \(dropout)") }
    }
}

/// A configuration whose model always sees its class (no label dropout, no null class, no
/// guidance): the conditional VAE, RealNVP and WGAN. Its `classes` is the whole conditioning.
public protocol DirectlyConditionedConfiguration: ModelConfiguration {
    /// The classes of a conditional model; nil: unconditional.
    var classes: Int? { get set }
}

extension DirectlyConditionedConfiguration {
    public var conditioning: ClassConditioning? { classes.map { ClassConditioning(classes: $0) } }

    public func conditioned(_ conditioning: ClassConditioning) throws(ConfigurationError) -> Self {
        try conditioning.validate()
        guard conditioning.dropout == nil else {
            throw .settings("--class-dropout is for the diffusion families (ddpm, sde, flow); this model always sees its label")
        }
        var copy = self
        copy.classes = conditioning.classes
        return copy
    }
}

/// What a caller asks of a class-conditional run (`gen train <family> --conditional`).
public struct ConditioningSettings: Sendable, Equatable {
    /// The labels dataset beside the images; nil looks for `labels`, `label`, `y` or `targets`.
    public var labels: String?
    /// The number of classes; nil: the largest label plus one.
    public var classes: Int?
    /// The diffusion families' label dropout (default 0.1); the others take none.
    public var classDropout: Double?

    public init(labels: String? = nil, classes: Int? = nil, classDropout: Double? = nil) {
        self.labels = labels
        self.classes = classes
        self.classDropout = classDropout
    }

    /// Throws a usage error for values no run can have.
    public func validate() throws {
        if let classes, !(2...(1 << 16)).contains(classes) { throw GenError.usage("--classes must be from 2 to 65536") }
        if let classDropout, !(classDropout >= 0 && classDropout < 1) { throw GenError.usage("--class-dropout must be in [0, 1)") }
    }
}

extension HDF5Dataset {
    /// The number of classes of the labels, every label read (by hyperslab, 64k at a time) and
    /// checked: class numbers from 0, each below `limit` when one is given. Throws a data error
    /// naming the file, the row and the problem.
    public func classCount(limit: Int? = nil) throws -> Int {
        guard let name = labelsName else {
            throw DataError.malformed(path, "no labels beside the images (a rank-1 integer dataset named labels, label, y or targets, or give --labels NAME)")
        }
        var largest = -1
        for first in stride(from: 0, to: count, by: 65_536) {
            let rows = Array(first..<Swift.min(count, first + 65_536))
            guard let labels = try labels(at: rows) else { break }
            for (row, label) in zip(rows, labels) {
                guard label >= 0 else {
                    throw DataError.malformed(path, "labels '\(name)' must be class numbers 0, 1, …; row \(row) holds \(label)")
                }
                if let limit, label >= limit {
                    throw DataError.malformed(path, "labels '\(name)': row \(row) holds class \(label), but --classes \(limit) allows 0…\(limit - 1)")
                }
                largest = Swift.max(largest, label)
            }
        }
        let classes = limit ?? largest + 1
        guard classes >= 2 else { throw DataError.malformed(path, "labels '\(name)' hold a single class (\(largest)); conditioning needs two or more") }
        return classes
    }
}

/// The class labels to draw: one class for every image, or one row of `columns` images per class.
public enum ClassSelection: Sendable, Equatable {
    /// Every image of class `k`.
    case only(Int)
    /// One row per class, `columns` images each.
    case everyClass(columns: Int)
    /// Classes spread evenly: image i is of class i mod the class count.
    case spread

    /// The labels of `count` images (``everyClass(columns:)`` ignores `count`: classes × columns).
    public func labels(count: Int, classes: Int) -> [Int] {
        switch self {
        case .only(let k): return Array(repeating: k, count: count)
        case .everyClass(let columns): return (0..<classes).flatMap { Array(repeating: $0, count: columns) }
        case .spread: return (0..<count).map { $0 % classes }
        }
    }
}

/// A trained model that tells the classes of images: `gen eval --metric accuracy` scores it on
/// labelled test images (the feature classifier; a class-conditional RealNVP by Bayes' rule).
public protocol ImageClassifier: AnyObject {
    /// The fraction of `rows` of `data` given the class their labels say.
    func accuracy(on data: HDF5Dataset, rows: [Int]) throws -> Double
    /// Throws a usage error when this model tells no classes (an unconditional flow); the
    /// default does nothing.
    func requireClasses() throws
}

extension ImageClassifier {
    public func requireClasses() throws {}
}

extension FeatureClassifier: ImageClassifier {}
