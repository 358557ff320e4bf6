import Foundation
import GenCore
import GenFamilies
import Testing
import VAE
import GAN

/// Runs planned for a wall-clock budget (`gen train --minutes M` without `--steps`).
@Suite("Runs planned for a time budget", .serialized)
struct BudgetTests {
    static func tinyVAE(_ data: HDF5Dataset) -> VAEConfiguration { VAEConfiguration(imageShape: data.imageShape, latent: 4, hidden: 16) }

    /// Neither steps nor epochs: a ten-minute budget with a cosine decay, not planned yet, and the
    /// EMA left to the plan; steps, epochs or an EMA decay of one's own change that.
    @Test func runsWithoutStepsHaveATenMinuteBudget() throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        func training(_ settings: RunSettings, _ name: String) throws -> TrainerConfiguration {
            try TrainingRun<VAEFamily>.create(in: scratch.folder(name), data: fixtureData, settings: settings, log: { _ in }, model: Self.tinyVAE).training
        }
        let plain = try training(RunSettings(batchSize: 8), "plain")
        #expect(plain.budget == TrainingBudget(minutes: 10) && plain.budget?.isPlanned == false)
        #expect(plain.learningRateDecay == .cosine && plain.steps == TrainingBudget.unplannedSteps)
        let five = try training(RunSettings(batchSize: 8, emaDecay: 0.99, minutes: 5), "five")
        #expect(five.budget?.minutes == 5 && five.budget?.emaFraction == nil && five.emaDecay == 0.99)
        for (settings, name) in [(RunSettings(steps: 7, batchSize: 8, minutes: 5), "steps"), (RunSettings(epochs: 1, batchSize: 8), "epochs")] {
            let fixed = try training(settings, name)
            #expect(fixed.budget == nil && fixed.learningRateDecay == .constant && fixed.steps < 100, "\(name)")
        }
        #expect(TrainingBudget(minutes: 1).emaDecay(steps: 3000) == Float(1 - 1.0 / 300))
        #expect(TrainingBudget(minutes: 1).emaDecay(steps: 20) == 0.9 && TrainingBudget(minutes: 1).emaDecay(steps: 10_000_000) == 0.9999)
    }

    /// A run of a few seconds times its first steps, plans as many as fit, and ends near its
    /// deadline with the learning rate decayed to 0; the plan is in `config.json` and in the
    /// checkpoint, and the EMA averages over the last tenth of the steps.
    @Test func plansItsStepsToEndAtTheDeadline() throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        let folder = scratch.folder("run")
        let budget = 0.15  // minutes
        // a warm-up longer than any plan: the plan cuts it
        let run = try TrainingRun<VAEFamily>.create(in: folder, data: fixtureData, settings: RunSettings(batchSize: 8, warmupSteps: 1_000_000, minutes: budget),
                                                    log: { _ in }, model: Self.tinyVAE)
        run.trainer.showsProgress = false
        var notes: [String] = []
        run.trainer.log = { notes.append($0) }
        let start = Date()
        let outcome = try run.train()
        let seconds = Date().timeIntervalSince(start)
        #expect(outcome == .finished || outcome == .reachedTimeLimit, "\(outcome)")
        #expect(seconds <= budget * 60 + 2 && seconds >= budget * 60 * 0.6, "\(seconds) s for a \(budget * 60) s budget")
        let training = run.training
        let plan = try #require(training.budget)
        #expect(plan.isPlanned && training.steps > plan.probeSteps && training.steps < TrainingBudget.unplannedSteps)
        // the plan is of the right size (other tests share the cores, so speeds vary by a lot)
        #expect(run.trainer.step >= training.steps / 3, "made \(run.trainer.step) of \(training.steps) planned steps")
        #expect(training.emaDecay == plan.emaDecay(steps: training.steps) && run.trainer.ema?.decay == training.emaDecay)
        #expect(notes.contains { $0.hasPrefix("planned \(training.steps) steps") }, "\(notes)")
        // the last learning rate is the cosine's end
        let records = try String(contentsOf: run.trainer.metricsURL, encoding: .utf8).split(separator: "\n")
        let last = try #require(try JSONSerialization.jsonObject(with: Data(records.last!.utf8)) as? [String: Any])
        if outcome == .finished { #expect(try #require(last["lr"] as? Double) < 1e-3 * 1e-4) }
        // and the plan's schedule decays to 0 at its last step, past a warm-up cut to fit it
        #expect(training.schedule(training.steps) <= 1e-9 && training.schedule(training.steps / 2) >= 0.3 * training.learningRate,
                 "\(training.schedule(training.steps / 2)) half-way")
        #expect(training.warmupSteps <= max(run.trainer.step, training.steps / 5), "warm-up \(training.warmupSteps) of \(training.steps)")
        // the plan is what config.json and the checkpoint say
        let saved = try RunConfiguration<VAEConfiguration>.decode(String(contentsOf: folder.appendingPathComponent("config.json"), encoding: .utf8))
        #expect(saved.training == training)
        #expect(try RunKind.decode(RunCheckpoint.read(run.trainer.checkpointURL).configJSON).training == training)
    }

    /// The checkpoint the plan writes holds the plan: resumed from it, a run ends with the same
    /// weights and EMA as the run that went on.
    @Test func resumesExactlyFromThePlan() throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        let folder = scratch.folder("run"), copy = scratch.folder("copy")
        try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
        let run = try TrainingRun<VAEFamily>.create(in: folder, data: fixtureData, settings: RunSettings(batchSize: 8, minutes: 0.1),
                                                    log: { _ in }, model: Self.tinyVAE)
        run.trainer.showsProgress = false
        var copied = false
        run.trainer.log = { note in
            guard note.hasPrefix("planned") else { return }
            copied = (try? FileManager.default.copyItem(at: folder.appendingPathComponent("checkpoint.safetensors"),
                                                         to: copy.appendingPathComponent("checkpoint.safetensors"))) != nil
        }
        // a run stopped at its deadline short of its plan goes on to the planned steps
        if try run.train() == .reachedTimeLimit { #expect(try run.train() == .finished) }
        #expect(copied && run.trainer.step == run.training.steps)
        let atPlan = try RunCheckpoint.read(copy.appendingPathComponent("checkpoint.safetensors"))
        #expect(atPlan.trainer.step > 0 && atPlan.trainer.step < run.trainer.step)
        let resumed = try TrainingRun<VAEFamily>.resume(copy)
        resumed.trainer.showsProgress = false
        resumed.trainer.log = { _ in }
        #expect(resumed.training == run.training)
        // a resumed run goes on to its planned steps, however long they take
        #expect(try resumed.train() == .finished && resumed.trainer.step == run.training.steps)
        let (a, b) = (run.trainer.checkpoint(), resumed.trainer.checkpoint())
        #expect(!a.ema.isEmpty && a.model.count == b.model.count)
        for (path, tensor) in a.model { #expect(tensor.scalars == b.model[path]?.scalars, "\(path)") }
        for (path, tensor) in a.ema { #expect(tensor.scalars == b.ema[path]?.scalars, "ema \(path)") }
    }
}

/// Snapshots keep a run's state at minutes of its training, each a run folder of its own.
@Suite("Snapshots by the minute", .serialized)
struct SnapshotTests {
    @Test func snapshotsAreRunsOfTheirMinute() throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        let folder = scratch.folder("run")
        let run = try TrainingRun<VAEFamily>.create(in: folder, data: fixtureData, settings: RunSettings(batchSize: 8, minutes: 0.1, snapshotMinutes: [0.05, 0.02]),
                                                    log: { _ in }, model: BudgetTests.tinyVAE)
        run.trainer.showsProgress = false
        run.trainer.log = { _ in }
        let start = Date()
        _ = try run.train()
        #expect(run.training.snapshotMinutes == [0.02, 0.05])
        var steps: [Int] = []
        for minute in [0.02, 0.05] {
            let snapshot = run.trainer.snapshotFolder(minute: minute)
            #expect(snapshot.lastPathComponent == "minute-\(minute)")
            let checkpoint = try RunCheckpoint.read(snapshot.appendingPathComponent("checkpoint.safetensors"))
            steps.append(checkpoint.trainer.step)
            let loaded = try FamilyRegistry.builtIn.load(snapshot)
            #expect(loaded.kind == "vae")
        }
        #expect(steps[0] > 0 && steps[0] < steps[1] && steps[1] < run.trainer.step, "\(steps) of \(run.trainer.step)")
        #expect(Date().timeIntervalSince(start) >= 0.05 * 60)
        #expect(throws: GenError.self) { try RunSettings(snapshotMinutes: [0]).validate() }
    }
}

/// Two time-scale updates (Heusel et al. 2017): the critic's first Adam step, about lr in
/// every weight, is `--critic-lr-scale` times longer; the generator's is not.
@Suite("WGAN's two time scales", .serialized)
struct TwoTimeScaleTests {
    /// The lengths of the critic's and the generator's first updates from the same start.
    static func firstSteps(scale: Float?) throws -> (critic: Double, generator: Double) {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        let run = try TrainingRun<WGANFamily>.create(in: scratch.folder("run"), data: fixtureData, settings: RunSettings(steps: 1, batchSize: 8, sampleEvery: 0),
                                                     log: { _ in }) {
            GANConfiguration(imageShape: $0.imageShape, latent: 4, generatorWidth: 8, criticWidth: 8, criticSteps: 1, criticLearningRateScale: scale)
        }
        run.trainer.showsProgress = false
        func weights(_ module: Module) -> [Float] { module.namedParameters().flatMap { $0.1.scalars } }
        let (critic, generator) = (weights(run.task.critic), weights(run.task.generator))
        #expect(try run.train() == .finished)
        func length(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +).squareRoot() }
        return (length(critic, weights(run.task.critic)), length(generator, weights(run.task.generator)))
    }

    @Test func criticLearningRateScale() throws {
        let one = try Self.firstSteps(scale: nil), three = try Self.firstSteps(scale: 3)
        #expect(abs(three.critic / one.critic - 3) < 0.03, "critic: \(three.critic / one.critic)")
        #expect(abs(three.generator / one.generator - 1) < 0.1, "generator: \(three.generator / one.generator)")
    }
}
