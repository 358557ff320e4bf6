import ArgumentParser
import Foundation
import GenCore
import GenFamilies
import GenMPI

/// `gen train <kind>`: train a model on an HDF5 dataset into a run folder; `gen train --resume
/// RUN` goes on with a run of any kind.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a generative model, or go on with one: gen train --resume RUN.",
        subcommands: [TrainDDPM.self, TrainSDE.self, TrainFlow.self, TrainVAE.self, TrainRealNVP.self, TrainWGAN.self, TrainClassifier.self,
                      TrainResume.self],
        defaultSubcommand: TrainResume.self)
}

/// `gen train --resume RUN`: the run's kind comes from its checkpoint.
struct TrainResume: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Go on with a run of any kind from its checkpoint.")

    @Option(help: "The run folder to go on with.")
    var resume: String

    @Option(help: "A new total of optimizer updates.")
    var steps: Int?

    @Option(help: "Stop after this many minutes, saved as at the last step.")
    var minutes: Double?

    @Option(help: "Threads for GenCore and OpenBLAS, per rank (default: the cores over the ranks on this host).")
    var threads: Int?

    @Option(help: "Cut each batch into this many shares, each with its own noise (default: one per MPI rank; the run's own goes on exactly).")
    var shards: Int?

    func validate() throws {
        if let steps, steps < 1 { throw ValidationError("--steps must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if let minutes, !(minutes > 0 && minutes.isFinite) { throw ValidationError("--minutes must be positive") }
    }

    func run() throws {
        try reportingFailures {
            try TrainingCommand.joinWorld(threads: threads)
            try TrainingCommand.train(try FamilyRegistry.builtIn.resume(URL(fileURLWithPath: resume), steps: steps, shards: shards), minutes: minutes)
        }
    }
}

/// Options every model kind shares.
struct CommonTrainingOptions: ParsableArguments {
    @Option(help: "The HDF5 dataset to train on.")
    var data: String?

    @Option(help: "The image dataset's name in the file (default: the one image-like dataset).")
    var dataset: String?

    @Option(help: "Optimizer updates (default: as many as --epochs, or as many as fit in --minutes).")
    var steps: Int?

    @Option(help: "Passes over the data (an alternative to --steps).")
    var epochs: Int?

    @Option(help: "Images per batch (default 32 for ddpm, sde and flow, 64 for the others).")
    var batchSize: Int?

    @Option(help: "Fraction of the images held out from training (a seeded split); gen eval on the same file scores them.")
    var holdout: Double = 0

    @Option(help: "Peak learning rate (Adam; default 1e-3, and 2e-4 for wgan).")
    var lr: Float?

    @Option(help: "Linear warm-up steps (default 100; 0 for wgan, vae and classifier); a run without --steps then decays the rate to 0 by a cosine at its planned end.")
    var warmup: Int?

    @Option(help: "Largest gradient norm (0: no clipping; default 1, 100 for realnvp, 0 for wgan as in SNGAN, vae and classifier).")
    var gradClip: Float?

    @Option(help: "EMA decay of the sampling weights (0: no EMA; default: a run planned for its --minutes averages over its last tenth of steps, others 0.999).")
    var emaDecay: Float?

    @Option(help: "Seed of initialization, data order and noise.")
    var seed: UInt64 = 0

    @Option(help: "Threads for GenCore and OpenBLAS, per rank (default: the cores over the ranks on this host).")
    var threads: Int?

    @Option(help: "Cut each batch into this many shares, each with its own noise (default: one per MPI rank); the same shards give the same run on any number of ranks.")
    var shards: Int?

    @Option(help: "The run folder (default: runs/<kind>-<date>-<time>).")
    var out: String?

    @Option(help: "Continue the run in this folder from its checkpoint, exactly where it stopped.")
    var resume: String?

    @Option(help: "Steps between sample grids in <run>/samples (0: only at the end; default: one every 2 minutes).")
    var sampleEvery: Int?

    @Option(help: "Steps between checkpoints (0: only at the end and when stopped; default: one every 5 minutes).")
    var checkpointEvery: Int?

    @Option(help: "Steps between metric records and progress lines (default 50).")
    var logEvery: Int?

    @Option(help: "Without --steps or --epochs: the run's budget (default 10); it times its first steps and plans its steps, learning-rate decay and EMA to end then. With them: stop after this many minutes, saved as at the last step (resume goes on toward --steps).")
    var minutes: Double?

    @Option(help: "Keep the run's state at these minutes of training in <run>/snapshots/minute-M (comma-separated; gen sample and gen eval take them as runs).")
    var snapshotMinutes: String?

    @Flag(help: "Class-conditional: the model learns p(x | class) from the labels beside the images (gen sample --class K).")
    var conditional = false

    @Option(help: "--conditional: the labels dataset in the file (default: labels, label, y or targets).")
    var labels: String?

    @Option(help: "--conditional: the number of classes (default: the largest label + 1); a label outside is an error.")
    var classes: Int?

    @Option(help: "--conditional ddpm, sde, flow: the probability a label is dropped to the null class in training, for classifier-free guidance (default 0.1).")
    var classDropout: Double?

    @Flag(help: "Use an existing non-empty --out folder anyway.")
    var force = false

    func validate() throws {
        if resume == nil && data == nil { throw ValidationError("give --data FILE.h5 (or --resume RUN)") }
        if !conditional && (labels != nil || classes != nil || classDropout != nil) {
            throw ValidationError("--labels, --classes and --class-dropout are for --conditional runs")
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if let minutes, !(minutes > 0 && minutes.isFinite) { throw ValidationError("--minutes must be positive") }
        if snapshotMinutes != nil && snapshotMarks == nil { throw ValidationError("--snapshot-minutes must be a comma-separated list of minutes, got '\(snapshotMinutes ?? "")'") }
        do { try settings.validate() } catch let error as GenError { throw ValidationError(error.message) }
    }

    /// `--snapshot-minutes` as numbers (nil when not given or not numbers; ``validate()`` refuses those).
    var snapshotMarks: [Double]? {
        snapshotMinutes.flatMap { text in
            let values = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            return values.isEmpty || values.contains(nil) ? nil : values.compactMap { $0 }
        }
    }

    /// The run's settings as the library takes them.
    var settings: RunSettings {
        RunSettings(steps: steps, epochs: epochs, batchSize: batchSize, learningRate: lr, warmupSteps: warmup, gradientClip: gradClip,
                    emaDecay: emaDecay, sampleEvery: sampleEvery, checkpointEvery: checkpointEvery, logEvery: logEvery, seed: seed,
                    holdout: holdout, shards: shards,
                    conditioning: conditional ? ConditioningSettings(labels: labels, classes: classes, classDropout: classDropout) : nil,
                    minutes: minutes, snapshotMinutes: snapshotMarks)
    }
}

/// What every `gen train <kind>` does: set up the run through the library, train, and report.
enum TrainingCommand {
    /// Creates (or resumes) a run of `family` and trains it.
    /// - Parameter model: the family's configuration for the opened data, from the kind's options.
    @discardableResult
    static func run<Family: ModelFamily>(_ family: Family.Type, _ common: CommonTrainingOptions,
                                         model: (HDF5Dataset) throws -> Family.Configuration) throws -> TrainingRun<Family> {
        try reportingFailures {
            try joinWorld(threads: common.threads)
            if common.resume != nil { try refuseSettingsOnResume() }
            let run = try common.resume.map { try TrainingRun<Family>.resume(URL(fileURLWithPath: $0), steps: common.steps, shards: common.shards) }
                ?? TrainingRun<Family>.create(in: common.out.map { URL(fileURLWithPath: $0) } ?? RunFolders.newFolder(kind: Family.kind),
                                              force: common.force, data: common.data ?? "", dataset: common.dataset,
                                              settings: common.settings, model: model)
            // a new budgeted run keeps its own deadline
            try train(run, minutes: run.training.budget != nil && !run.isResumed ? nil : common.minutes)
            return run
        }
    }

    /// A resumed run keeps the settings it was made with: options that would change them are
    /// refused, not ignored.
    static func refuseSettingsOnResume() throws {
        let allowed: Set = ["--resume", "--steps", "--minutes", "--threads", "--shards", "--help", "-h"]
        let given = CommandLine.arguments.dropFirst(3).filter { $0.hasPrefix("-") }.map { String($0.split(separator: "=")[0]) }
        let refused = given.filter { !allowed.contains($0) }
        guard refused.isEmpty else {
            throw GenError.usage("\(refused.joined(separator: ", ")) cannot change a run on --resume: it keeps the settings it was made with (--steps, --minutes, --threads and --shards apply)")
        }
    }

    /// Joins the MPI job when a launcher (`mpirun`, `srun`) started gen; the threads default to
    /// this host's cores over its ranks.
    static func joinWorld(threads: Int?) throws {
        if let world = try MPIWorld.joinIfLaunched() {
            Distributed.world = world
            Threads.set(threads ?? max(1, ProcessInfo.processInfo.activeProcessorCount / max(1, world.localSize)))
            if world.isWriter, let warning = world.bindingWarning(threads: Threads.count) { printNote(warning) }
        } else if let threads {
            Threads.set(threads)
        }
    }

    /// Trains `run` (for at most `minutes`) and prints how it ended (rank 0; every rank
    /// leaves the MPI job when the run is over).
    static func train(_ run: any ActiveRun, minutes: Double?) throws {
        let world = Distributed.world
        guard world.isWriter else {
            let outcome = try run.train(until: minutes.map { Date().addingTimeInterval($0 * 60) })
            switch outcome {
            case .finished, .reachedTimeLimit: world.finish()
            case .interrupted: throw Stopped(message: "", code: Exit.interrupted)
            case .diverged: throw Stopped(message: "", code: Exit.diverged)
            }
            return
        }
        let trainer = run.trainer, training = run.training
        let ranks = world.size > 1 ? " on \(world.size) ranks × \(Threads.count) thread\(Threads.count == 1 ? "" : "s"), batches in \(training.shardCount) shards" : ""
        if run.isResumed {
            var of = "of \(training.steps)"
            if let budget = training.budget, !budget.isPlanned { of = "of a \(budget.minutesText) budget still to plan" }
            printNote("resuming \(run.folder.path) at step \(trainer.step) \(of)\(ranks)")
        } else {
            let images = trainer.loader.rows.count, shape = run.data.imageShape.map(String.init).joined(separator: "×")
            let length = training.budget.map { "\($0.minutesText) (steps planned from the first ones)" } ?? "\(training.steps) steps"
            printNote("training \(run.kind) (\(trainer.task.model.parameterCount) parameters) on \(images) images of \(shape) for \(length)\(ranks); run folder \(run.folder.path)")
        }
        let start = Date()
        let outcome = try run.train(until: minutes.map { start.addingTimeInterval($0 * 60) })
        if outcome == .finished || outcome == .reachedTimeLimit { world.finish() }
        let clock = ProgressReporter.clock(Date().timeIntervalSince(start))
        let outputs = trainer.task.drawsSamples ? "; samples in \(run.folder.appendingPathComponent("samples").path)" : ""
        switch outcome {
        case .finished:
            print("finished \(trainer.step) steps in \(clock); checkpoint \(trainer.checkpointURL.path)\(outputs)")
        case .reachedTimeLimit:
            let total = trainer.configuration.steps < TrainingBudget.unplannedSteps ? " of \(trainer.configuration.steps)" : ""
            let limit = minutes == nil ? "the end of its budget" : "the --minutes limit"
            print("stopped at \(limit) after \(trainer.step)\(total) steps in \(clock); checkpoint \(trainer.checkpointURL.path)\(outputs)")
        case .interrupted:
            throw Stopped(message: "interrupted at step \(trainer.step); resume with: gen train --resume \(run.folder.path)", code: Exit.interrupted)
        case .diverged:
            throw Stopped(message: "training diverged at step \(trainer.step) (non-finite loss); last checkpoint kept", code: Exit.diverged)
        }
    }
}

func parseList(_ text: String, option: String) throws -> [Int] {
    let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) >= 1 }) else {
        throw GenError.usage("\(option) must be a comma-separated list of positive integers, got '\(text)'")
    }
    return values.compactMap { $0 }
}
