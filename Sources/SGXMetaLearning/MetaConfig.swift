import SGXSupport
import SGXRandom
import SGXNN
import SGXEnvironments
import Foundation

/// A meta-training configuration in the schema of the original
/// synthetic-gymnax (`examples/metalearn_synthenv.py` and its YAML files),
/// so that a user's existing configs run unchanged:
///
/// ```yaml
/// env_name: CartPole-v1            # or brax/hopper, halfcheetah, ...
/// seed_id: 0
/// inner_loop_algorithm: [ppo, sac, dqn]    # or one name
/// inner_config:
///   ppo: {learning_rate: [0.01, 0.001], agent_kwargs: {activation: tanh}, ...}
/// eval_config: {num_eval_envs: 50, init_value: 500, end_value: 500,
///               transition_begin: 0, transition_steps: 1}
/// meta_config: {num_generations: 300, num_rollouts: 1, num_rollouts_mean: 64, mean_eval_freq: 1}
/// strategy_name: SNES
/// strategy_params: {popsize: 128, sigma_init: 0.05, temperature: 0}
/// synth_env_kwargs: {max_steps_in_episode: 1, network_kwargs: {features: [32], latent_dist: normal}}
/// ```
///
/// Parsing checks every key and type and names the key at fault.
public struct MetaConfig: Sendable, Equatable {
    /// The real environment as written (`CartPole-v1`, `brax/hopper`, `hopper`).
    public var envName: String
    public var seedID: Int
    /// The inner-loop algorithms, in the order written (a single name becomes one element).
    public var innerLoopAlgorithms: [String]
    /// Each algorithm's hyperparameters (values or lists to sample from), by algorithm.
    public var innerConfig: [String: HyperparameterSpace]
    public var evalConfig: EvalSchedule
    public var metaConfig: MetaSettings
    public var strategyName: EvolutionStrategyName
    /// evosax constructor keywords of the strategy (popsize, sigma_init, ...).
    public var strategyParams: [String: ConfigScalar]
    public var synthEnvKwargs: SynthEnvKwargs
    /// Keys of upstream configs that upstream's meta-trainer itself does not
    /// read (`pretrain_epochs`, `pretrain_num_transitions`,
    /// `pretrain_synthenv`, `log_fname`): kept, unused.
    public var unusedUpstreamKeys: [String: ConfigValue]
    /// This project's optional `init` block: the search's warm start
    /// (`WarmStartSettings`); nil starts from fresh networks as upstream.
    public var warmStart: WarmStartSettings?

    /// The inner-loop algorithms upstream knows (rejax / purerl names).
    public static let knownAlgorithms = ["ppo", "sac", "dqn", "ddpg", "td3"]
    /// Every top-level key.
    public static let topLevelKeys = [
        "env_name", "seed_id", "inner_loop_algorithm", "inner_config", "eval_config", "meta_config",
        "strategy_name", "strategy_params", "synth_env_kwargs", "init",
    ] + unusedKeys
    static let unusedKeys = ["pretrain_epochs", "pretrain_num_transitions", "pretrain_synthenv", "log_fname"]

    /// Parses a config from YAML text.
    public init(yaml: String) throws {
        try self.init(value: try ConfigValue.parse(yaml: yaml))
    }

    /// The text of a config file, its size checked against
    /// `Limits.configBytes` before it is read. Throws
    /// `MetaConfigError.unreadable` when it cannot be read, `.yaml` when it
    /// is too large.
    public static func text(ofFile path: String) throws -> String {
        let size: Int
        do {
            size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        } catch {
            let exists = FileManager.default.fileExists(atPath: path)
            throw MetaConfigError.unreadable(path: path, reason: exists ? error.localizedDescription : "no such file")
        }
        guard size <= Limits.configBytes else {
            throw MetaConfigError.yaml(message: "\(path) has \(size) bytes, more than the bound of \(Limits.configBytes) (1 MiB, SGX_MAX_CONFIG_BYTES)")
        }
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw MetaConfigError.unreadable(path: path, reason: error.localizedDescription)
        }
    }

    /// Parses a config file; errors name the file.
    public init(contentsOfFile path: String) throws {
        let text = try Self.text(ofFile: path)
        do {
            try self.init(yaml: text)
        } catch let e as MetaConfigError {
            throw MetaConfigError.inFile(path: path, e.description)
        }
    }

    /// A config from an already-parsed YAML value.
    public init(value: ConfigValue) throws {
        var root = try Fields(value, path: "")
        root.rejectUnknown(Self.topLevelKeys)
        try root.throwIfUnknown()

        envName = try root.string("env_name")
        let realID = Self.realEnvironmentID(envName)
        guard AnyEnvironment.realIDs.contains(realID) else {
            throw MetaConfigError.invalidValue(
                key: "env_name", reason: "unknown environment '\(envName)'; known: \(AnyEnvironment.realIDs.joined(separator: ", "))")
        }
        seedID = try root.optionalInt("seed_id", max: 999_999_999_999_999) ?? 0

        // inner_loop_algorithm: a name or a list of names.
        switch try root.required("inner_loop_algorithm") {
        case let .scalar(s) where s.kind == .string:
            innerLoopAlgorithms = [s.text]
        case let .list(items) where !items.isEmpty:
            innerLoopAlgorithms = try items.enumerated().map { i, item in
                guard case let .scalar(s) = item, s.kind == .string else {
                    throw MetaConfigError.wrongType(key: "inner_loop_algorithm[\(i)]", expected: "an algorithm name",
                                                    found: item.kindDescription)
                }
                return s.text
            }
        case let other:
            throw MetaConfigError.wrongType(key: "inner_loop_algorithm", expected: "an algorithm name or a non-empty list of them",
                                            found: other.kindDescription)
        }
        for (i, algo) in innerLoopAlgorithms.enumerated() where !Self.knownAlgorithms.contains(algo) {
            let key = innerLoopAlgorithms.count == 1 ? "inner_loop_algorithm" : "inner_loop_algorithm[\(i)]"
            throw MetaConfigError.unknownAlgorithm(key: key, name: algo, known: Self.knownAlgorithms)
        }
        for (i, algo) in innerLoopAlgorithms.enumerated() where innerLoopAlgorithms[..<i].contains(algo) {
            throw MetaConfigError.invalidValue(key: "inner_loop_algorithm[\(i)]", reason: "'\(algo)' is given twice")
        }

        // inner_config: one mapping per algorithm.
        let inner = try Fields(try root.required("inner_config"), path: "inner_config")
        var spaces: [String: HyperparameterSpace] = [:]
        for entry in inner.entries {
            guard Self.knownAlgorithms.contains(entry.key) else {
                throw MetaConfigError.unknownAlgorithm(key: "inner_config.\(entry.key)", name: entry.key,
                                                       known: Self.knownAlgorithms)
            }
            spaces[entry.key] = try HyperparameterSpace(entry.value, path: "inner_config.\(entry.key)")
        }
        for algo in innerLoopAlgorithms where spaces[algo] == nil {
            throw MetaConfigError.missingKey(key: "inner_config.\(algo)")
        }
        innerConfig = spaces

        evalConfig = try EvalSchedule(try root.required("eval_config"))
        metaConfig = try MetaSettings(try root.required("meta_config"))
        for name in metaConfig.targetReturns.keys.sorted() where !innerLoopAlgorithms.contains(name) {
            throw MetaConfigError.invalidValue(key: "meta_config.target_returns.\(name)",
                                               reason: "\(name) is not an inner-loop algorithm, so the search mean is never evaluated with it")
        }

        let name = try root.string("strategy_name")
        guard let strategy = EvolutionStrategyName(rawValue: name) else {
            throw MetaConfigError.unknownStrategy(key: "strategy_name", name: name,
                                                  known: EvolutionStrategyName.allCases.map(\.rawValue))
        }
        strategyName = strategy
        var params: [String: ConfigScalar] = [:]
        if let p = root.optional("strategy_params") {
            for entry in try Fields(p, path: "strategy_params").entries {
                guard case let .scalar(s) = entry.value else {
                    throw MetaConfigError.wrongType(key: "strategy_params.\(entry.key)", expected: "a scalar",
                                                    found: entry.value.kindDescription)
                }
                params[entry.key] = s
            }
        }
        strategyParams = params
        synthEnvKwargs = try SynthEnvKwargs(root.optional("synth_env_kwargs"))
        var unused: [String: ConfigValue] = [:]
        for key in Self.unusedKeys { if let v = root.optional(key) { unused[key] = v } }
        unusedUpstreamKeys = unused
        warmStart = try root.optional("init").map { try WarmStartSettings($0) }

        // The strategy's keywords are checked now, so that a typo fails at load time.
        do {
            switch strategyName {
            case .snes: _ = try SNES.Options(numDims: 1, keywords: strategyParams, maximize: true)
            case .openES: _ = try OpenES.Options(numDims: 2, keywords: strategyParams, maximize: true)
            }
        } catch let e as EvolutionStrategyError {
            if case let .invalidOption(name, reason) = e, name.hasPrefix("strategy_params.") {
                throw MetaConfigError.invalidValue(key: name, reason: reason)
            }
            if case let .invalidOption(name, reason) = e {
                throw MetaConfigError.invalidValue(key: "strategy_params.\(name)", reason: reason)
            }
            throw MetaConfigError.invalidValue(key: "strategy_params", reason: e.description)
        }
    }

    /// "brax/hopper" -> "hopper"; gymnax ids unchanged.
    public static func realEnvironmentID(_ envName: String) -> String {
        envName.hasPrefix("brax/") ? String(envName.dropFirst(5)) : envName
    }

    /// The real environment's id in this project (`hopper`, `CartPole-v1`).
    public var realEnvironmentID: String { Self.realEnvironmentID(envName) }

    /// Upstream's first split of `PRNGKey(seed_id)`: `rng, rng_init =
    /// split(rng)`; `strategy` initialises the ES, `loop` is split on each
    /// generation (`rng, rng_ask, rng_eval = split(rng, 3)`).
    public var initialKeys: (loop: PRNGKey, strategy: PRNGKey) {
        let (loop, strategy) = PRNGKey(seed: Int64(seedID)).split()
        return (loop, strategy)
    }

    /// The key of the warm start (`init`): `fold_in(PRNGKey(seed_id), 1)`,
    /// apart from upstream's keys.
    public var warmStartKey: PRNGKey { PRNGKey(seed: Int64(seedID)).foldIn(1) }

    /// The algorithm trained in generation `generation` (0-based): upstream's
    /// `get_algos` takes the algorithms of `inner_loop_algorithm` in turn,
    /// one per generation.
    public func algorithm(forGeneration generation: Int) -> String {
        innerLoopAlgorithms[generation % innerLoopAlgorithms.count]
    }

    /// Whether the search mean is evaluated after generation `generation`
    /// (0-based): every `mean_eval_freq` generations and after the last.
    public func evaluatesMean(afterGeneration generation: Int) -> Bool {
        generation % metaConfig.meanEvalFreq == 0 || generation + 1 == metaConfig.numGenerations
    }

    /// The synthetic environment's network configuration.
    public func syntheticConfiguration() throws -> SyntheticEnvironment.Configuration {
        try SyntheticEnvironment.Configuration(
            environmentID: realEnvironmentID, features: synthEnvKwargs.features,
            activation: synthEnvKwargs.activation, latentDistribution: synthEnvKwargs.latentDistribution,
            latentSize: synthEnvKwargs.latentSize, maxStepsInEpisode: synthEnvKwargs.maxStepsInEpisode)
    }

    /// The configured strategy over `numDims` parameters, maximising (as
    /// upstream), initialised with `key` (upstream: `split(PRNGKey(seed_id))[1]`).
    public func makeStrategy(numDims: Int, key: PRNGKey) throws -> AnyEvolutionStrategy {
        try AnyEvolutionStrategy(name: strategyName.rawValue, numDims: numDims, parameters: strategyParams,
                                 maximize: true, key: key)
    }
}

/// `meta_config`: the outer loop's lengths.
public struct MetaSettings: Sendable, Equatable {
    public var numGenerations: Int
    /// Inner-loop runs per population member and algorithm (their mean return is the fitness).
    public var numRollouts: Int
    /// Runs per algorithm when the search mean is evaluated.
    public var numRolloutsMean: Int
    /// The mean is evaluated every this many generations (and after the last).
    public var meanEvalFreq: Int
    /// Written by some upstream configs ("sequential"); upstream's loop always
    /// alternates algorithms one per generation whatever it says.
    public var multiAlgoMode: String?
    /// This project's: successive halving. With num_rollouts > 1, every
    /// member runs one rollout, and only the best `halving_keep` share of
    /// them (rounded up) the others; a member cut after one rollout has
    /// that rollout's return as its fitness. nil: every member runs all.
    public var halvingKeep: Double?
    /// This project's: the run stops after a search-mean evaluation in which
    /// every named algorithm's mean return is at least its target.
    public var targetReturns: [String: Double] = [:]

    public static let keys = ["num_generations", "num_rollouts", "num_rollouts_mean", "mean_eval_freq", "multi_algo_mode",
                              "halving_keep", "target_returns"]

    public init(numGenerations: Int, numRollouts: Int = 1, numRolloutsMean: Int = 1, meanEvalFreq: Int = 1,
                multiAlgoMode: String? = nil) {
        (self.numGenerations, self.numRollouts, self.numRolloutsMean) = (numGenerations, numRollouts, numRolloutsMean)
        (self.meanEvalFreq, self.multiAlgoMode) = (meanEvalFreq, multiAlgoMode)
    }

    init(_ value: ConfigValue) throws {
        var f = try Fields(value, path: "meta_config")
        f.rejectUnknown(Self.keys)
        try f.throwIfUnknown()
        numGenerations = try f.int("num_generations", min: 1)
        numRollouts = try f.optionalInt("num_rollouts", min: 1, max: Limits.rollouts) ?? 1
        numRolloutsMean = try f.optionalInt("num_rollouts_mean", min: 1, max: Limits.rollouts) ?? 1
        meanEvalFreq = try f.optionalInt("mean_eval_freq", min: 1) ?? 1
        multiAlgoMode = try f.optionalString("multi_algo_mode")
        if let keep = try f.optionalNumber("halving_keep") {
            guard keep > 0, keep < 1 else {
                throw MetaConfigError.invalidValue(key: "meta_config.halving_keep", reason: "must be in (0, 1), got \(keep)")
            }
            halvingKeep = keep
        }
        if let t = f.optional("target_returns") {
            for entry in try Fields(t, path: "meta_config.target_returns").entries {
                let key = "meta_config.target_returns.\(entry.key)"
                guard MetaConfig.knownAlgorithms.contains(entry.key) else {
                    throw MetaConfigError.unknownAlgorithm(key: key, name: entry.key, known: MetaConfig.knownAlgorithms)
                }
                targetReturns[entry.key] = try Fields.number(entry.value, key: key)
            }
        }
    }
}

/// `synth_env_kwargs`: upstream `SynthEnv(env_name, **synth_env_kwargs)`.
public struct SynthEnvKwargs: Sendable, Equatable {
    public var maxStepsInEpisode: Int = 1
    /// Hidden layer sizes of every network (`network_kwargs.features`).
    public var features: [Int] = [32]
    /// `network_kwargs.activation` (upstream's default, relu).
    public var activation: Activation = .relu
    public var latentDistribution: SyntheticEnvironment.LatentDistribution = .normal
    /// nil: the observation size (upstream's default).
    public var latentSize: Int? = nil
    /// `eval_env_kwargs`: parameters of the real environment, by name.
    public var evalEnvKwargs: [String: ConfigScalar] = [:]

    static let keys = ["max_steps_in_episode", "network_kwargs", "eval_env_kwargs"]
    static let networkKeys = ["features", "activation", "latent_dist", "latent_size"]

    init(_ value: ConfigValue?) throws {
        guard let value else { return }
        var f = try Fields(value, path: "synth_env_kwargs")
        f.rejectUnknown(Self.keys)
        try f.throwIfUnknown()
        maxStepsInEpisode = try f.optionalInt("max_steps_in_episode", min: 1) ?? 1
        if let n = f.optional("network_kwargs") {
            var net = try Fields(n, path: "synth_env_kwargs.network_kwargs")
            net.rejectUnknown(Self.networkKeys)
            try net.throwIfUnknown()
            if let v = net.optional("features") {
                let key = "synth_env_kwargs.network_kwargs.features"
                guard case let .list(items) = v, !items.isEmpty else {
                    throw MetaConfigError.wrongType(key: key, expected: "a non-empty list of layer sizes", found: v.kindDescription)
                }
                guard items.count <= Limits.layers else {
                    throw MetaConfigError.invalidValue(key: key, reason: "\(items.count) layers exceed the bound of \(Limits.layers)")
                }
                features = try items.enumerated().map {
                    try Fields.integer($1, key: "\(key)[\($0)]", min: 1, max: Limits.layerWidth)
                }
            }
            if let name = try net.optionalString("activation") {
                guard let a = Activation(rawValue: name) else {
                    throw MetaConfigError.invalidValue(
                        key: "synth_env_kwargs.network_kwargs.activation",
                        reason: "unknown activation '\(name)'; known: \(Activation.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                activation = a
            }
            if let name = try net.optionalString("latent_dist") {
                guard let d = SyntheticEnvironment.LatentDistribution(rawValue: name) else {
                    throw MetaConfigError.invalidValue(
                        key: "synth_env_kwargs.network_kwargs.latent_dist",
                        reason: "unknown latent distribution '\(name)'; known: \(SyntheticEnvironment.LatentDistribution.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                latentDistribution = d
            }
            if let v = net.optional("latent_size") {
                let key = "synth_env_kwargs.network_kwargs.latent_size"
                // upstream: an int or a one-element tuple
                if case let .list(items) = v {
                    guard items.count == 1 else {
                        throw MetaConfigError.wrongType(key: key, expected: "a size or a one-element list", found: v.kindDescription)
                    }
                    latentSize = try Fields.integer(items[0], key: "\(key)[0]", min: 1, max: Limits.layerWidth)
                } else {
                    latentSize = try Fields.integer(v, key: key, min: 1, max: Limits.layerWidth)
                }
            }
        }
        if let e = f.optional("eval_env_kwargs") {
            for entry in try Fields(e, path: "synth_env_kwargs.eval_env_kwargs").entries {
                guard case let .scalar(s) = entry.value else {
                    throw MetaConfigError.wrongType(key: "synth_env_kwargs.eval_env_kwargs.\(entry.key)",
                                                    expected: "a scalar", found: entry.value.kindDescription)
                }
                evalEnvKwargs[entry.key] = s
            }
        }
    }
}

/// What is wrong with a config; every case names the key (dotted path).
public enum MetaConfigError: Error, Equatable, CustomStringConvertible {
    case yaml(message: String)
    case unreadable(path: String, reason: String)
    case unknownKey(key: String, known: [String])
    case missingKey(key: String)
    case wrongType(key: String, expected: String, found: String)
    case invalidValue(key: String, reason: String)
    case unknownAlgorithm(key: String, name: String, known: [String])
    case unknownStrategy(key: String, name: String, known: [String])
    /// Another error, in the named file.
    case inFile(path: String, String)

    /// The key at fault, if any.
    public var key: String? {
        switch self {
        case .yaml, .unreadable, .inFile: return nil
        case let .unknownKey(k, _), let .missingKey(k), let .wrongType(k, _, _), let .invalidValue(k, _),
             let .unknownAlgorithm(k, _, _), let .unknownStrategy(k, _, _):
            return k
        }
    }

    public var description: String {
        switch self {
        case let .yaml(message): return "invalid YAML: \(message)"
        case let .unreadable(path, reason): return "cannot read \(path): \(reason)"
        case let .unknownKey(key, known): return "unknown key \(key); known here: \(known.joined(separator: ", "))"
        case let .missingKey(key): return "missing key \(key)"
        case let .wrongType(key, expected, found): return "\(key) must be \(expected), found \(found)"
        case let .invalidValue(key, reason): return "\(key): \(reason)"
        case let .unknownAlgorithm(key, name, known):
            return "\(key): unknown algorithm '\(name)'; known: \(known.joined(separator: ", "))"
        case let .unknownStrategy(key, name, known):
            return "\(key): unknown strategy '\(name)'; known: \(known.joined(separator: ", "))"
        case let .inFile(path, message): return "\(path): \(message)"
        }
    }
}

/// Typed access to one mapping of a config, with errors naming the key.
struct Fields {
    let entries: [ConfigEntry]
    let path: String
    private var unknown: String?
    private var known: [String] = []

    init(_ value: ConfigValue, path: String) throws {
        guard case let .mapping(entries) = value else {
            throw MetaConfigError.wrongType(key: path.isEmpty ? "the config" : path, expected: "a mapping",
                                            found: value.kindDescription)
        }
        (self.entries, self.path) = (entries, path)
    }

    func key(_ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }

    mutating func rejectUnknown(_ known: [String]) {
        self.known = known
        unknown = entries.first { !known.contains($0.key) }?.key
    }

    func throwIfUnknown() throws {
        if let u = unknown { throw MetaConfigError.unknownKey(key: key(u), known: known) }
    }

    func optional(_ name: String) -> ConfigValue? {
        entries.first { $0.key == name }?.value
    }

    func required(_ name: String) throws -> ConfigValue {
        guard let v = optional(name) else { throw MetaConfigError.missingKey(key: key(name)) }
        return v
    }

    func string(_ name: String) throws -> String {
        guard let s = try optionalString(name) else { throw MetaConfigError.missingKey(key: key(name)) }
        return s
    }

    func optionalString(_ name: String) throws -> String? {
        guard let v = optional(name) else { return nil }
        guard case let .scalar(s) = v, s.kind == .string else {
            throw MetaConfigError.wrongType(key: key(name), expected: "a string", found: v.kindDescription)
        }
        return s.text
    }

    static func number(_ v: ConfigValue, key: String) throws -> Double {
        guard case let .scalar(s) = v, let d = s.number, d.isFinite else {
            throw MetaConfigError.wrongType(key: key, expected: "a number", found: v.kindDescription)
        }
        return d
    }

    /// An integer; integral floats ("300.0") are accepted, as Python's range() would not be.
    /// At most `max`: by default 2^31 - 1, as every count the library reports is an int32.
    static func integer(_ v: ConfigValue, key: String, min: Int? = nil, max: Int = Limits.int32) throws -> Int {
        guard case let .scalar(s) = v, let d = s.number, d.isFinite, d == d.rounded(), abs(d) < 1e15 else {
            throw MetaConfigError.wrongType(key: key, expected: "an integer", found: v.kindDescription)
        }
        let i = Int(d)
        if let min, i < min { throw MetaConfigError.invalidValue(key: key, reason: "must be at least \(min), got \(i)") }
        if i > max { throw MetaConfigError.invalidValue(key: key, reason: "must be at most \(max), got \(i)") }
        return i
    }

    func int(_ name: String, min: Int? = nil, max: Int = Limits.int32) throws -> Int {
        try Self.integer(try required(name), key: key(name), min: min, max: max)
    }

    func optionalInt(_ name: String, min: Int? = nil, max: Int = Limits.int32) throws -> Int? {
        guard let v = optional(name) else { return nil }
        return try Self.integer(v, key: key(name), min: min, max: max)
    }

    func optionalNumber(_ name: String) throws -> Double? {
        guard let v = optional(name) else { return nil }
        return try Self.number(v, key: key(name))
    }
}
