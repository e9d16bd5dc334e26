import SGXSupport
import SGXRandom
import SGXEnvironments
import SGXAgents
import Foundation

/// The paper's evaluation of a synthetic environment (its tables): for each
/// algorithm, `runs` inner-loop runs with hyperparameters sampled from the
/// config's lists, each trained on the synthetic environment and evaluated
/// on the real one; the interquartile mean of the runs' returns summarises
/// the algorithm.
public enum TransferEvaluation {
    /// One algorithm's runs.
    public struct Result: Sendable, Equatable {
        public var algorithm: Algorithm
        /// Each run's mean return on the real environment (NaN for a failed run).
        public var returns: [Float]
        public var hyperparameters: [[String: String]]
        public var failures: [String]
        /// Interquartile mean of the finite returns.
        public var iqm: Float { interquartileMean(returns.filter(\.isFinite)) }
        public var mean: Float {
            let finite = returns.filter(\.isFinite)
            return finite.isEmpty ? .nan : finite.reduce(0, +) / Float(finite.count)
        }
    }

    /// Runs the protocol. Run i of the a-th algorithm uses the key
    /// `split(fold_in(PRNGKey(seed), a), runs)[i]` (see `InnerLoop.run`).
    /// `progress(done, total)` is called on the calling thread a few times a
    /// second; returning false stops the evaluation (it then throws).
    public static func run(synthetic: AnyEnvironment, real: AnyEnvironment, algorithms: [Algorithm],
                           spaces: [Algorithm: HyperparameterSpace], runs: Int, episodes: Int, seed: Int64,
                           workers: Int = availableCores, deterministic: Bool = true,
                           progress: ((Int, Int) -> Bool)? = nil) throws -> [Result] {
        guard runs >= 1, runs <= Limits.rollouts else {
            throw AgentError.invalidArgument("runs must be in 1...\(Limits.rollouts) (SGX_MAX_RUNS), got \(runs)")
        }
        guard episodes >= 1, episodes <= Limits.environments else {
            throw AgentError.invalidArgument("episodes must be in 1...\(Limits.environments) (SGX_MAX_VEC_ENVS), got \(episodes)")
        }
        try check(synthetic: synthetic, real: real, algorithms: algorithms) { spaces[$0] != nil }
        let loops = algorithms.map { InnerLoop(algorithm: $0, space: spaces[$0]!, episodes: episodes, deterministic: deterministic) }
        let root = PRNGKey(seed: seed)
        let keys = algorithms.indices.map { root.foldIn(UInt32($0)).split(runs) }
        let total = algorithms.count * runs
        let outcomes = TaskResults<InnerLoop.Outcome?>(repeating: nil, count: total)
        let finished = forEachTask(count: total, workers: workers, poll: { done in progress?(done, total) ?? true }) { task in
            let (a, i) = (task / runs, task % runs)
            outcomes[task] = loops[a].run(training: synthetic, evaluation: real, key: keys[a][i])
        }
        guard finished else { throw AgentError.invalidArgument("the evaluation was stopped") }
        return algorithms.indices.map { a in
            let mine = (0..<runs).map { outcomes[a * runs + $0]! }
            return Result(algorithm: algorithms[a], returns: mine.map(\.meanReturn), hyperparameters: mine.map(\.hyperparameters),
                          failures: mine.compactMap(\.failure))
        }
    }

    /// Runs the protocol for the checkpoint and config of `context`, each
    /// run a task given to `executor` (keys as above); the real
    /// environment is the config's env_name with its eval_env_kwargs.
    /// `progress(done, total)` as above; a stop throws.
    public static func run(context: TaskContext, algorithms: [Algorithm], runs: Int, seed: Int64,
                           executor: TaskExecutor, progress: ((Int, Int) -> Bool)? = nil) throws -> [Result] {
        guard runs >= 1, runs <= Limits.rollouts else {
            throw AgentError.invalidArgument("runs must be in 1...\(Limits.rollouts) (SGX_MAX_RUNS), got \(runs)")
        }
        let runner = try TaskRunner(context: context)
        guard let synthetic = runner.synthetic else {
            throw AgentError.invalidArgument("an evaluation needs a checkpoint in its context")
        }
        let real = try runner.realEnvironment(steps: nil)
        try check(synthetic: synthetic, real: real, algorithms: algorithms) { runner.config.innerConfig[$0.rawValue] != nil }
        let tasks = Self.tasks(algorithms: algorithms, runs: runs, seed: seed)
        let total = tasks.count
        guard let outcomes = try executor.execute(tasks, runner: runner, poll: { progress?($0, total) ?? true }) else {
            throw AgentError.invalidArgument("the evaluation was stopped")
        }
        return algorithms.indices.map { a in
            let mine = (a * runs..<(a + 1) * runs)
            return Result(algorithm: algorithms[a], returns: mine.map { outcomes[$0].meanReturn },
                          hyperparameters: mine.map { runner.hyperparameters(for: tasks[$0]) },
                          failures: mine.compactMap { outcomes[$0].failure })
        }
    }

    /// The protocol's runs as tasks, algorithm by algorithm: run i of the
    /// a-th algorithm has the key `split(fold_in(PRNGKey(seed), a), runs)[i]`.
    public static func tasks(algorithms: [Algorithm], runs: Int, seed: Int64) -> [InnerLoopTask] {
        let root = PRNGKey(seed: seed)
        return algorithms.indices.flatMap { a in
            root.foldIn(UInt32(a)).split(runs).map { InnerLoopTask(algorithm: algorithms[a], key: $0) }
        }
    }

    /// The hyperparameters each run of the protocol samples, algorithm by
    /// algorithm (what `run(context:...)` reports in `Result.hyperparameters`),
    /// without training: a pure function of the config, the runs and the seed.
    public static func hyperparameters(config: MetaConfig, algorithms: [Algorithm], runs: Int,
                                       seed: Int64) throws -> [[[String: String]]] {
        guard runs >= 1, runs <= Limits.rollouts else {
            throw AgentError.invalidArgument("runs must be in 1...\(Limits.rollouts) (SGX_MAX_RUNS), got \(runs)")
        }
        let spaces = try algorithms.map { a in
            guard let space = config.innerConfig[a.rawValue] else {
                throw AgentError.invalidArgument("no hyperparameters for \(a.rawValue) (the config has no inner_config.\(a.rawValue))")
            }
            return space
        }
        let tasks = Self.tasks(algorithms: algorithms, runs: runs, seed: seed)
        return algorithms.indices.map { a in
            (a * runs..<(a + 1) * runs).map { spaces[a].sample(runKey: tasks[$0].key) }
        }
    }

    /// Throws unless every algorithm has hyperparameters and can act in
    /// `real`, and `synthetic` shares `real`'s spaces.
    static func check(synthetic: AnyEnvironment, real: AnyEnvironment, algorithms: [Algorithm],
                      hasSpace: (Algorithm) -> Bool) throws {
        for a in algorithms {
            guard hasSpace(a) else {
                throw AgentError.invalidArgument("no hyperparameters for \(a.rawValue) (the config has no inner_config.\(a.rawValue))")
            }
            guard a.supports(real.actionSpace) else {
                throw AgentError.unsupportedEnvironment("\(a.rawValue.uppercased()) cannot train on \(real.name)")
            }
        }
        try synthetic.checkSpaces(match: real)
    }

    /// The interquartile mean (rliable's IQM, `scipy.stats.trim_mean(x,
    /// 0.25)`): the mean of the values left after cutting ⌊n/4⌋ from each
    /// end of the sorted list. NaN for no values.
    public static func interquartileMean(_ values: [Float]) -> Float {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        let cut = sorted.count / 4
        let middle = sorted[cut..<(sorted.count - cut)]
        return Float(middle.reduce(0.0) { $0 + Double($1) } / Double(middle.count))
    }
}

extension AnyEnvironment {
    /// Throws unless `other` has the same observation size and action space
    /// kind and size (a synthetic environment and its real one).
    func checkSpaces(match other: AnyEnvironment) throws {
        guard observationSize == other.observationSize, actionSpace.isDiscrete == other.actionSpace.isDiscrete,
              actionSpace.numActions == other.actionSpace.numActions else {
            throw AgentError.unsupportedEnvironment(
                "\(name) (observations \(observationSize), actions \(actionSpace)) does not share \(other.name)'s spaces (observations \(other.observationSize), actions \(other.actionSpace))")
        }
    }
}
