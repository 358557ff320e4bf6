import Foundation
import GenCore
import Testing

/// `mpirun` from Open MPI (`scripts/setup.sh` installs it): its absence is a failure, not a skip.
let mpirunBinary: URL? = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].map(URL.init(fileURLWithPath:))
    .first { FileManager.default.isExecutableFile(atPath: $0.path) }

/// A child process started with no signals blocked: Foundation's `Process` passes on the test
/// runner's blocked SIGTERM, and `mpirun` (which, unlike gen, keeps the mask it is given) would
/// then never forward one.
final class Spawned {
    let pid: pid_t
    private(set) var status: Int32?

    /// - Parameter output: a file for standard output (default: discarded).
    init(_ path: String, _ arguments: [String], environment: [String: String] = [:], output: String? = nil) throws {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t(), defaults = sigset_t()
        sigemptyset(&empty)
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, output ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0)
        let variables = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { "\($0)=\($1)" }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = variables.map { strdup($0) } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid = pid_t()
        let result = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        guard result == 0 else { throw POSIXError(POSIXErrorCode(rawValue: result) ?? .EINVAL) }
        self.pid = pid
    }

    /// Whether the process still runs (reaping it when it has ended).
    var isRunning: Bool {
        guard status == nil else { return false }
        var raw: Int32 = 0
        guard waitpid(pid, &raw, WNOHANG) == pid else { return true }
        // an exit code, or 128 + the signal that ended it
        status = raw & 0x7f == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
        return false
    }

    /// Waits up to `seconds` for the end; its status, or nil (and SIGKILL) when it is still running.
    func wait(upTo seconds: Double) -> Int32? {
        let start = Date()
        while isRunning && Date().timeIntervalSince(start) < seconds { usleep(20_000) }
        if isRunning {
            kill(pid, SIGKILL)
            while isRunning { usleep(20_000) }
            return nil
        }
        return status
    }

    deinit {
        if isRunning {
            kill(pid, SIGKILL)
            while isRunning { usleep(20_000) }
        }
    }
}

/// `mpirun -np ranks gen arguments…`, as root in CI (`--allow-run-as-root`), with more ranks than
/// cores allowed (`--oversubscribe`) and no shared-memory single copy (which containers forbid).
func mpirunGen(_ ranks: Int, _ arguments: [String], output: String? = nil) throws -> Spawned {
    let mpirun = try #require(mpirunBinary, "mpirun is missing: scripts/setup.sh installs openmpi-bin")
    return try Spawned(mpirun.path, ["--allow-run-as-root", "--oversubscribe", "-np", "\(ranks)", genBinary.path] + arguments,
                       environment: ["OMPI_MCA_btl_vader_single_copy_mechanism": "none"], output: output)
}

/// Runs `mpirun -np ranks gen …` to its end (at most five minutes); its exit status.
func runMPIGen(_ ranks: Int, _ arguments: [String]) throws -> Int32? {
    try mpirunGen(ranks, arguments).wait(upTo: 300)
}

/// The small model of each family, trained on the 50 8×8 fixture images with one thread per
/// process, batches of 9 (two shares of 5 and 4), logging every step.
func dataParallelTraining(_ kind: String, _ out: String, steps: Int, extra: [String] = []) -> [String] {
    let model: [String] = switch kind {
    case "ddpm", "sde", "flow": ["--channels", "8", "--channel-multipliers", "1,2", "--warmup", "2"]
    case "vae": ["--latent", "4", "--hidden", "32"]
    case "realnvp": ["--scales", "1", "--couplings", "1", "--final-couplings", "1", "--hidden", "8"]
    case "wgan": ["--critic-steps", "2", "--latent", "8", "--generator-width", "8", "--critic-width", "8"]
    default: ["--channels", "4", "--features", "8"]
    }
    return ["train", kind, "--data", fixtureData.appendingPathComponent("chunked_gzip.h5").path, "--steps", "\(steps)",
            "--batch-size", "9", "--threads", "1", "--sample-every", "0", "--log-every", "1", "--out", out] + model + extra
}

/// The largest difference between two runs' tensors (weights, EMA, optimizer state), relative
/// to the largest magnitude of each tensor; infinity when they hold different tensors.
func largestRelativeDifference(_ a: String, _ b: String) throws -> Float {
    let first = try RunCheckpoint.read(URL(fileURLWithPath: a).appendingPathComponent("checkpoint.safetensors"))
    let second = try RunCheckpoint.read(URL(fileURLWithPath: b).appendingPathComponent("checkpoint.safetensors"))
    var worst: Float = 0
    for (x, y) in [(first.model, second.model), (first.ema, second.ema), (first.optimizer, second.optimizer)] {
        guard Set(x.keys) == Set(y.keys) else { return .infinity }
        for (name, tensor) in x {
            let other = y[name]!.scalars, values = tensor.scalars
            guard other.count == values.count else { return .infinity }
            let scale = max(values.map(abs).max() ?? 0, 1e-12)
            for (u, v) in zip(values, other) { worst = max(worst, abs(u - v) / scale) }
        }
    }
    return worst
}

@Suite("Data-parallel training: mpirun -np 2 gen train against one process", .serialized)
struct DataParallelTests {
    init() {
        #expect(mpirunBinary != nil, "mpirun is missing: scripts/setup.sh installs openmpi-bin")
    }

    /// Two ranks, each with its share of every global batch, end where one process ends that
    /// computes both shares in turn (`--shards 2`): the same weights, EMA and optimizer state.
    /// An uneven split (5 + 4), per-share noise, dropout, batch norm and spectral norm (wgan)
    /// and a critic with several updates per step are all covered.
    @Test(arguments: ["ddpm", "sde", "flow", "vae", "realnvp", "wgan", "classifier"])
    func twoRanksEqualOneProcess(_ kind: String) throws {
        let scratch = try Scratch()
        let (ranks, single, plain) = (scratch.path("ranks"), scratch.path("single"), scratch.path("plain"))
        #expect(try runMPIGen(2, dataParallelTraining(kind, ranks, steps: 20)) == 0)
        #expect(try runGen(dataParallelTraining(kind, single, steps: 20, extra: ["--shards", "2"])).status == 0)
        #expect(try largestRelativeDifference(ranks, single) <= 1e-4)
        // and the shards matter: one process on whole batches draws other noise and moves elsewhere
        #expect(try runGen(dataParallelTraining(kind, plain, steps: 20)).status == 0)
        if kind == "classifier" {
            // nothing random in its loss: the shares' weighted gradients are the whole batch's
            #expect(try largestRelativeDifference(ranks, plain) <= 1e-4)
        } else {
            #expect(try largestRelativeDifference(ranks, plain) > 1e-3)
        }
        // only rank 0 wrote: one record per step, the run's settings say 2 shards
        let records = try String(contentsOfFile: "\(ranks)/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(records.count == 20)
        #expect(try String(contentsOfFile: "\(ranks)/config.json", encoding: .utf8).contains("\"shards\" : 2"))
    }

    @Test func twoRunsOnTwoRanksAreIdentical() throws {
        let scratch = try Scratch()
        #expect(try runMPIGen(2, dataParallelTraining("wgan", scratch.path("a"), steps: 10)) == 0)
        #expect(try runMPIGen(2, dataParallelTraining("wgan", scratch.path("b"), steps: 10)) == 0)
        #expect(try largestRelativeDifference(scratch.path("a"), scratch.path("b")) == 0)
    }

    /// A 2-rank run resumed by one process (keeping its 2 shards) ends exactly where the
    /// 2-rank run does; a 1-process run goes on with 2 ranks to its last step.
    @Test func resumeOnAnotherNumberOfRanks() throws {
        let scratch = try Scratch()
        let (whole, twoToOne, oneToTwo) = (scratch.path("whole"), scratch.path("two-to-one"), scratch.path("one-to-two"))
        #expect(try runMPIGen(2, dataParallelTraining("ddpm", whole, steps: 20)) == 0)
        #expect(try runMPIGen(2, dataParallelTraining("ddpm", twoToOne, steps: 10)) == 0)
        #expect(try runGen(["train", "--resume", twoToOne, "--steps", "20", "--shards", "2", "--threads", "1"]).status == 0)
        #expect(try largestRelativeDifference(whole, twoToOne) <= 1e-4)

        #expect(try runGen(dataParallelTraining("ddpm", oneToTwo, steps: 10)).status == 0)
        #expect(try runMPIGen(2, ["train", "--resume", oneToTwo, "--steps", "20", "--threads", "1"]) == 0)
        let resumed = try RunCheckpoint.read(URL(fileURLWithPath: "\(oneToTwo)/checkpoint.safetensors"))
        #expect(resumed.trainer.step == 20)
        #expect(resumed.configJSON.contains("\"shards\" : 2"))
        let steps = try String(contentsOfFile: "\(oneToTwo)/metrics.jsonl", encoding: .utf8).split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["step"] as? Int
        }
        #expect(steps == Array(1...20))
        #expect(try largestRelativeDifference(whole, oneToTwo) > 1e-3, "the first 10 steps ran as 1 shard")
    }

    /// A rank killed with SIGKILL ends the job within seconds, with a non-zero status; the last
    /// checkpoint, written by rank 0, is whole.
    @Test func aKilledRankEndsTheJob() throws {
        let scratch = try Scratch()
        let run = scratch.path("run")
        let job = try mpirunGen(2, dataParallelTraining("ddpm", run, steps: 1_000_000, extra: ["--checkpoint-every", "20", "--log-every", "20"]))
        let checkpoint = URL(fileURLWithPath: "\(run)/checkpoint.safetensors")
        let started = Date()
        while !FileManager.default.fileExists(atPath: checkpoint.path) && Date().timeIntervalSince(started) < 60 { usleep(100_000) }
        let rankOne = try #require(rankProcess(1, writing: run), "no rank 1 of the job found")
        kill(rankOne, SIGKILL)
        let killed = Date()
        let status = job.wait(upTo: 20)
        #expect(status != nil, "mpirun still running 20 s after a rank was killed")
        #expect(status != 0)
        #expect(Date().timeIntervalSince(killed) < 10)
        let saved = try RunCheckpoint.read(checkpoint)
        #expect(saved.trainer.step >= 20 && saved.firstNonFiniteTensor == nil)
    }

    /// SIGTERM to `mpirun` (which forwards it to every rank) stops every rank at the same step;
    /// rank 0 saves there (no checkpoint is due otherwise: one every 5 minutes), and the run
    /// resumes from it.
    @Test func aSignalStopsEveryRankSaved() throws {
        let scratch = try Scratch()
        let run = scratch.path("run")
        let job = try mpirunGen(2, dataParallelTraining("ddpm", run, steps: 1_000_000, extra: ["--log-every", "10"]))
        let metrics = "\(run)/metrics.jsonl"
        let started = Date()
        while ((try? String(contentsOfFile: metrics, encoding: .utf8)) ?? "").count < 200 && Date().timeIntervalSince(started) < 60 { usleep(100_000) }
        kill(job.pid, SIGTERM)
        #expect(job.wait(upTo: 30) != nil, "mpirun still running 30 s after SIGTERM")
        let saved = try RunCheckpoint.read(URL(fileURLWithPath: "\(run)/checkpoint.safetensors"))
        #expect(saved.trainer.step >= 10)
        let resumed = try runGen(["train", "--resume", run, "--steps", "\(saved.trainer.step + 2)", "--shards", "2", "--threads", "1"])
        #expect(resumed.status == 0, "\(resumed.standardError)")
    }

    /// `--minutes`: each rank's clock reaches the deadline at its own moment, but they stop at
    /// the same step (a rank leaving alone would leave the other waiting in the all-reduce).
    @Test func theDeadlineStopsEveryRankAtOneStep() throws {
        let scratch = try Scratch()
        let run = scratch.path("run")
        for round in 0..<3 {
            let status = try mpirunGen(2, dataParallelTraining("ddpm", run, steps: 1_000_000, extra: ["--minutes", "0.03", "--log-every", "50", "--force"]))
                .wait(upTo: 60)
            #expect(status == 0, "round \(round): mpirun ended with \(String(describing: status))")
            let saved = try RunCheckpoint.read(URL(fileURLWithPath: "\(run)/checkpoint.safetensors"))
            #expect(saved.trainer.step > 0)
        }
    }

    /// A budgeted run on two ranks: they plan the same steps (rank 0's plan, sent to both) and
    /// end together at them, with the plan in the checkpoint.
    @Test func ranksPlanABudgetTogether() throws {
        let scratch = try Scratch()
        let run = scratch.path("run")
        var arguments = dataParallelTraining("vae", run, steps: 1, extra: ["--minutes", "0.15", "--log-every", "100000"])
        let at = try #require(arguments.firstIndex(of: "--steps"))
        arguments.removeSubrange(at...at + 1)
        let status = try mpirunGen(2, arguments).wait(upTo: 120)
        #expect(status == 0, "mpirun ended with \(String(describing: status))")
        let saved = try RunCheckpoint.read(URL(fileURLWithPath: "\(run)/checkpoint.safetensors"))
        let training = try RunKind.decode(saved.configJSON).training
        #expect(training.budget?.isPlanned == true && saved.trainer.step > 20 && saved.trainer.step <= training.steps, "\(saved.trainer.step) of \(training.steps)")
    }

    /// A run whose data file now holds images of another shape is refused on resume, on one
    /// rank or two, with the run's data unread and its checkpoint unchanged.
    @Test func resumeRefusesDataOfAnotherShape() throws {
        let scratch = try Scratch()
        let (data, run) = (scratch.path("data.h5"), scratch.path("run"))
        try FileManager.default.copyItem(atPath: fixtureData.appendingPathComponent("chunked_gzip.h5").path, toPath: data)
        var training = dataParallelTraining("ddpm", run, steps: 2)
        training[3] = data
        #expect(try runGen(training).status == 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: "\(run)/checkpoint.safetensors"))
        try FileManager.default.removeItem(atPath: data)
        try FileManager.default.copyItem(atPath: fixtureData.appendingPathComponent("nhw_uint8.h5").path, toPath: data)
        let alone = try runGen(["train", "--resume", run, "--steps", "4"])
        #expect(alone.status == 65 && alone.standardError.contains("the run was made for [1, 8, 8]"), "\(alone.standardError)")
        #expect(try runMPIGen(2, ["train", "--resume", run, "--steps", "4", "--threads", "1"]) == 65)
        #expect(try Data(contentsOf: URL(fileURLWithPath: "\(run)/checkpoint.safetensors")) == before)
    }

    /// `gen bench --allreduce` on 2 ranks: the all-reduce of the model's whole gradient and the
    /// data-parallel step, then one process alone; refused without mpirun.
    @Test func benchAllreduce() throws {
        let scratch = try Scratch()
        let output = scratch.path("bench.jsonl")
        let status = try mpirunGen(2, ["bench", "--allreduce", "--only", "vae-mlp", "--reps", "2", "--warmup", "0"], output: output).wait(upTo: 120)
        #expect(status == 0)
        let lines = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        try #require(lines.count == 2)
        #expect(lines[0]["ranks"] as? Int == 2 && lines[0]["share"] as? Int == 64 && lines[0]["batch"] as? Int == 128)
        let params = try #require(lines[0]["params"] as? Int)
        #expect(abs((lines[0]["allreduce_mb"] as? Double ?? 0) - Double(params * 4) / 1_048_576) < 1e-9)
        #expect((lines[0]["allreduce_s"] as? Double ?? 0) > 0 && (lines[0]["train_step_s"] as? Double ?? 0) > 0)
        #expect(lines[1]["threads"] as? Int == 2 && lines[1]["params"] as? Int == params)
        let alone = try runGen(["bench", "--allreduce"])
        #expect(alone.status == 64 && alone.standardError.contains("mpirun -np 2"))
    }

    /// An error rank 0 meets alone (here: the folder already holds a run) ends every rank with
    /// its exit code instead of leaving the other waiting.
    @Test func anErrorOnOneRankEndsEveryRank() throws {
        let scratch = try Scratch()
        let run = scratch.path("run")
        #expect(try runGen(dataParallelTraining("ddpm", run, steps: 2)).status == 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: "\(run)/checkpoint.safetensors"))
        let started = Date()
        #expect(try runMPIGen(2, dataParallelTraining("ddpm", run, steps: 2)) == 64)
        #expect(Date().timeIntervalSince(started) < 30)
        #expect(try Data(contentsOf: URL(fileURLWithPath: "\(run)/checkpoint.safetensors")) == before)
        // more ranks than shares is refused, not run with an idle rank
        #expect(try runMPIGen(2, dataParallelTraining("ddpm", scratch.path("other"), steps: 2, extra: ["--shards", "1"])) == 64)
    }
}

/// The pid of the `gen` process of MPI rank `rank` training into `folder`.
func rankProcess(_ rank: Int, writing folder: String) -> pid_t? {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    for entry in entries {
        guard let pid = Int32(entry),
              let command = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(entry)/cmdline")),
              String(decoding: command, as: UTF8.self).contains(folder),
              String(decoding: command, as: UTF8.self).hasPrefix(genBinary.path),
              let environment = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(entry)/environ")) else { continue }
        if environment.split(separator: 0).contains(where: { String(decoding: $0, as: UTF8.self) == "OMPI_COMM_WORLD_RANK=\(rank)" }) {
            return pid
        }
    }
    return nil
}
