import Foundation

/// Resource use of the current process.
public enum ResourceUsage {
    /// Peak resident memory so far, in bytes (`getrusage` maximum resident set size).
    public static var peakResidentBytes: Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Int(usage.ru_maxrss) * 1024
    }

}
