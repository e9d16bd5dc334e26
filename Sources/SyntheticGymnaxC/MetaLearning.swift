#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import CSyntheticGymnax
import SyntheticGymnax

// The meta-learning functions of include/synthetic_gymnax.h: sgx_metalearn,
// sgx_meta_config_algorithms, sgx_evaluate_transfer. They drive
// `MetaTrainer` and `TransferEvaluation`; the progress callback is called
// from their polls, on the calling thread.

/// `sgx_progress_fn`, as the header declares it.
public typealias ProgressFunction = sgx_progress_fn

/// What is sent as the header's `sgx_meta_progress`.
private struct ProgressReport {
    var generation: Int32 = 0, generations: Int32 = 0, phase: Int32 = 0, runsDone: Int32 = 0, runsTotal: Int32 = 0
    var bestFitness = Float.nan, populationFitness = Float.nan, populationFitnessStd = Float.nan, meanFitness = Float.nan
    var seconds = 0.0

    /// Calls `callback` with the report; true to go on.
    func send(_ callback: ProgressFunction, _ user: UnsafeMutableRawPointer?) -> Bool {
        var progress = sgx_meta_progress(
            generation: generation, generations: generations, phase: phase, runs_done: runsDone,
            runs_total: runsTotal, best_fitness: bestFitness, population_fitness: populationFitness,
            population_fitness_std: populationFitnessStd, mean_fitness: meanFitness, seconds: seconds)
        return callback(&progress, user) == 0
    }
}

private func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
private func seconds(since start: UInt64) -> Double { Double(now() - start) / 1e9 }

/// Reads and parses a config file; errors as the header documents (the
/// message names the file and the key at fault).
private func loadConfig(_ path: UnsafePointer<CChar>?) throws -> (config: MetaConfig, text: String, path: String) {
    let path = String(cString: try required(path, "config_path"))
    guard FileManager.default.fileExists(atPath: path) else { throw CError(.io, "the config \(path) does not exist") }
    let text: String
    do {
        text = try MetaConfig.text(ofFile: path)
    } catch MetaConfigError.unreadable(_, let reason) {
        throw CError(.io, "cannot read the config \(path): \(reason)")
    } catch let error as MetaConfigError {
        throw CError(.format, error.description)
    }
    do {
        return (try MetaConfig(yaml: text), text, path)
    } catch let error as MetaConfigError {
        throw CError(.format, "\(path): \(error.description)")
    }
}

/// Runs `body`, reporting a config error found past parsing (a missing
/// inner_config block, an algorithm the environment cannot use) as one of
/// the config file.
private func inConfig<T>(_ path: String, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as MetaConfigError {
        throw CError(.format, "\(path): \(error.description)")
    } catch let error as CocoaError {
        throw CError(.io, error.localizedDescription)
    }
}

/// A non-negative count argument, 0 meaning `otherwise`.
private func count(_ value: Int32, _ name: String, otherwise: Int) throws -> Int {
    guard value >= 0 else { throw CError(.invalidArgument, "\(name) must be >= 0 (0: \(name == "workers" ? "all cores" : "the config's")), got \(value)") }
    return value == 0 ? otherwise : Int(value)
}

/// The real environment of a config, with its eval_env_kwargs.
private func realEnvironment(_ config: MetaConfig, id: String) throws -> AnyEnvironment {
    var parameters: [(name: String, value: Double)] = []
    for (name, value) in config.synthEnvKwargs.evalEnvKwargs.sorted(by: { $0.key < $1.key }) {
        guard let number = value.number else {
            throw MetaConfigError.invalidValue(key: "synth_env_kwargs.eval_env_kwargs.\(name)", reason: "must be a number")
        }
        parameters.append((name, number))
    }
    return try AnyEnvironment(id: id, parameters: parameters)
}

@_cdecl("sgx_metalearn")
public func sgx_metalearn(_ configPath: UnsafePointer<CChar>?, _ outDir: UnsafePointer<CChar>?, _ generations: Int32,
                          _ workers: Int32, _ callback: ProgressFunction?, _ user: UnsafeMutableRawPointer?,
                          _ outCompleted: UnsafeMutablePointer<Int32>?) -> Int32 {
    guarded("sgx_metalearn") {
        try metalearn(configPath, outDir, generations, workers: workers, callback, user, executor: nil, outCompleted)
    }
}

@_cdecl("sgx_metalearn_with_executor")
public func sgx_metalearn_with_executor(_ configPath: UnsafePointer<CChar>?, _ outDir: UnsafePointer<CChar>?,
                                        _ generations: Int32, _ callback: ProgressFunction?,
                                        _ user: UnsafeMutableRawPointer?, _ executor: ExecutorFunction?,
                                        _ executorUser: UnsafeMutableRawPointer?,
                                        _ outCompleted: UnsafeMutablePointer<Int32>?) -> Int32 {
    guarded("sgx_metalearn_with_executor") {
        let executor = CallbackExecutor(function: try required(executor, "executor"), user: executorUser)
        try metalearn(configPath, outDir, generations, workers: 0, callback, user, executor: executor, outCompleted)
    }
}

/// sgx_metalearn and sgx_metalearn_with_executor (`executor` nil: the library's threads).
private func metalearn(_ configPath: UnsafePointer<CChar>?, _ outDir: UnsafePointer<CChar>?, _ generations: Int32,
                       workers: Int32, _ callback: ProgressFunction?, _ user: UnsafeMutableRawPointer?,
                       executor: CallbackExecutor?, _ outCompleted: UnsafeMutablePointer<Int32>?) throws {
    let directory = String(cString: try required(outDir, "out_dir"))
    let (config, text, path) = try loadConfig(configPath)
    let total = try count(generations, "generations", otherwise: config.metaConfig.numGenerations)
    let threads = try count(workers, "workers", otherwise: availableCores)
    do {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    } catch {
        throw CError(.io, "cannot create the output directory \(directory): \(error.localizedDescription)")
    }
    let trainer = try inConfig(path) {
        try MetaTrainer(config: config, configText: text, directory: directory, workers: threads, executor: executor)
    }
    // The generations complete in out_dir, also when an executor fails.
    defer { outCompleted?.pointee = Int32(trainer.completedGenerations) }
    var stopped = false
    var start = now()
    _ = try inConfig(path) {
        try trainer.run(generations: total, progress: callback.map { callback in
            { p in
                var report = ProgressReport(generation: Int32(p.generation + 1), generations: Int32(total),
                                            runsDone: Int32(p.runsDone), runsTotal: Int32(p.runsTotal))
                if let r = p.record {
                    report.phase = Int32(SGX_PHASE_GENERATION_DONE)
                    report.bestFitness = r.bestFitness
                    report.populationFitness = r.populationFitness
                    report.populationFitnessStd = r.populationFitnessStd
                    report.meanFitness = r.meanFitness ?? .nan
                    report.seconds = r.seconds
                    start = now()
                } else {
                    report.phase = Int32(p.phase == "mean" ? SGX_PHASE_MEAN : SGX_PHASE_POPULATION)
                    report.seconds = seconds(since: start)
                }
                let goOn = report.send(callback, user)
                if !goOn { stopped = true }
                return goOn
            }
        })
    }
    if executor?.stopped == true { stopped = true }
    let completed = trainer.completedGenerations
    if stopped && completed < total {
        throw CError(.stopped, "stopped by the progress callback with \(completed) of \(total) generations complete "
                     + "in \(directory) (the generation in progress was dropped); call again to resume")
    }
}

/// The algorithms of a config, after the checks MetaTrainer makes of it.
private func checkedAlgorithms(_ config: MetaConfig, path: String) throws -> [Algorithm] {
    try inConfig(path) {
        _ = try config.syntheticConfiguration()
        let real = try realEnvironment(config, id: config.realEnvironmentID)
        return try config.innerLoopAlgorithms.map { name in
            let a = try Algorithm(name: name)
            guard a.supports(real.actionSpace) else {
                throw MetaConfigError.invalidValue(key: "inner_loop_algorithm",
                                                   reason: "\(a.rawValue) cannot train on \(real.name)'s action space")
            }
            return a
        }
    }
}

@_cdecl("sgx_meta_config_algorithms")
public func sgx_meta_config_algorithms(_ configPath: UnsafePointer<CChar>?, _ outNames: UnsafeMutablePointer<CChar>?,
                                       _ size: Int32, _ outCount: UnsafeMutablePointer<Int32>?) -> Int32 {
    guarded("sgx_meta_config_algorithms") {
        let (config, _, path) = try loadConfig(configPath)
        let algorithms = try checkedAlgorithms(config, path: path)
        guard size >= 0 else { throw CError(.invalidArgument, "size must be >= 0, got \(size)") }
        let names = Array(algorithms.map(\.rawValue).joined(separator: ",").utf8CString)
        if size > 0 {
            let out = try required(outNames, "out_names")
            guard names.count <= Int(size) else {
                throw CError(.invalidArgument, "the names (\(names.count) bytes with the NUL) do not fit in size \(size)")
            }
            names.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: names.count) }
        }
        outCount?.pointee = Int32(algorithms.count)
    }
}

@_cdecl("sgx_evaluate_transfer")
public func sgx_evaluate_transfer(_ checkpointPath: UnsafePointer<CChar>?, _ configPath: UnsafePointer<CChar>?,
                                  _ algorithmList: UnsafePointer<CChar>?, _ runs: Int32, _ episodes: Int32, _ seed: Int64,
                                  _ workers: Int32, _ callback: ProgressFunction?, _ user: UnsafeMutableRawPointer?,
                                  _ outReturns: UnsafeMutablePointer<Float>?, _ returnsSize: Int32,
                                  _ outIQM: UnsafeMutablePointer<Float>?, _ iqmSize: Int32) -> Int32 {
    guarded("sgx_evaluate_transfer") {
        let threads = try count(workers, "workers", otherwise: availableCores)
        try evaluateTransfer(checkpointPath, configPath, algorithmList, runs, episodes, seed, callback, user,
                             executor: ThreadExecutor(workers: threads), outReturns, returnsSize, outIQM, iqmSize)
    }
}

@_cdecl("sgx_evaluate_transfer_with_executor")
public func sgx_evaluate_transfer_with_executor(
    _ checkpointPath: UnsafePointer<CChar>?, _ configPath: UnsafePointer<CChar>?, _ algorithmList: UnsafePointer<CChar>?,
    _ runs: Int32, _ episodes: Int32, _ seed: Int64, _ callback: ProgressFunction?, _ user: UnsafeMutableRawPointer?,
    _ executor: ExecutorFunction?, _ executorUser: UnsafeMutableRawPointer?, _ outReturns: UnsafeMutablePointer<Float>?,
    _ returnsSize: Int32, _ outIQM: UnsafeMutablePointer<Float>?, _ iqmSize: Int32
) -> Int32 {
    guarded("sgx_evaluate_transfer_with_executor") {
        let executor = CallbackExecutor(function: try required(executor, "executor"), user: executorUser)
        try evaluateTransfer(checkpointPath, configPath, algorithmList, runs, episodes, seed, callback, user,
                             executor: executor, outReturns, returnsSize, outIQM, iqmSize)
    }
}

/// The algorithms of an evaluation: the comma-separated list given, or the
/// config's inner_loop_algorithm when it is NULL.
private func protocolAlgorithms(_ algorithmList: UnsafePointer<CChar>?, config: MetaConfig,
                                path: String) throws -> [Algorithm] {
    guard let algorithmList else { return try checkedAlgorithms(config, path: path) }
    let names = String(cString: algorithmList).split(separator: ",", omittingEmptySubsequences: false)
        .map { $0.trimmingCharacters(in: .whitespaces) }
    guard !names.isEmpty, !names.contains("") else {
        throw CError(.invalidArgument, "algorithms must be comma-separated names such as \"ppo,sac\", got \"\(String(cString: algorithmList))\"")
    }
    let algorithms = try names.map { try Algorithm(name: $0) }
    if let twice = algorithms.first(where: { a in algorithms.filter { $0 == a }.count > 1 }) {
        throw CError(.invalidArgument, "algorithm '\(twice.rawValue)' is given twice")
    }
    return algorithms
}

private func checkRuns(_ runs: Int32) throws {
    guard runs >= 1 else { throw CError(.invalidArgument, "runs must be >= 1, got \(runs)") }
    guard runs <= SGX_MAX_RUNS else {
        throw CError(.invalidArgument, "runs must be in 1...\(SGX_MAX_RUNS) (SGX_MAX_RUNS), got \(runs)")
    }
}

@_cdecl("sgx_transfer_hyperparameters")
public func sgx_transfer_hyperparameters(_ configPath: UnsafePointer<CChar>?, _ algorithmList: UnsafePointer<CChar>?,
                                         _ runs: Int32, _ seed: Int64, _ outJSON: UnsafeMutablePointer<CChar>?,
                                         _ size: Int32, _ outLength: UnsafeMutablePointer<Int32>?) -> Int32 {
    guarded("sgx_transfer_hyperparameters") {
        let (config, _, path) = try loadConfig(configPath)
        let algorithms = try protocolAlgorithms(algorithmList, config: config, path: path)
        try checkRuns(runs)
        guard size >= 0 else { throw CError(.invalidArgument, "size must be >= 0, got \(size)") }
        let samples = try inConfig(path) {
            try TransferEvaluation.hyperparameters(config: config, algorithms: algorithms, runs: Int(runs), seed: seed)
        }
        var object: [String: Any] = [:]
        for (a, algorithm) in algorithms.enumerated() { object[algorithm.rawValue] = samples[a] }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        let text = Array(data) + [0]
        guard text.count <= Int(Int32.max) else { throw CError(.invalidArgument, "the hyperparameters' JSON is too large") }
        outLength?.pointee = Int32(text.count)
        if size > 0 {
            let out = try required(outJSON, "out_json")
            guard text.count <= Int(size) else {
                throw CError(.invalidArgument, "the JSON (\(text.count) bytes with the NUL) does not fit in size \(size)")
            }
            text.withUnsafeBufferPointer { buffer in
                UnsafeMutableRawPointer(out).copyMemory(from: buffer.baseAddress!, byteCount: text.count)
            }
        }
    }
}

/// sgx_evaluate_transfer and sgx_evaluate_transfer_with_executor: the
/// checkpoint's bytes and the config make the runs' context, whichever
/// executor runs them.
private func evaluateTransfer(_ checkpointPath: UnsafePointer<CChar>?, _ configPath: UnsafePointer<CChar>?,
                              _ algorithmList: UnsafePointer<CChar>?, _ runs: Int32, _ episodes: Int32, _ seed: Int64,
                              _ callback: ProgressFunction?, _ user: UnsafeMutableRawPointer?, executor: TaskExecutor,
                              _ outReturns: UnsafeMutablePointer<Float>?, _ returnsSize: Int32,
                              _ outIQM: UnsafeMutablePointer<Float>?, _ iqmSize: Int32) throws {
    let checkpoint = String(cString: try required(checkpointPath, "checkpoint_path"))
    let returns = try required(outReturns, "out_returns")
    let (config, text, path) = try loadConfig(configPath)
    let algorithms = try protocolAlgorithms(algorithmList, config: config, path: path)
    try checkRuns(runs)
    let episodeCount = try count(episodes, "episodes", otherwise: config.evalConfig.numEvalEnvs)
    guard episodeCount <= Int(SGX_MAX_VEC_ENVS) else {
        throw CError(.invalidArgument, "episodes must be in 1...\(SGX_MAX_VEC_ENVS) (SGX_MAX_VEC_ENVS), got \(episodeCount)")
    }
    let needed = algorithms.count * Int(runs)
    guard returnsSize >= 0, Int(returnsSize) >= needed else {
        throw CError(.invalidArgument, "returns_size is \(returnsSize); \(needed) floats are needed (\(algorithms.count) algorithms x \(runs) runs)")
    }
    guard iqmSize >= 0 else { throw CError(.invalidArgument, "iqm_size must be >= 0, got \(iqmSize)") }
    if iqmSize > 0 {
        _ = try required(outIQM, "out_iqm")
        guard Int(iqmSize) >= algorithms.count else {
            throw CError(.invalidArgument, "iqm_size is \(iqmSize); \(algorithms.count) floats are needed (one per algorithm)")
        }
    }

    // The checkpoint as it is checked when loaded from its path (which names it in messages).
    let synthetic = try AnyEnvironment(checkpoint: checkpoint)
    guard let env = synthetic.environment(as: SyntheticEnvironment.self) else {
        throw CError(.invalidArgument, "\(checkpoint) is not a synthetic environment")
    }
    let realID = env.configuration.environmentID
    guard realID == config.realEnvironmentID else {
        throw CError(.invalidArgument, "\(checkpoint) is a synthetic \(realID), but the config \(path) is for \(config.realEnvironmentID)")
    }
    guard let bytes = FileManager.default.contents(atPath: checkpoint) else {
        throw CError(.io, "cannot read \(checkpoint)")
    }
    let context = TaskContext(configText: text, checkpoint: bytes, checkpointName: checkpoint, episodes: episodeCount)

    let start = now()
    var stopped = false
    let results: [TransferEvaluation.Result]
    do {
        results = try inConfig(path) {
            try TransferEvaluation.run(
                context: context, algorithms: algorithms, runs: Int(runs), seed: seed, executor: executor,
                progress: callback.map { callback in
                    { done, total in
                        let report = ProgressReport(phase: Int32(SGX_PHASE_EVALUATION), runsDone: Int32(done), runsTotal: Int32(total),
                                                    seconds: seconds(since: start))
                        let goOn = report.send(callback, user)
                        if !goOn { stopped = true }
                        return goOn
                    }
                })
        }
    } catch {
        if stopped || (executor as? CallbackExecutor)?.stopped == true {
            throw CError(.stopped, "stopped by the progress callback; nothing was written")
        }
        throw error
    }
    for (a, r) in results.enumerated() {
        for (i, x) in r.returns.enumerated() { returns[a * Int(runs) + i] = x }
        if iqmSize > 0 { outIQM![a] = r.iqm }
    }
}
