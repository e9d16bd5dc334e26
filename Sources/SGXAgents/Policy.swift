import SGXSupport
import SGXRandom
import SGXNN
import SGXEnvironments
import Foundation

/// A trained policy: the acting network's weights and what turns its output
/// into actions. A value: save it, load it, act with it, evaluate it.
public struct Policy: Sendable, Equatable {
    /// How the network's output becomes an action (rejax's policy networks).
    public enum Head: String, Sendable, CaseIterable {
        /// Logits of a categorical distribution (PPO and SAC, discrete
        /// actions); the deterministic action is the argmax.
        case categorical
        /// Means of a diagonal Gaussian with state-independent log standard
        /// deviations (the last `actionSize` parameters), as rejax's
        /// `GaussianPolicy` (PPO, continuous); actions are clipped to the
        /// box; the deterministic action is the (clipped) mean.
        case gaussian
        /// A deterministic action loc + scale · tanh(y) in the box, as
        /// rejax's `DeterministicPolicy` (DDPG, TD3); sampling changes nothing.
        case deterministic
        /// Means then log standard deviations (clipped to [−10, 2]) of a
        /// Gaussian squashed by tanh into the box, as rejax's
        /// `SquashedGaussianPolicy` (SAC, continuous); the deterministic
        /// action is loc + scale · tanh(mean).
        case squashedGaussian = "squashed_gaussian"
        /// Q-values (DQN's `QNetwork`): the greedy action is the argmax;
        /// sampled actions are ε-greedy with ε = 0.05 (rejax's evaluation).
        case qValues = "q_values"
        /// A state value then n advantages (DQN's `DuelingQNetwork`):
        /// Q = V + A − mean(A), acted on like `qValues`.
        case duelingQValues = "dueling_q_values"

        /// Network outputs for an action space.
        public func outputSize(for space: ActionSpace) -> Int {
            switch self {
            case .categorical, .gaussian, .deterministic, .qValues: return space.numActions
            case .squashedGaussian: return 2 * space.numActions
            case .duelingQValues: return space.numActions + 1
            }
        }

        /// Parameters after the network's (Gaussian log-stds).
        func extraCount(outputs: Int) -> Int { self == .gaussian ? outputs : 0 }

        var isDiscrete: Bool { [.categorical, .qValues, .duelingQValues].contains(self) }

        /// Names and widths of the output layer's column groups in files
        /// (rejax's Flax module names).
        func outputGroups(_ outputs: Int) -> [(name: String, width: Int)] {
            switch self {
            case .categorical: return [("action_logits", outputs)]
            case .gaussian: return [("action_mean", outputs)]
            case .deterministic: return [("action", outputs)]
            case .squashedGaussian: return [("action_mean", outputs / 2), ("action_log_std", outputs / 2)]
            case .qValues: return [("q_values", outputs)]
            case .duelingQValues: return [("value", 1), ("advantage", outputs - 1)]
            }
        }
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
        precondition(shape.outputSize == head.outputSize(for: actionSpace) && head.isDiscrete == actionSpace.isDiscrete,
                     "the network's outputs do not fit the head and action space")
        precondition(parameters.count == shape.parameterCount + head.extraCount(outputs: shape.outputSize),
                     "parameters do not fit the network shape and head")
        (self.algorithm, self.environmentID, self.shape, self.parameters, self.head, self.actionSpace) =
            (algorithm, environmentID, shape, parameters, head, actionSpace)
        self.observationNormalization = observationNormalization
        self.notes = notes
    }

    /// What is not finite in the policy (its parameters, its observation
    /// statistics), or nil when everything is.
    public var nonFiniteParameters: String? {
        if let i = parameters.firstIndex(where: { !$0.isFinite }) {
            return "parameter \(i) of \(parameters.count) is \(parameters[i])"
        }
        if let rms = observationNormalization, let x = (rms.mean + rms.variance + [rms.count]).first(where: { !$0.isFinite }) {
            return "the observation statistics hold \(x)"
        }
        return nil
    }

    /// Floats per action given to the environment (1 for a discrete action).
    public var actionSize: Int { actionSpace.size }
    public var observationSize: Int { shape.inputSize }

    /// Throws unless `env` has this policy's observation size and action space kind and size.
    public func checkFits(_ env: AnyEnvironment) throws {
        guard env.observationSize == shape.inputSize, env.actionSpace.isDiscrete == actionSpace.isDiscrete,
              env.actionSpace.numActions == actionSpace.numActions else {
            throw AgentError.unsupportedEnvironment(
                "the \(algorithm) policy trained on \(environmentID) (observations \(shape.inputSize), actions \(actionSpace.description)) does not fit \(env.name) (observations \(env.observationSize), actions \(env.actionSpace.description))")
        }
    }

    /// A runner that acts on batches with reused buffers.
    func makeActor() -> PolicyActor { PolicyActor(self) }

    /// Actions for `observations` (rows × observation size): discrete ones as
    /// their index. Stochastic actions are sampled as rejax's networks do,
    /// with one key for the whole batch (element r · outputs + j of the
    /// key's stream for row r's j-th random number).
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
    /// `split(rng, 3)` until it is done or reaches `maxSteps` (default: the
    /// environment's step limit). All episodes run together in one batch
    /// (finished ones leave it). Deterministic actions by default;
    /// `deterministic: false` samples, as rejax's own evaluation does.
    public func evaluate(on env: AnyEnvironment, episodes: Int, seed: Int64 = 0, deterministic: Bool = true,
                         maxSteps: Int? = nil) throws -> [Float] {
        try evaluateEpisodes(on: env, episodes: episodes, seed: seed, deterministic: deterministic, maxSteps: maxSteps).returns
    }

    /// `evaluate`, with the episodes' lengths.
    public func evaluateEpisodes(on env: AnyEnvironment, episodes: Int, seed: Int64 = 0, deterministic: Bool = true,
                                 maxSteps: Int? = nil) throws -> (returns: [Float], lengths: [Int32]) {
        try evaluateEpisodes(on: env, episodes: episodes, key: PRNGKey(seed: seed), deterministic: deterministic,
                             maxSteps: maxSteps)
    }

    /// `evaluateEpisodes` from a JAX key (split into the episodes' keys).
    /// `observe`, when given, sees the observations the policy acts on
    /// before every step: (rows, rows × observation size floats).
    public func evaluateEpisodes(on env: AnyEnvironment, episodes: Int, key root: PRNGKey, deterministic: Bool = true,
                                 maxSteps: Int? = nil, observe: ((Int, UnsafePointer<Float>) -> Void)? = nil) throws
        -> (returns: [Float], lengths: [Int32])
    {
        guard episodes >= 1, episodes <= Limits.environments else {
            throw AgentError.invalidArgument("episodes must be in 1...\(Limits.environments) (SGX_MAX_VEC_ENVS), got \(episodes)")
        }
        if let maxSteps, maxSteps < 1 { throw AgentError.invalidArgument("maxSteps must be at least 1, got \(maxSteps)") }
        try checkFits(env)
        let actor = makeActor()
        let batch = EnvironmentBatch(env, count: episodes)
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
        let limit = Int32(clamping: maxSteps ?? Int(env.maxStepsInEpisode))
        var active = episodes
        while active > 0 {
            for s in 0..<active {
                let key = rng[slotEpisode[s]]
                rng[slotEpisode[s]] = key.split(index: 0)
                actKeys[s] = key.split(index: 1)
                let stepKey = key.split(index: 2)
                (batch.keys[2 * s], batch.keys[2 * s + 1]) = (stepKey.k0, stepKey.k1)
            }
            observe?(active, batch.observations)
            actions.withUnsafeMutableBufferPointer { a in
                actor.act(rows: active, batch.observations, into: a.baseAddress!, deterministic: deterministic,
                          sample: { r, j in (actKeys[r], j) })
            }
            if let bad = actions[0..<(active * actionSize)].firstIndex(where: { !$0.isFinite }) {
                throw AgentError.diverged(
                    "the \(algorithm) policy's action in episode \(slotEpisode[bad / actionSize]) is \(actions[bad]) at step \(lengths[slotEpisode[bad / actionSize]]) on \(env.name)")
            }
            batch.step(count: active, actions: actions)
            // Finished episodes leave the batch; the others move down.
            var kept = 0
            for s in 0..<active {
                let e = slotEpisode[s]
                returns[e] += batch.rewards[s]
                lengths[e] += 1
                if batch.dones[s] == 0 && lengths[e] < limit {
                    if kept != s { batch.moveSlot(s, to: kept) }
                    slotEpisode[kept] = e
                    kept += 1
                }
            }
            active = kept
        }
        if let e = returns.firstIndex(where: { !$0.isFinite }) {
            throw AgentError.diverged("episode \(e)'s return on \(env.name) is \(returns[e]): the rewards are not finite")
        }
        return (returns, lengths)
    }

    // MARK: Files

    static let formatName = "synthetic-gymnax-swift policy 1"

    /// Tensor names follow rejax's Flax parameter trees: `features.Dense_i`
    /// for hidden layers, then the head's output groups (`action_logits`;
    /// `action_mean` and `action_log_std`; `action`; `q_values`; `value` and
    /// `advantage`), each a slice of the output layer's columns.
    var tensors: [String: Safetensors.Tensor] {
        var out: [String: Safetensors.Tensor] = [:]
        let last = shape.layerCount - 1
        for l in 0..<last {
            let (n, m) = (shape.sizes[l], shape.sizes[l + 1])
            let k = shape.kernelOffset(l), b = shape.biasOffset(l)
            out["features.Dense_\(l).kernel"] = .init(shape: [n, m], values: Array(parameters[k..<(k + n * m)]))
            out["features.Dense_\(l).bias"] = .init(shape: [m], values: Array(parameters[b..<(b + m)]))
        }
        let (n, m) = (shape.sizes[last], shape.sizes[last + 1])
        let k = shape.kernelOffset(last), b = shape.biasOffset(last)
        var column = 0
        for (name, width) in head.outputGroups(m) {
            var kernel = [Float](repeating: 0, count: n * width)
            for i in 0..<n { for j in 0..<width { kernel[i * width + j] = parameters[k + i * m + column + j] } }
            out[name + ".kernel"] = .init(shape: [n, width], values: kernel)
            out[name + ".bias"] = .init(shape: [width], values: Array(parameters[(b + column)..<(b + column + width)]))
            column += width
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
        metadata["action_space"] = actionSpace.description
        try Safetensors.write(path: path, tensors: tensors, metadata: metadata)
    }

    /// Loads a policy written by `save`; every shape is checked.
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
        // Comma-separated positive integers, decimal digits only, every piece present.
        let sizes = try field("sizes").split(separator: ",", omittingEmptySubsequences: false).map { piece -> Int in
            guard !piece.isEmpty, piece.utf8.allSatisfy({ (48...57).contains($0) }), let n = Int(piece) else { return 0 }
            return n
        }
        guard sizes.count >= 2, sizes.allSatisfy({ $0 >= 1 }) else { throw fail("bad sizes '\(metadata["sizes"]!)'") }
        if let problem = Limits.networkProblem(sizes) { throw fail("sizes '\(metadata["sizes"]!)': \(problem)") }
        guard let head = Head(rawValue: try field("head")) else {
            throw fail("unknown head '\(metadata["head"]!)'; known: \(Head.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let shape = NetworkShape(sizes: sizes, activation: activation)
        var used = Set<String>()
        func tensor(_ name: String, _ expected: [Int]) throws -> [Float] {
            guard let t = tensors[name] else { throw fail("no tensor '\(name)'") }
            used.insert(name)
            guard t.shape == expected else { throw fail("tensor '\(name)' has shape \(t.shape), expected \(expected)") }
            guard t.values.allSatisfy(\.isFinite) else { throw fail("tensor '\(name)' has non-finite values") }
            return t.values
        }
        var parameters: [Float] = []
        let last = shape.layerCount - 1
        for l in 0..<last {
            parameters += try tensor("features.Dense_\(l).kernel", [sizes[l], sizes[l + 1]])
            parameters += try tensor("features.Dense_\(l).bias", [sizes[l + 1]])
        }
        let (n, m) = (sizes[last], sizes[last + 1])
        var kernel = [Float](repeating: 0, count: n * m), bias = [Float](repeating: 0, count: m)
        var column = 0
        let groups = head.outputGroups(m)
        guard groups.allSatisfy({ $0.width >= 1 }), m % (head == .squashedGaussian ? 2 : 1) == 0 else {
            throw fail("output size \(m) does not fit the head '\(head.rawValue)'")
        }
        for (name, width) in groups {
            let k = try tensor(name + ".kernel", [n, width]), b = try tensor(name + ".bias", [width])
            for i in 0..<n { for j in 0..<width { kernel[i * m + column + j] = k[i * width + j] } }
            for j in 0..<width { bias[column + j] = b[j] }
            column += width
        }
        parameters += kernel + bias
        let actions = head == .squashedGaussian ? m / 2 : (head == .duelingQValues ? m - 1 : m)
        let actionSpace: ActionSpace
        if head.isDiscrete {
            actionSpace = .discrete(actions)
        } else {
            let low = try tensor("action_space.low", [actions]), high = try tensor("action_space.high", [actions])
            if let i = low.indices.first(where: { low[$0] > high[$0] }) {
                throw fail("the action box has low > high in component \(i) (\(low[i]) > \(high[i]))")
            }
            actionSpace = .box(BoxSpace(low: low, high: high))
        }
        if head == .gaussian { parameters += try tensor("action_log_std", [m]) }
        var rms: RunningMeanStd?
        if tensors["obs_rms.mean"] != nil {
            rms = RunningMeanStd(mean: try tensor("obs_rms.mean", [sizes[0]]), variance: try tensor("obs_rms.var", [sizes[0]]),
                                 count: try tensor("obs_rms.count", [])[0])
        }
        // The descriptions save writes must agree with what sizes and head imply.
        if let declared = metadata["action_space"], declared != actionSpace.description {
            throw fail("metadata 'action_space' is '\(declared)', but sizes and head give '\(actionSpace.description)'")
        }
        let hidden = sizes.dropFirst().dropLast().map(String.init).joined(separator: ",")
        if let declared = metadata["hidden_layer_sizes"], declared != hidden {
            throw fail("metadata 'hidden_layer_sizes' is '\(declared)', but sizes give '\(hidden)'")
        }
        if let extra = Set(tensors.keys).subtracting(used).sorted().first {
            throw fail("unexpected tensor '\(extra)' for a \(head.rawValue) policy of sizes \(sizes)")
        }
        var notes = metadata
        for key in ["format", "algorithm", "env_id", "activation", "sizes", "hidden_layer_sizes", "head", "action_space"] {
            notes[key] = nil
        }
        self.init(algorithm: try field("algorithm"), environmentID: try field("env_id"), shape: shape,
                  parameters: parameters, head: head, actionSpace: actionSpace, observationNormalization: rms, notes: notes)
    }
}

extension ActionSpace: CustomStringConvertible {
    /// "discrete(n)" or "box(size)".
    public var description: String {
        switch self {
        case .discrete(let n): return "discrete(\(n))"
        case .box(let box): return "box(\(box.size))"
        }
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
                               extraCount: policy.head.extraCount(outputs: policy.shape.outputSize))
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
                let out = UnsafePointer(y.baseAddress!)
                switch (policy.head, policy.actionSpace) {
                case (.categorical, _):
                    ActionSampling.categorical(rows: rows, actions: outputSize, logits: out, into: actions,
                                               logProbs: nil, greedy: deterministic, sample: sample)
                case (.gaussian, .box(let box)):
                    ActionSampling.gaussian(rows: rows, size: outputSize, means: out, logStd: network.extraPointer,
                                            into: actions, logProbs: nil, deterministic: deterministic, sample: sample)
                    ActionSampling.clip(rows: rows, actions, low: box.low, high: box.high)
                case (.deterministic, .box(let box)):
                    ActionSampling.squash(rows: rows, out, into: actions, box: box)
                case (.squashedGaussian, .box(let box)):
                    ActionSampling.squashedGaussian(rows: rows, outputs: out, box: box, into: actions,
                                                    deterministic: deterministic, sample: sample)
                case (.qValues, _), (.duelingQValues, _):
                    let dueling = policy.head == .duelingQValues
                    ActionSampling.epsilonGreedy(rows: rows, actions: dueling ? outputSize - 1 : outputSize,
                                                 values: dueling ? out + 1 : out, stride: outputSize,
                                                 epsilon: deterministic ? 0 : 0.05, into: actions, sample: sample)
                default:
                    preconditionFailure("a continuous head with a discrete action space")
                }
            }
        }
    }
}
