import Foundation

// What the agents share: errors, the trained `Policy` (acting, evaluation,
// saving), a batch of environments stepped with JAX keys, running
// observation statistics, and the action distributions' sampling.

/// A bad hyperparameter, environment or policy file, named in the message.
public enum AgentError: Error, Equatable, CustomStringConvertible {
    case unknownHyperparameter(name: String, algorithm: String, known: [String])
    case invalidHyperparameter(name: String, reason: String)
    case unsupportedEnvironment(String)
    case invalidPolicy(path: String, problem: String)

    public var description: String {
        switch self {
        case .unknownHyperparameter(let name, let algorithm, let known):
            return "\(algorithm) has no hyperparameter '\(name)'; its hyperparameters: \(known.joined(separator: ", "))"
        case .invalidHyperparameter(let name, let reason):
            return "invalid hyperparameter '\(name)': \(reason)"
        case .unsupportedEnvironment(let reason):
            return reason
        case .invalidPolicy(let path, let problem):
            return "\(path): not a policy file of this project: \(problem)"
        }
    }
}

/// rejax's `RMSState` / `update_rms`: running mean and variance of
/// observations (Chan et al.'s parallel update), starting at mean 0,
/// variance 1, count 1e-4; observations are normalised as
/// (x − mean) / √(var + 1e-8).
public struct RunningMeanStd: Sendable, Equatable {
    public var mean: [Float]
    public var variance: [Float]
    public var count: Float = 1e-4

    public init(size: Int) {
        mean = [Float](repeating: 0, count: size)
        variance = [Float](repeating: 1, count: size)
    }

    public init(mean: [Float], variance: [Float], count: Float) {
        (self.mean, self.variance, self.count) = (mean, variance, count)
    }

    /// Adds a batch of `rows` vectors (`rows × mean.count`).
    public mutating func update(rows: Int, _ x: UnsafePointer<Float>) {
        let size = mean.count, n = Float(rows)
        let total = count + n
        for j in 0..<size {
            var s: Float = 0
            for r in 0..<rows { s += x[r * size + j] }
            let batchMean = s / n
            var sq: Float = 0
            for r in 0..<rows { let d = x[r * size + j] - batchMean; sq += d * d }
            let batchVar = sq / n
            let delta = batchMean - mean[j]
            let m2 = variance[j] * count + batchVar * n + delta * delta * count * n / total
            mean[j] += delta * n / total
            variance[j] = m2 / total
        }
        count = total
    }

    /// Normalises `rows` vectors in place.
    public func normalize(rows: Int, _ x: UnsafeMutablePointer<Float>) {
        let size = mean.count
        for j in 0..<size {
            let m = mean[j], scale = 1 / (variance[j] + 1e-8).squareRoot()
            for r in 0..<rows { x[r * size + j] = (x[r * size + j] - m) * scale }
        }
    }
}

/// A trained policy: the actor network's weights and what turns its output
/// into actions. A value: save it, load it, act with it, evaluate it.
public struct Policy: Sendable, Equatable {
    /// How the network's output becomes an action.
    public enum Head: String, Sendable {
        /// Logits of a categorical distribution (discrete actions); the
        /// deterministic action is the argmax.
        case categorical
        /// Means of a diagonal Gaussian with state-independent log standard
        /// deviations (the last `actionSize` parameters), as rejax's
        /// `GaussianPolicy`; actions are clipped to the box; the
        /// deterministic action is the (clipped) mean.
        case gaussian
    }

    public var algorithm: String
    /// The environment it was trained on.
    public var environmentID: String
    public var shape: NetworkShape
    /// The network's flat parameters, then the head's (Gaussian log-stds).
    public var parameters: [Float]
    public var head: Head
    public var actionSpace: ActionSpace
    /// Observation statistics the inputs are normalised with, if any.
    public var observationNormalization: RunningMeanStd?
    /// Free-form notes kept in saved files (hyperparameters, seed, ...).
    public var notes: [String: String]

    public init(algorithm: String, environmentID: String, shape: NetworkShape, parameters: [Float], head: Head,
                actionSpace: ActionSpace, observationNormalization: RunningMeanStd? = nil, notes: [String: String] = [:]) {
        precondition(parameters.count == shape.parameterCount + (head == .gaussian ? shape.outputSize : 0),
                     "parameters do not fit the network shape and head")
        (self.algorithm, self.environmentID, self.shape, self.parameters, self.head, self.actionSpace) =
            (algorithm, environmentID, shape, parameters, head, actionSpace)
        self.observationNormalization = observationNormalization
        self.notes = notes
    }

    /// Floats per action given to the environment (1 for a discrete action).
    public var actionSize: Int { actionSpace.size }

    /// A runner that acts on batches with reused buffers.
    func makeActor() -> PolicyActor { PolicyActor(self) }

    /// Actions for `observations` (rows × observation size): discrete ones as
    /// their index. Stochastic actions are sampled as rejax's networks do,
    /// with one key for the whole batch (`jax.random.categorical` /
    /// `loc + scale · normal` over the batch's elements).
    public func act(_ observations: [Float], deterministic: Bool, key: PRNGKey) -> [Float] {
        precondition(observations.count % shape.inputSize == 0, "observations must be rows of \(shape.inputSize)")
        let rows = observations.count / shape.inputSize
        var actions = [Float](repeating: 0, count: rows * actionSize)
        let actor = makeActor()
        observations.withUnsafeBufferPointer { o in
            actions.withUnsafeMutableBufferPointer { a in
                actor.act(rows: rows, o.baseAddress!, into: a.baseAddress!, deterministic: deterministic,
                          sample: { r, j in (key, r * actor.outputSize + j) })
            }
        }
        return actions
    }

    /// Returns of `episodes` episodes on `env`, as rejax's `evaluate`: keys
    /// `split(PRNGKey(seed), episodes)`; each episode splits its key into
    /// (reset, rng), resets, and steps with (rng, act, step) =
    /// `split(rng, 3)` until it is done or reaches the environment's step
    /// limit. All episodes run together in one batch (finished ones leave it).
    /// Deterministic actions by default; `deterministic: false` samples, as
    /// rejax's own evaluation does.
    public func evaluate(on env: AnyEnvironment, episodes: Int, seed: Int64 = 0, deterministic: Bool = true) -> [Float] {
        precondition(episodes >= 1)
        precondition(env.observationSize == shape.inputSize && env.actionSpace.numActions == shape.outputSize,
                     "the policy does not fit \(env.name)")
        let actor = makeActor()
        let batch = EnvironmentBatch(env, count: episodes)
        let root = PRNGKey(seed: seed)
        var rng = [PRNGKey](), slotEpisode = Array(0..<episodes)
        var resetKeys = [UInt32](repeating: 0, count: 2 * episodes)
        for e in 0..<episodes {
            let (resetKey, evalKey) = root.split(index: e).split()
            (resetKeys[2 * e], resetKeys[2 * e + 1]) = (resetKey.k0, resetKey.k1)
            rng.append(evalKey)
        }
        batch.reset(keys: resetKeys)
        var returns = [Float](repeating: 0, count: episodes)
        var lengths = [Int32](repeating: 0, count: episodes)
        var actKeys = [PRNGKey](repeating: PRNGKey(0, 0), count: episodes)
        var actions = [Float](repeating: 0, count: episodes * actionSize)
        let maxSteps = env.maxStepsInEpisode
        var active = episodes
        while active > 0 {
            for s in 0..<active {
                let key = rng[slotEpisode[s]]
                rng[slotEpisode[s]] = key.split(index: 0)
                actKeys[s] = key.split(index: 1)
                let stepKey = key.split(index: 2)
                (batch.keys[2 * s], batch.keys[2 * s + 1]) = (stepKey.k0, stepKey.k1)
            }
            actions.withUnsafeMutableBufferPointer { a in
                actor.act(rows: active, batch.observations, into: a.baseAddress!, deterministic: deterministic,
                          sample: { r, j in (actKeys[r], j) })
            }
            batch.step(count: active, actions: actions)
            // Finished episodes leave the batch; the others move down.
            var kept = 0
            for s in 0..<active {
                let e = slotEpisode[s]
                returns[e] += batch.rewards[s]
                lengths[e] += 1
                if batch.dones[s] == 0 && lengths[e] < maxSteps {
                    if kept != s { batch.moveSlot(s, to: kept) }
                    slotEpisode[kept] = e
                    kept += 1
                }
            }
            active = kept
        }
        return returns
    }

    // MARK: Files

    static let formatName = "synthetic-gymnax-swift policy 1"

    /// Tensor names follow rejax's Flax parameter tree: `features.Dense_i`
    /// for hidden layers, then `action_logits` (categorical) or
    /// `action_mean` and `action_log_std` (Gaussian).
    var tensors: [String: Safetensors.Tensor] {
        var out: [String: Safetensors.Tensor] = [:]
        for l in 0..<shape.layerCount {
            let name = l == shape.layerCount - 1 ? (head == .categorical ? "action_logits" : "action_mean") : "features.Dense_\(l)"
            let (n, m) = (shape.sizes[l], shape.sizes[l + 1])
            let k = shape.kernelOffset(l), b = shape.biasOffset(l)
            out[name + ".kernel"] = .init(shape: [n, m], values: Array(parameters[k..<(k + n * m)]))
            out[name + ".bias"] = .init(shape: [m], values: Array(parameters[b..<(b + m)]))
        }
        if head == .gaussian {
            out["action_log_std"] = .init(shape: [shape.outputSize], values: Array(parameters[shape.parameterCount...]))
        }
        if case .box(let box) = actionSpace {
            out["action_space.low"] = .init(shape: [box.size], values: box.low)
            out["action_space.high"] = .init(shape: [box.size], values: box.high)
        }
        if let rms = observationNormalization {
            out["obs_rms.mean"] = .init(shape: [rms.mean.count], values: rms.mean)
            out["obs_rms.var"] = .init(shape: [rms.variance.count], values: rms.variance)
            out["obs_rms.count"] = .init(shape: [], values: [rms.count])
        }
        return out
    }

    /// Saves the policy as safetensors with metadata: format, algorithm,
    /// env_id, activation, sizes, head, action space, and the notes.
    public func save(to path: String) throws {
        var metadata = notes
        metadata["format"] = Self.formatName
        metadata["algorithm"] = algorithm
        metadata["env_id"] = environmentID
        metadata["activation"] = shape.activation.rawValue
        metadata["sizes"] = shape.sizes.map(String.init).joined(separator: ",")
        metadata["hidden_layer_sizes"] = shape.sizes.dropFirst().dropLast().map(String.init).joined(separator: ",")
        metadata["head"] = head.rawValue
        switch actionSpace {
        case .discrete(let n): metadata["action_space"] = "discrete(\(n))"
        case .box(let box): metadata["action_space"] = "box(\(box.size))"
        }
        try Safetensors.write(path: path, tensors: tensors, metadata: metadata)
    }

    /// Loads a policy written by `save`.
    public init(contentsOf path: String) throws {
        let (tensors, metadata) = try Safetensors.read(path: path)
        func fail(_ problem: String) -> AgentError { .invalidPolicy(path: path, problem: problem) }
        guard metadata["format"] == Self.formatName else {
            throw fail("metadata 'format' is \(metadata["format"].map { "'\($0)'" } ?? "missing"), expected '\(Self.formatName)'")
        }
        func field(_ name: String) throws -> String {
            guard let v = metadata[name] else { throw fail("metadata lacks '\(name)'") }
            return v
        }
        guard let activation = Activation(rawValue: try field("activation")) else {
            throw fail("unknown activation '\(metadata["activation"]!)'")
        }
        let sizes = try field("sizes").split(separator: ",").map { Int($0) ?? 0 }
        guard sizes.count >= 2, sizes.allSatisfy({ $0 >= 1 }) else { throw fail("bad sizes '\(metadata["sizes"]!)'") }
        guard let head = Head(rawValue: try field("head")) else { throw fail("unknown head '\(metadata["head"]!)'") }
        let shape = NetworkShape(sizes: sizes, activation: activation)
        func tensor(_ name: String, _ expected: [Int]) throws -> [Float] {
            guard let t = tensors[name] else { throw fail("no tensor '\(name)'") }
            guard t.shape == expected else { throw fail("tensor '\(name)' has shape \(t.shape), expected \(expected)") }
            return t.values
        }
        var parameters: [Float] = []
        for l in 0..<shape.layerCount {
            let name = l == shape.layerCount - 1 ? (head == .categorical ? "action_logits" : "action_mean") : "features.Dense_\(l)"
            parameters += try tensor(name + ".kernel", [sizes[l], sizes[l + 1]])
            parameters += try tensor(name + ".bias", [sizes[l + 1]])
        }
        let actionSpace: ActionSpace
        switch head {
        case .categorical:
            actionSpace = .discrete(shape.outputSize)
        case .gaussian:
            parameters += try tensor("action_log_std", [shape.outputSize])
            actionSpace = .box(BoxSpace(low: try tensor("action_space.low", [shape.outputSize]),
                                        high: try tensor("action_space.high", [shape.outputSize])))
        }
        var rms: RunningMeanStd?
        if tensors["obs_rms.mean"] != nil {
            rms = RunningMeanStd(mean: try tensor("obs_rms.mean", [sizes[0]]), variance: try tensor("obs_rms.var", [sizes[0]]),
                                 count: try tensor("obs_rms.count", [])[0])
        }
        var notes = metadata
        for key in ["format", "algorithm", "env_id", "activation", "sizes", "hidden_layer_sizes", "head", "action_space"] {
            notes[key] = nil
        }
        self.init(algorithm: try field("algorithm"), environmentID: try field("env_id"), shape: shape,
                  parameters: parameters, head: head, actionSpace: actionSpace, observationNormalization: rms, notes: notes)
    }
}

/// A policy's network with buffers, acting on batches.
final class PolicyActor {
    let policy: Policy
    let network: DenseNetwork
    let outputSize: Int
    private var inputs: [Float] = []
    private var outputs: [Float] = []

    init(_ policy: Policy) {
        self.policy = policy
        network = DenseNetwork(shape: policy.shape, parameters: policy.parameters,
                               extraCount: policy.head == .gaussian ? policy.shape.outputSize : 0)
        outputSize = policy.shape.outputSize
    }

    /// Actions for `rows` observations. `sample(r, j)` gives the key and
    /// element index of row r's j-th random number.
    func act(rows: Int, _ observations: UnsafePointer<Float>, into actions: UnsafeMutablePointer<Float>,
             deterministic: Bool, sample: (Int, Int) -> (PRNGKey, Int)) {
        let inputSize = policy.shape.inputSize
        if inputs.count < rows * inputSize { inputs = [Float](repeating: 0, count: rows * inputSize) }
        if outputs.count < rows * outputSize { outputs = [Float](repeating: 0, count: rows * outputSize) }
        inputs.withUnsafeMutableBufferPointer { x in
            x.baseAddress!.update(from: observations, count: rows * inputSize)
            policy.observationNormalization?.normalize(rows: rows, x.baseAddress!)
            outputs.withUnsafeMutableBufferPointer { y in
                network.forward(rows: rows, input: x.baseAddress!, output: y.baseAddress!)
                switch policy.head {
                case .categorical:
                    ActionSampling.categorical(rows: rows, actions: outputSize, logits: y.baseAddress!, into: actions,
                                               logProbs: nil, greedy: deterministic, sample: sample)
                case .gaussian:
                    ActionSampling.gaussian(rows: rows, size: outputSize, means: y.baseAddress!,
                                            logStd: network.extraPointer, into: actions, logProbs: nil,
                                            deterministic: deterministic, sample: sample)
                    if case .box(let box) = policy.actionSpace {
                        ActionSampling.clip(rows: rows, actions, low: box.low, high: box.high)
                    }
                }
            }
        }
    }
}

/// Sampling and log-probabilities of rejax's action distributions
/// (distrax `Categorical` and `MultivariateNormalDiag`).
enum ActionSampling {
    static let halfLogTwoPi: Float = 0.5 * logf(2 * .pi)

    /// Categorical actions from logits (rows × n): `argmax(logits + gumbel)`
    /// with gumbel = −log(−log(u)), u uniform in [tiny, 1) as
    /// `jax.random.categorical`; the argmax of the logits when greedy.
    /// Writes log π(a) when `logProbs` is given.
    static func categorical(rows: Int, actions n: Int, logits: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
                            logProbs: UnsafeMutablePointer<Float>?, greedy: Bool,
                            sample: (Int, Int) -> (PRNGKey, Int)) {
        for r in 0..<rows {
            let z = logits + r * n
            var best = 0, bestValue = -Float.infinity
            for j in 0..<n {
                var value = z[j]
                if !greedy {
                    let (key, index) = sample(r, j)
                    let u = key.uniform(at: index, minval: .leastNormalMagnitude, maxval: 1)
                    value += -logf(-logf(u))
                }
                if value > bestValue { (best, bestValue) = (j, value) }
            }
            out[r] = Float(best)
            if let logProbs { logProbs[r] = z[best] - logSumExp(z, n) }
        }
    }

    /// log Σ exp(z), stably.
    @inline(__always)
    static func logSumExp(_ z: UnsafePointer<Float>, _ n: Int) -> Float {
        var m = -Float.infinity
        for j in 0..<n { m = Swift.max(m, z[j]) }
        var s: Float = 0
        for j in 0..<n { s += expf(z[j] - m) }
        return m + logf(s)
    }

    /// Gaussian actions mean + exp(logStd)·ε, ε = normal(key) element-wise
    /// (rows × size); the mean when deterministic. Unclipped.
    static func gaussian(rows: Int, size: Int, means: UnsafePointer<Float>, logStd: UnsafePointer<Float>,
                         into out: UnsafeMutablePointer<Float>, logProbs: UnsafeMutablePointer<Float>?,
                         deterministic: Bool, sample: (Int, Int) -> (PRNGKey, Int)) {
        for r in 0..<rows {
            var logp: Float = 0
            for j in 0..<size {
                let i = r * size + j
                if deterministic {
                    out[i] = means[i]
                } else {
                    let (key, index) = sample(r, j)
                    let eps = key.normal(at: index)
                    out[i] = means[i] + expf(logStd[j]) * eps
                }
                let z = (out[i] - means[i]) / expf(logStd[j])
                logp += -0.5 * z * z - logStd[j] - halfLogTwoPi
            }
            logProbs?[r] = logp
        }
    }

    /// Clips actions (rows × box size) into the box.
    static func clip(rows: Int, _ a: UnsafeMutablePointer<Float>, low: [Float], high: [Float]) {
        let size = low.count
        for r in 0..<rows {
            for j in 0..<size { a[r * size + j] = Swift.min(Swift.max(a[r * size + j], low[j]), high[j]) }
        }
    }
}

/// `count` copies of an environment stepped together with one key each,
/// owning their buffers (for rollouts and evaluation).
final class EnvironmentBatch {
    let env: AnyEnvironment
    let count: Int
    let observationSize: Int
    let stateSize: Int
    let observations: UnsafeMutablePointer<Float>
    let states: UnsafeMutablePointer<Float>
    let times: UnsafeMutablePointer<Int32>
    let rewards: UnsafeMutablePointer<Float>
    let dones: UnsafeMutablePointer<UInt8>
    /// The step (or reset) keys, two words each.
    let keys: UnsafeMutablePointer<UInt32>

    init(_ env: AnyEnvironment, count: Int) {
        (self.env, self.count, observationSize, stateSize) = (env, count, env.observationSize, env.stateSize)
        observations = .allocate(capacity: count * observationSize)
        states = .allocate(capacity: count * stateSize)
        times = .allocate(capacity: count)
        rewards = .allocate(capacity: count)
        dones = .allocate(capacity: count)
        keys = .allocate(capacity: 2 * count)
    }

    deinit {
        observations.deallocate(); states.deallocate(); times.deallocate()
        rewards.deallocate(); dones.deallocate(); keys.deallocate()
    }

    /// Resets every environment with `split(key, count)`.
    func reset(key: PRNGKey) {
        key.split(count: count, into: keys)
        env.reset(count: count, keys: keys, observations: observations, states: states, times: times)
    }

    /// Resets every environment with the given keys (2·count words).
    func reset(keys given: [UInt32]) {
        keys.update(from: given, count: 2 * count)
        env.reset(count: count, keys: keys, observations: observations, states: states, times: times)
    }

    /// Steps every environment with `split(key, count)` (gymnax auto-reset).
    func step(key: PRNGKey, actions: UnsafePointer<Float>) {
        key.split(count: count, into: keys)
        step(count: count, actions: actions)
    }

    /// Steps the first `count` environments with the keys already in `keys`.
    func step(count: Int, actions: UnsafePointer<Float>) {
        env.step(count: count, keys: keys, states: states, times: times, actions: actions,
                 observations: observations, nextStates: states, nextTimes: times, rewards: rewards, dones: dones)
    }

    /// Copies environment slot `from` to slot `to` (state, time, observation).
    func moveSlot(_ from: Int, to: Int) {
        (observations + to * observationSize).update(from: observations + from * observationSize, count: observationSize)
        (states + to * stateSize).update(from: states + from * stateSize, count: stateSize)
        times[to] = times[from]
    }
}

/// A fixed float buffer (allocated once, freed with its owner).
final class Buffer {
    let p: UnsafeMutablePointer<Float>
    init(_ count: Int) {
        p = .allocate(capacity: Swift.max(count, 1))
        p.initialize(repeating: 0, count: Swift.max(count, 1))
    }
    deinit { p.deallocate() }
}
