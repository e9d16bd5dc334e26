import SGXSupport
import SGXRandom
import SGXEnvironments
import SGXAgents
import Foundation

// Where inner-loop runs execute. Meta-training (`MetaTrainer`) and the
// paper's evaluation (`TransferEvaluation`) are made of inner-loop runs,
// "tasks", whose outcomes are pure functions of the task and of the run's
// context (the config; for an evaluation also the checkpoint and the
// episode count). A `TaskExecutor` runs a list of them: `ThreadExecutor`
// on this process's threads, others elsewhere (other processes, other
// machines, behind the library's interfaces).
// Contexts, tasks and outcomes have a byte encoding that crosses processes;
// a `TaskRunner` built from a context runs tasks wherever it is, and the
// local executor runs them through the same `TaskRunner.run`, so the
// results do not depend on where the tasks ran.

/// One inner-loop run: an algorithm, a key and a synthetic environment.
public struct InnerLoopTask: Sendable, Equatable {
    public var algorithm: Algorithm
    /// The run's key (`InnerLoop.run`).
    public var key: PRNGKey
    /// The evaluation length (meta-training's eval_config schedule); nil for
    /// the real environment's own (an evaluation's).
    public var evaluationSteps: Int?
    /// The synthetic environment as a parameter vector (meta-training); nil
    /// for the context's checkpoint (an evaluation).
    public var parameters: [Float]?

    public init(algorithm: Algorithm, key: PRNGKey, evaluationSteps: Int? = nil, parameters: [Float]? = nil) {
        (self.algorithm, self.key, self.evaluationSteps, self.parameters) = (algorithm, key, evaluationSteps, parameters)
    }
}

/// What every task of a run shares.
public struct TaskContext: Sendable, Equatable {
    /// The meta-training config (YAML text, upstream's schema).
    public var configText: String
    /// An evaluation's checkpoint: the bytes of its file; nil in meta-training.
    public var checkpoint: Data?
    /// The checkpoint's name in messages (its path).
    public var checkpointName: String
    /// Evaluation episodes per run; nil for the config's num_eval_envs.
    public var episodes: Int?
    /// Deterministic actions in the evaluation (greedy, the mean).
    public var deterministic: Bool

    public init(configText: String, checkpoint: Data? = nil, checkpointName: String = "", episodes: Int? = nil,
                deterministic: Bool = true) {
        (self.configText, self.checkpoint, self.checkpointName, self.episodes, self.deterministic) =
            (configText, checkpoint, checkpointName, episodes, deterministic)
    }
}

/// Bytes that are not what they claim to be (a context, task or outcome
/// of another version, truncated or altered).
public struct TaskEncodingError: Error, CustomStringConvertible, Equatable {
    public let problem: String
    public init(_ problem: String) { self.problem = problem }
    public var description: String { problem }
}

/// Runs the tasks of one context: what a worker holds.
public final class TaskRunner: @unchecked Sendable {
    public let context: TaskContext
    public let config: MetaConfig
    /// Meta-training: the map from parameter vectors to environments.
    public let parameters: SyntheticParameters?
    /// An evaluation: the checkpoint's environment.
    public let synthetic: AnyEnvironment?
    /// Episodes of each run's evaluation.
    public let episodes: Int
    private let loops: [Algorithm: InnerLoop]
    private let lock = NSLock()
    private var realEnvironments: [Int?: AnyEnvironment] = [:]

    /// Parses and checks the config (and the checkpoint) once.
    public init(context: TaskContext) throws {
        self.context = context
        config = try MetaConfig(yaml: context.configText)
        if let data = context.checkpoint {
            synthetic = AnyEnvironment(try SyntheticEnvironment(checkpointData: data, name: context.checkpointName))
            parameters = nil
        } else {
            synthetic = nil
            parameters = try SyntheticParameters(configuration: try config.syntheticConfiguration())
        }
        episodes = context.episodes ?? config.evalConfig.numEvalEnvs
        guard episodes >= 1, episodes <= Limits.environments else {
            throw AgentError.invalidArgument("episodes must be in 1...\(Limits.environments) (SGX_MAX_VEC_ENVS), got \(episodes)")
        }
        var loops: [Algorithm: InnerLoop] = [:]
        for a in Algorithm.allCases {
            if let space = config.innerConfig[a.rawValue] {
                loops[a] = InnerLoop(algorithm: a, space: space, episodes: episodes, deterministic: context.deterministic)
            }
        }
        self.loops = loops
    }

    /// The real environment with eval_env_kwargs and `steps` as its
    /// episode length (nil: eval_env_kwargs' own or the default).
    public func realEnvironment(steps: Int?) throws -> AnyEnvironment {
        lock.lock(); defer { lock.unlock() }
        if let env = realEnvironments[steps] { return env }
        let env = try AnyEnvironment(id: config.realEnvironmentID,
                                     parameters: try MetaTrainer.evalParameters(config, steps: steps))
        realEnvironments[steps] = env
        return env
    }

    /// The hyperparameters `run(task)` samples (a pure function of the key).
    public func hyperparameters(for task: InnerLoopTask) -> [String: String] {
        loops[task.algorithm].map { $0.space.sample(runKey: task.key) } ?? [:]
    }

    /// Runs one task on the calling thread. A run that fails (an agent that
    /// diverges, a member whose networks cannot be built) is an outcome;
    /// a task that does not fit the context is an error.
    public func run(_ task: InnerLoopTask) throws -> InnerLoop.Outcome {
        guard let loop = loops[task.algorithm] else {
            throw TaskEncodingError("the task's algorithm \(task.algorithm.rawValue) has no inner_config block in the context's config")
        }
        let training: AnyEnvironment
        switch (task.parameters, parameters, synthetic) {
        case let (vector?, parameters?, _):
            guard vector.count == parameters.count else {
                throw TaskEncodingError("the task's parameter vector has \(vector.count) values; the context's config needs \(parameters.count)")
            }
            do {
                training = AnyEnvironment(try parameters.environment(vector))
            } catch {
                return InnerLoop.Outcome(meanReturn: .nan, meanLength: .nan, hyperparameters: [:],
                                         failure: Self.cut("\(error)"))
            }
        case let (nil, _, checkpoint?):
            training = checkpoint
        default:
            throw TaskEncodingError(task.parameters == nil
                ? "the task has no parameter vector, and the context (meta-training) has no checkpoint"
                : "the task has a parameter vector, but the context is an evaluation of a checkpoint")
        }
        let real = try realEnvironment(steps: task.evaluationSteps)
        var outcome = SerialExecution.run { loop.run(training: training, evaluation: real, key: task.key) }
        outcome.failure = outcome.failure.map(Self.cut)
        return outcome
    }

    /// A failure's message, cut to fit an encoded outcome.
    static func cut(_ message: String) -> String {
        let limit = Limits.outcomeBytes - 64
        guard message.utf8.count > limit else { return message }
        var out = ""
        for c in message where out.utf8.count + c.utf8.count <= limit - 3 { out.append(c) }
        return out + "..."
    }
}

/// Runs lists of tasks of one context.
public protocol TaskExecutor: AnyObject {
    /// Runs every task (with `runner` here, or elsewhere with a runner of
    /// the same context) and returns their outcomes in order; nil when
    /// stopped. `poll(done)` reports the tasks finished so far on the
    /// calling thread; when it returns false the executor stops.
    func execute(_ tasks: [InnerLoopTask], runner: TaskRunner, poll: @escaping (Int) -> Bool) throws -> [InnerLoop.Outcome]?
}

/// The library's own executor: the tasks on `workers` threads of this process.
public final class ThreadExecutor: TaskExecutor {
    public let workers: Int
    public init(workers: Int = availableCores) { self.workers = Swift.max(1, workers) }

    public func execute(_ tasks: [InnerLoopTask], runner: TaskRunner,
                        poll: @escaping (Int) -> Bool) throws -> [InnerLoop.Outcome]? {
        let outcomes = TaskResults<InnerLoop.Outcome?>(repeating: nil, count: tasks.count)
        let errors = TaskResults<String?>(repeating: nil, count: tasks.count)
        let finished = forEachTask(count: tasks.count, workers: workers, poll: poll) { i in
            do { outcomes[i] = try runner.run(tasks[i]) } catch { errors[i] = "\(error)" }
        }
        if let error = errors.all.compactMap({ $0 }).first { throw TaskEncodingError(error) }
        return finished ? outcomes.all.map { $0! } : nil
    }
}

// MARK: Byte encoding

/// Little-endian fields after a four-byte magic and a format number.
struct ByteWriter {
    var bytes: [UInt8] = []
    init(magic: String) {
        bytes += Array(magic.utf8)
        u32(TaskCoding.format)
    }
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func i64(_ v: Int64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func blob(_ b: some Collection<UInt8>) { i64(Int64(b.count)); bytes += b }
    mutating func floats(_ x: [Float]) {
        i64(Int64(x.count))
        for v in x { u32(v.bitPattern) }
    }
}

struct ByteReader {
    let bytes: [UInt8]
    var at = 0
    let what: String

    init(_ data: some Collection<UInt8>, magic: String, what: String) throws {
        bytes = Array(data)
        self.what = what
        guard bytes.count >= 8, Array(bytes[0..<4]) == Array(magic.utf8) else {
            throw TaskEncodingError("these \(bytes.count) bytes are not \(what) of this library")
        }
        at = 4
        let format = try u32()
        guard format == TaskCoding.format else {
            throw TaskEncodingError("\(what) of format \(format); this library (version \(libraryVersion)) reads format \(TaskCoding.format)")
        }
    }

    private mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, n <= bytes.count - at else { throw TaskEncodingError("\(what) is truncated (\(bytes.count) bytes)") }
        defer { at += n }
        return bytes[at..<(at + n)]
    }
    mutating func u8() throws -> UInt8 { try take(1).first! }
    mutating func u32() throws -> UInt32 {
        try take(4).reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }
    mutating func i64() throws -> Int64 {
        Int64(bitPattern: try take(8).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    }
    /// A length, at most `limit`.
    mutating func length(_ name: String, limit: Int) throws -> Int {
        let n = try i64()
        guard n >= 0, n <= Int64(limit) else { throw TaskEncodingError("\(what): \(name) has length \(n), outside 0...\(limit)") }
        return Int(n)
    }
    mutating func blob(_ name: String, limit: Int) throws -> ArraySlice<UInt8> { try take(try length(name, limit: limit)) }
    mutating func string(_ name: String, limit: Int) throws -> String {
        guard let s = String(validating: try blob(name, limit: limit), as: UTF8.self) else {
            throw TaskEncodingError("\(what): \(name) is not UTF-8")
        }
        return s
    }
    func end() throws {
        guard at == bytes.count else { throw TaskEncodingError("\(what) has \(bytes.count - at) bytes after its end") }
    }
}

enum TaskCoding {
    static let format: UInt32 = 1
}

extension TaskContext {
    /// "SGXC", format, the library version, the config, the checkpoint.
    public var encoded: [UInt8] {
        var w = ByteWriter(magic: "SGXC")
        w.blob(Array(libraryVersion.utf8))
        w.blob(Array(configText.utf8))
        w.i64(checkpoint == nil ? -1 : 1)
        w.blob(checkpoint ?? Data())
        w.blob(Array(checkpointName.utf8))
        w.i64(Int64(episodes ?? -1))
        w.u8(deterministic ? 1 : 0)
        return w.bytes
    }

    public init(encoded bytes: some Collection<UInt8>) throws {
        var r = try ByteReader(bytes, magic: "SGXC", what: "a task context")
        let version = try r.string("the library version", limit: 256)
        guard version == libraryVersion else {
            throw TaskEncodingError("a task context of library version \(version); this library is version \(libraryVersion)")
        }
        configText = try r.string("the config", limit: Limits.configBytes)
        let hasCheckpoint = try r.i64()
        let data = try r.blob("the checkpoint", limit: Limits.fileBytes)
        checkpoint = hasCheckpoint == 1 ? Data(data) : nil
        checkpointName = try r.string("the checkpoint's name", limit: 1 << 16)
        let e = try r.i64()
        guard e == -1 || (1...Int64(Limits.environments)).contains(e) else {
            throw TaskEncodingError("a task context: episodes \(e) outside 1...\(Limits.environments)")
        }
        episodes = e == -1 ? nil : Int(e)
        deterministic = try r.u8() != 0
        try r.end()
    }
}

extension InnerLoopTask {
    /// "SGXT", format, the algorithm, the key, the evaluation length, the vector.
    public var encoded: [UInt8] {
        var w = ByteWriter(magic: "SGXT")
        w.blob(Array(algorithm.rawValue.utf8))
        w.u32(key.k0)
        w.u32(key.k1)
        w.i64(Int64(evaluationSteps ?? -1))
        if let parameters { w.floats(parameters) } else { w.i64(-1) }
        return w.bytes
    }

    public init(encoded bytes: some Collection<UInt8>) throws {
        var r = try ByteReader(bytes, magic: "SGXT", what: "a task")
        let name = try r.string("the algorithm", limit: 16)
        guard let a = Algorithm(rawValue: name) else { throw TaskEncodingError("a task of unknown algorithm '\(name)'") }
        algorithm = a
        key = PRNGKey(try r.u32(), try r.u32())
        let steps = try r.i64()
        guard steps == -1 || (0...Int64(Limits.int32)).contains(steps) else {
            throw TaskEncodingError("a task: evaluation length \(steps) outside 0...\(Limits.int32)")
        }
        evaluationSteps = steps == -1 ? nil : Int(steps)
        let count = try r.i64()
        if count == -1 {
            parameters = nil
        } else {
            guard count >= 0, count <= Int64(Limits.networkParameters) * 4 else {
                throw TaskEncodingError("a task: \(count) parameters, outside 0...\(Limits.networkParameters * 4)")
            }
            guard Int(count) * 4 <= r.bytes.count - r.at else { throw TaskEncodingError("a task is truncated (\(r.bytes.count) bytes)") }
            parameters = try (0..<Int(count)).map { _ in Float(bitPattern: try r.u32()) }
        }
        try r.end()
    }
}

extension InnerLoop.Outcome {
    /// "SGXO", format, mean return and length (float32 bits), the failure.
    /// The hyperparameters are not carried: they follow from the task's key
    /// (`TaskRunner.hyperparameters(for:)`).
    public var encoded: [UInt8] {
        var w = ByteWriter(magic: "SGXO")
        w.u32(meanReturn.bitPattern)
        w.u32(meanLength.bitPattern)
        w.i64(failure == nil ? -1 : 1)
        w.blob(Array(TaskRunner.cut(failure ?? "").utf8))
        return w.bytes
    }

    public init(encoded bytes: some Collection<UInt8>) throws {
        guard bytes.count <= Limits.outcomeBytes else {
            throw TaskEncodingError("an outcome of \(bytes.count) bytes, more than \(Limits.outcomeBytes) (SGX_MAX_OUTCOME_BYTES)")
        }
        var r = try ByteReader(bytes, magic: "SGXO", what: "an outcome")
        meanReturn = Float(bitPattern: try r.u32())
        meanLength = Float(bitPattern: try r.u32())
        let failed = try r.i64()
        let message = try r.string("the failure", limit: Limits.outcomeBytes)
        failure = failed == 1 ? message : nil
        hyperparameters = [:]
        try r.end()
    }
}
