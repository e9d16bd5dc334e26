import SGXSupport
import SGXRandom
import SGXEnvironments
import SGXAgents
import Foundation

/// The meta-training loop of the paper (upstream `examples/metalearn_synthenv.py`):
///
///   for each generation g:
///     1. rng, rng_ask, rng_eval = split(rng, 3); the strategy asks for a
///        population of synthetic-environment parameter vectors;
///     2. every member trains the generation's inner-loop algorithm (the
///        config's algorithms in turn, one per generation) num_rollouts
///        times with hyperparameters sampled from its lists (the same
///        rollout keys split(rng_eval, num_rollouts) for every member, as
///        upstream), each run evaluated on the real environment for
///        num_eval_envs episodes of eval_config's length; a member's fitness
///        is its runs' mean return;
///     3. the strategy is told the fitness;
///     4. every mean_eval_freq generations (and after the last) the search
///        mean is evaluated with num_rollouts_mean runs of every algorithm
///        (keys split(rng_mean, num_rollouts_mean), rng, rng_mean = split(rng));
///     5. the generation is logged and saved.
///
/// The search starts from freshly initialised networks
/// (`SyntheticParameters.initialVector`), as upstream starts from
/// `SynthEnv.default_params` (or from the config's warm start). The
/// inner-loop runs are tasks (`InnerLoopTask`) given to a `TaskExecutor`:
/// by default `ThreadExecutor`, members in parallel on `workers` threads,
/// one run per thread; another executor runs them elsewhere (other
/// processes or machines). The results do not depend on `workers` nor on
/// the executor.
///
/// Files in the output directory, all rewritten after every generation
/// (each through a temporary file, flushed to disk, and a rename, so a kill
/// loses at most the generation in progress; the checkpoints first, then
/// state.json, the commit point, then log.csv, which a resume rewrites if a
/// kill left it one row short):
/// - `state.json`: the strategy, the key, the generation, the log, the
///   config's text; a new `MetaTrainer` on the same directory resumes from it;
/// - `log.csv`: one row per generation (upstream's columns);
/// - `mean.safetensors`: the search mean (upstream's `model.pkl`);
///   `best_member.safetensors`: the fittest member so far;
///   `best_mean.safetensors`: the search mean with the best evaluated
///   fitness so far (the natural checkpoint to ship).
public final class MetaTrainer {
    public let config: MetaConfig
    public let directory: URL
    public let workers: Int
    public let parameters: SyntheticParameters
    /// Runs the inner-loop runs.
    public let executor: TaskExecutor
    /// Runs tasks of this run's context here (the executor's local runner).
    public let runner: TaskRunner
    private let algorithms: [Algorithm]
    private var state: State

    /// Statistics of one algorithm's runs in a generation.
    public struct AlgorithmStats: Codable, Sendable, Equatable {
        public var finalReturn: Float
        public var finalLength: Float
        public var failedRuns: Int
    }

    /// One generation's row of the log.
    public struct GenerationRecord: Codable, Sendable, Equatable {
        /// 1-based (upstream's `num_gens`).
        public var generation: Int
        public var seconds: Double
        /// Evaluation episode length this generation (eval_config's schedule).
        public var evaluationSteps: Int
        public var bestFitness: Float
        public var populationFitness: Float
        public var populationFitnessStd: Float
        /// The generation's algorithm(s): mean return and length over the population's runs.
        public var algorithms: [String: AlgorithmStats]
        /// The search mean's evaluation, when made this generation.
        public var meanFitness: Float?
        public var meanFitnessStd: Float?
        public var meanAlgorithms: [String: AlgorithmStats]?
    }

    /// What `run` reports while it works.
    public struct Progress: Sendable {
        /// 0-based generation in progress, and the last one to run.
        public var generation: Int
        public var generations: Int
        /// "population" or "mean".
        public var phase: String
        public var runsDone: Int
        public var runsTotal: Int
        /// Set when a generation has just completed.
        public var record: GenerationRecord?
    }

    struct State: Codable {
        var format = MetaTrainer.stateFormat
        var configText: String
        var generation: Int
        var key: [UInt32]
        var strategy: AnyEvolutionStrategy
        var log: [GenerationRecord]
        var bestMeanFitness: Float?
        /// What the config's `init` block did, when it has one.
        var warmStart: WarmStart.Report?
    }

    static let stateFormat = "synthetic-gymnax-swift meta-training 1"

    /// NaN and infinities in state.json (a generation whose runs all failed
    /// has a NaN mean return), as strings, which JSON lacks numbers for.
    static let nonFinite = JSONDecoder.NonConformingFloatDecodingStrategy.convertFromString(
        positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")

    /// The encoder of state.json (sorted keys; NaN and infinities as "nan", "inf", "-inf").
    static func stateEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return encoder
    }

    /// A trainer for `config` (its YAML `configText`, kept to recognise the
    /// run on resume) writing to `directory`. If the directory holds the
    /// state of a run of the same config, that run resumes; a state of
    /// another config is an error. The inner-loop runs go to `executor`
    /// (default: `ThreadExecutor(workers:)`).
    public init(config: MetaConfig, configText: String, directory: String, workers: Int = availableCores,
                executor: TaskExecutor? = nil) throws {
        self.config = config
        self.directory = URL(fileURLWithPath: directory, isDirectory: true)
        self.workers = Swift.max(1, workers)
        self.executor = executor ?? ThreadExecutor(workers: workers)
        parameters = try SyntheticParameters(configuration: try config.syntheticConfiguration())
        algorithms = try config.innerLoopAlgorithms.map { try Algorithm(name: $0) }
        for a in algorithms where config.innerConfig[a.rawValue] == nil {
            throw MetaConfigError.missingKey(key: "inner_config.\(a.rawValue)")
        }
        runner = try TaskRunner(context: TaskContext(configText: configText))
        guard runner.parameters?.count == parameters.count else {
            throw AgentError.invalidArgument("the config text does not describe the config given with it")
        }
        let real = try runner.realEnvironment(steps: nil)
        for a in algorithms where !a.supports(real.actionSpace) {
            throw MetaConfigError.invalidValue(key: "inner_loop_algorithm",
                                               reason: "\(a.rawValue) cannot train on \(real.name)'s action space")
        }
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        let statePath = self.directory.appendingPathComponent("state.json")
        if FileManager.default.fileExists(atPath: statePath.path) {
            let saved: State
            do {
                let size = (try? FileManager.default.attributesOfItem(atPath: statePath.path)[.size] as? Int) ?? 0
                guard size <= Limits.stateBytes else {
                    throw AgentError.invalidArgument("\(statePath.path) has \(size) bytes, more than the bound of \(Limits.stateBytes) (1 GiB)")
                }
                let decoder = JSONDecoder()
                decoder.nonConformingFloatDecodingStrategy = Self.nonFinite
                saved = try decoder.decode(State.self, from: try Data(contentsOf: statePath))
            } catch let error as AgentError {
                throw error
            } catch {
                throw AgentError.invalidArgument("\(statePath.path) is not a meta-training state of this project: \(error)")
            }
            guard saved.format == Self.stateFormat else {
                throw AgentError.invalidArgument("\(statePath.path) has format '\(saved.format)', expected '\(Self.stateFormat)'")
            }
            guard saved.configText == configText else {
                throw AgentError.invalidArgument(
                    "\(directory) holds a run of another config; give another output directory, or delete its state.json to start over")
            }
            guard saved.strategy.numDims == parameters.count, saved.key.count == 2 else {
                throw AgentError.invalidArgument("\(statePath.path) does not fit the config (\(parameters.count) parameters)")
            }
            state = saved
            // A kill between the state and the log leaves the log one row
            // short: bring it level before anything else.
            if (try? String(contentsOf: self.directory.appendingPathComponent("log.csv"), encoding: .utf8)) != csv {
                try atomicWrite(Data(csv.utf8), "log.csv")
            }
        } else {
            let (loopKey, strategyKey) = config.initialKeys
            var strategy = try config.makeStrategy(numDims: parameters.count, key: strategyKey)
            var report: WarmStart.Report?
            if let settings = config.warmStart {
                let (vector, r) = try WarmStart.distill(settings, parameters: parameters, real: real, key: config.warmStartKey)
                try strategy.setMean(vector)
                report = r
            } else {
                try strategy.setMean(parameters.initialVector(key: PRNGKey(seed: 0)))
            }
            state = State(configText: configText, generation: 0, key: [loopKey.k0, loopKey.k1], strategy: strategy, log: [],
                          warmStart: report)
            if report != nil { try saveWarmStart() }
        }
    }

    /// Generations completed so far.
    public var completedGenerations: Int { state.generation }
    public var log: [GenerationRecord] { state.log }
    public var strategy: AnyEvolutionStrategy { state.strategy }
    /// What the warm start did (configs with an `init` block).
    public var warmStart: WarmStart.Report? { state.warmStart }

    /// Runs generations until `generations` have completed (default: the
    /// config's num_generations), or until a search-mean evaluation meets
    /// `meta_config.target_returns`, saving after each. `progress` is called
    /// on the calling thread a few times a second and after each
    /// generation; returning false stops after saving the last completed
    /// generation (the one in progress is dropped).
    @discardableResult
    public func run(generations: Int? = nil, progress: ((Progress) -> Bool)? = nil) throws -> [GenerationRecord] {
        let total = generations ?? config.metaConfig.numGenerations
        var stopped = false
        while state.generation < total && !stopped {
            let g = state.generation
            let start = DispatchTime.now().uptimeNanoseconds
            var rng = PRNGKey(state.key[0], state.key[1])
            let keys = rng.split(3)
            rng = keys[0]
            var strategy = state.strategy
            let population = strategy.ask(key: keys[1])
            let rolloutKeys = keys[2].split(config.metaConfig.numRollouts)
            let steps = config.evalConfig.evaluationSteps(generation: g)
            _ = try runner.realEnvironment(steps: steps)  // a bad length is the config's error, before any task
            let algorithm = try Algorithm(name: config.algorithm(forGeneration: g))
            let rollouts = config.metaConfig.numRollouts
            var outcomes = [InnerLoop.Outcome?](repeating: nil, count: population.size * rollouts)
            /// Runs rollouts `rolloutRange` of each member in `members`, all in parallel.
            func runRollouts(_ members: [Int], _ rolloutRange: Range<Int>) throws -> Bool {
                let slots = members.flatMap { m in rolloutRange.map { m * rollouts + $0 } }
                let tasks = members.flatMap { m in
                    rolloutRange.map { r in
                        InnerLoopTask(algorithm: algorithm, key: rolloutKeys[r], evaluationSteps: steps,
                                      parameters: population.member(m))
                    }
                }
                let runs = tasks.count
                guard let done = try executor.execute(tasks, runner: runner, poll: { done in
                    progress?(Progress(generation: g, generations: total, phase: "population", runsDone: done,
                                       runsTotal: runs, record: nil)) ?? true
                }) else { return false }
                for (slot, outcome) in zip(slots, done) { outcomes[slot] = outcome }
                return true
            }
            // Successive halving: every member's first rollout, then the
            // others only for the best `halving_keep` of them; a member cut
            // after one rollout keeps that rollout's return as its fitness.
            let everyone = Array(0..<population.size)
            var full = everyone
            var finished: Bool
            if let keep = config.metaConfig.halvingKeep, rollouts > 1 {
                finished = try runRollouts(everyone, 0..<1)
                if finished {
                    let first = everyone.map { outcomes[$0 * rollouts]!.meanReturn }
                    let kept = Swift.max(1, Int((keep * Double(population.size)).rounded(.up)))
                    // Best first; NaN (a failed run) last; ties by index.
                    full = everyone.sorted { a, b in
                        let (x, y) = (first[a].isNaN ? -Float.infinity : first[a], first[b].isNaN ? -Float.infinity : first[b])
                        return x != y ? x > y : a < b
                    }.prefix(kept).sorted()
                    finished = try runRollouts(full, 1..<rollouts)
                }
            } else {
                finished = try runRollouts(everyone, 0..<rollouts)
            }
            guard finished else { break }
            let all = outcomes
            let results = all.compactMap { $0 }
            let isFull = Set(full)
            var fitness = everyone.map { m in
                let n = isFull.contains(m) ? rollouts : 1
                return (0..<n).reduce(Float(0)) { $0 + all[m * rollouts + $1]!.meanReturn } / Float(n)
            }
            // A failed run (NaN) ranks below every finite member.
            let finite = fitness.filter(\.isFinite)
            let worst = (finite.min() ?? 0) - 1
            fitness = fitness.map { $0.isFinite ? $0 : worst }
            try strategy.tell(population, fitness: fitness)

            var record = GenerationRecord(
                generation: g + 1, seconds: 0, evaluationSteps: steps, bestFitness: strategy.bestFitness,
                populationFitness: Self.mean(fitness), populationFitnessStd: Self.std(fitness),
                algorithms: [algorithm.rawValue: Self.stats(results)])
            var bestMean: [Float]?
            if config.evaluatesMean(afterGeneration: g) {
                let meanKey = rng.splitOff()
                let meanKeys = meanKey.split(config.metaConfig.numRolloutsMean)
                _ = try self.parameters.environment(strategy.mean)  // a mean that cannot be built stops the run, as before
                let n = config.metaConfig.numRolloutsMean
                let meanRuns = algorithms.count * n
                let mean = strategy.mean
                let tasks = algorithms.flatMap { a in
                    meanKeys.map { InnerLoopTask(algorithm: a, key: $0, evaluationSteps: steps, parameters: mean) }
                }
                guard let all = try executor.execute(tasks, runner: runner, poll: { done in
                    progress?(Progress(generation: g, generations: total, phase: "mean", runsDone: done,
                                       runsTotal: meanRuns, record: nil)) ?? true
                }) else { break }
                let returns = all.map { $0.meanReturn.isFinite ? $0.meanReturn : worst }
                record.meanFitness = Self.mean(returns)
                record.meanFitnessStd = Self.std(returns)
                record.meanAlgorithms = Dictionary(uniqueKeysWithValues: algorithms.indices.map { a in
                    (algorithms[a].rawValue, Self.stats(Array(all[(a * n)..<((a + 1) * n)])))
                })
                if record.meanFitness! > (state.bestMeanFitness ?? -.infinity) {
                    state.bestMeanFitness = record.meanFitness
                    bestMean = strategy.mean
                }
            }
            record.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9

            state.strategy = strategy
            state.key = [rng.k0, rng.k1]
            state.generation = g + 1
            state.log.append(record)
            try save(bestMean: bestMean)
            if let progress, !progress(Progress(generation: g, generations: total, phase: "done", runsDone: results.count,
                                                runsTotal: results.count, record: record)) {
                stopped = true
            }
            if Self.meetsTargets(record, config.metaConfig.targetReturns) { stopped = true }
        }
        return state.log
    }

    // MARK: Files

    /// The warm start's environment (`warm_start.safetensors`, the search's
    /// starting mean) and report (`warm_start.json`), and the state, so
    /// that a run killed in its first generation does not redo the warm start.
    private func saveWarmStart() throws {
        guard let report = state.warmStart else { return }
        try writeCheckpoint(state.strategy.mean, "warm_start.safetensors",
                            note: "warm start (\(report.method), expert \(report.expert) returning \(report.expertReturn))")
        let encoder = Self.stateEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try atomicWrite(try encoder.encode(report), "warm_start.json")
        encoder.outputFormatting = [.sortedKeys]
        try atomicWrite(try encoder.encode(state), "state.json")
    }

    /// Writes the checkpoints, then the state (the commit point of the
    /// generation), then the log, each file through `AtomicFile` (fsync,
    /// rename). A kill leaves state.json at the last complete generation,
    /// log.csv equal to its log or one row short of it (rewritten on
    /// resume), and checkpoints of that generation or of the one after.
    private func save(bestMean: [Float]?) throws {
        try writeCheckpoint(state.strategy.mean, "mean.safetensors", note: "search mean after generation \(state.generation)")
        try writeCheckpoint(state.strategy.bestMember, "best_member.safetensors",
                            note: "fittest member up to generation \(state.generation), fitness \(state.strategy.bestFitness)")
        if let bestMean {
            try writeCheckpoint(bestMean, "best_mean.safetensors",
                                note: "search mean of generation \(state.generation), mean fitness \(state.bestMeanFitness!)")
        }
        try atomicWrite(try Self.stateEncoder().encode(state), "state.json")
        try atomicWrite(Data(csv.utf8), "log.csv")
    }

    private func writeCheckpoint(_ vector: [Float], _ name: String, note: String) throws {
        var env = try parameters.environment(vector)
        var c = env.configuration
        c.extraMetadata["source"] = "synthetic-gymnax-swift meta-training (\(config.strategyName.rawValue))"
        c.extraMetadata["meta_training"] = note
        env = try SyntheticEnvironment(configuration: c, initialState: env.initialState, reward: env.reward,
                                       nextStateDelta: env.nextStateDelta, done: env.done)
        try env.save(to: directory.appendingPathComponent(name).path)
    }

    private func atomicWrite(_ data: Data, _ name: String) throws {
        try AtomicFile.write(data, to: directory.appendingPathComponent(name).path)
    }

    /// The log as CSV, upstream's column names: num_gens, time_gen,
    /// eval_steps, best_fitness, population_fitness, population_fitness_std,
    /// final_return/<algo>, final_length/<algo>, failed_runs/<algo>,
    /// mean_fitness, mean_fitness_std, mean_final_return/<algo>,
    /// mean_final_length/<algo>.
    public var csv: String {
        let names = algorithms.map(\.rawValue)
        var header = ["num_gens", "time_gen", "eval_steps", "best_fitness", "population_fitness", "population_fitness_std"]
        header += names.flatMap { ["final_return/\($0)", "final_length/\($0)", "failed_runs/\($0)"] }
        header += ["mean_fitness", "mean_fitness_std"] + names.flatMap { ["mean_final_return/\($0)", "mean_final_length/\($0)"] }
        var lines = [header.joined(separator: ",")]
        func f(_ x: Float?) -> String { x.map { "\($0)" } ?? "" }
        for r in state.log {
            var row = ["\(r.generation)", String(format: "%.3f", r.seconds), "\(r.evaluationSteps)", f(r.bestFitness),
                       f(r.populationFitness), f(r.populationFitnessStd)]
            for n in names {
                let s = r.algorithms[n]
                row += [f(s?.finalReturn), f(s?.finalLength), s.map { "\($0.failedRuns)" } ?? ""]
            }
            row += [f(r.meanFitness), f(r.meanFitnessStd)]
            for n in names { row += [f(r.meanAlgorithms?[n]?.finalReturn), f(r.meanAlgorithms?[n]?.finalLength)] }
            lines.append(row.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: Helpers

    static func evalParameters(_ config: MetaConfig, steps: Int?) throws -> [(name: String, value: Double)] {
        var out: [(name: String, value: Double)] = []
        for (name, value) in config.synthEnvKwargs.evalEnvKwargs.sorted(by: { $0.key < $1.key }) {
            guard let number = value.number else {
                throw MetaConfigError.invalidValue(key: "synth_env_kwargs.eval_env_kwargs.\(name)", reason: "must be a number")
            }
            out.append((name, number))
        }
        if let steps {
            guard steps >= 1 else {
                throw MetaConfigError.invalidValue(key: "eval_config", reason: "the evaluation length must be at least 1, got \(steps)")
            }
            out.removeAll { $0.name == "max_steps_in_episode" }
            out.append(("max_steps_in_episode", Double(steps)))
        }
        return out
    }

    /// Whether the search mean's evaluation in `record` meets every
    /// algorithm's target return (`meta_config.target_returns`).
    static func meetsTargets(_ record: GenerationRecord, _ targets: [String: Double]) -> Bool {
        guard !targets.isEmpty, let evaluated = record.meanAlgorithms else { return false }
        return targets.allSatisfy { name, target in
            guard let r = evaluated[name]?.finalReturn, r.isFinite else { return false }
            return Double(r) >= target
        }
    }

    /// Whether the last generation's search-mean evaluation met the
    /// config's `target_returns` (a run stops there).
    public var reachedTargets: Bool {
        state.log.last.map { Self.meetsTargets($0, config.metaConfig.targetReturns) } ?? false
    }

    static func stats(_ outcomes: [InnerLoop.Outcome]) -> AlgorithmStats {
        let ok = outcomes.filter { $0.failure == nil }
        return AlgorithmStats(finalReturn: mean(ok.map(\.meanReturn)), finalLength: mean(ok.map(\.meanLength)),
                              failedRuns: outcomes.count - ok.count)
    }

    static func mean(_ x: [Float]) -> Float { x.isEmpty ? .nan : Float(x.reduce(0.0) { $0 + Double($1) } / Double(x.count)) }

    static func std(_ x: [Float]) -> Float {
        guard !x.isEmpty else { return .nan }
        let m = Double(mean(x))
        return Float((x.reduce(0.0) { $0 + (Double($1) - m) * (Double($1) - m) } / Double(x.count)).squareRoot())
    }
}
