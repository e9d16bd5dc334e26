import SGXRandom
import SGXNN
import SGXEnvironments
import SGXAgents
import Foundation

/// The optional `init` block of a meta-training config: a starting point for
/// the search built from the real task, instead of freshly initialised
/// networks. Not part of the paper's method (upstream starts every search
/// from `SynthEnv.default_params`); upstream configs have no such block and
/// run unchanged.
///
/// ```yaml
/// init:
///   method: distill        # the only method
///   expert: sac            # the algorithm trained on the real environment
///   steps: 200000          # its total_timesteps
///   expert_kwargs: {learning_rate: 0.001, agent_kwargs: {activation: tanh}}  # over rejax's defaults
///   experts: 1             # experts trained (different keys); the best on the real task is used
///   episodes: 64           # real episodes of the expert whose states are collected (and that score it)
///   margin: 1.5            # initial-state spread, in standard deviations of the visited states
///   reward_scale: 1.0      # reward of the expert's action over the others
///   fit_steps: 3000        # Adam steps for each network
///   learning_rate: 0.003   # Adam's learning rate for the fits
///   batch_size: 256
/// ```
///
/// `distill` (see `WarmStart.distill`): train an expert on the real
/// environment; fit the initial-state network so that its states are a
/// Gaussian over the states the expert visits (their mean and covariance,
/// the spread widened by `margin`); fit the reward network so that, in every
/// state, the expert's action is the best one: `reward_scale` for the
/// expert's action and 0 for the others (discrete actions), or
/// `-reward_scale · mean_i ((a_i − π(s)_i) / half-width_i)²` (continuous
/// ones). With one-step episodes (the paper's contextual bandit), an agent
/// that learns the best action of every synthetic state learns the expert.
public struct WarmStartSettings: Sendable, Equatable {
    public enum Method: String, Sendable, CaseIterable { case distill }
    /// How a continuous action's reward falls with its distance from the expert's.
    public enum RewardShape: String, Sendable, CaseIterable { case absolute, quadratic }

    public var method: Method = .distill
    public var expert: Algorithm
    public var steps: Int
    /// The expert's hyperparameters over rejax's defaults (values, not lists).
    public var expertHyperparameters: [String: String] = [:]
    public var experts: Int = 1
    public var episodes: Int = 64
    public var margin: Double = 1.5
    public var rewardScale: Double = 1
    public var rewardShape: RewardShape = .absolute
    /// The expert's continuous action is scaled by this about the box's
    /// centre before it becomes the reward's peak (clipped by the agent):
    /// above 1, saturated (bang-bang) actions, which agents learn from far
    /// fewer samples than a finely graded policy, while small actions stay small.
    public var actionGain: Double = 1
    public var fitSteps: Int = 3000
    public var learningRate: Double = 0.003
    public var batchSize: Int = 256

    public static let keys = ["method", "expert", "steps", "expert_kwargs", "experts", "episodes", "margin",
                              "reward_scale", "reward_shape", "action_gain", "fit_steps", "learning_rate", "batch_size"]

    public init(expert: Algorithm, steps: Int) {
        (self.expert, self.steps) = (expert, steps)
    }

    init(_ value: ConfigValue) throws {
        var f = try Fields(value, path: "init")
        f.rejectUnknown(Self.keys)
        try f.throwIfUnknown()
        let name = try f.optionalString("method") ?? Method.distill.rawValue
        guard let m = Method(rawValue: name) else {
            throw MetaConfigError.invalidValue(
                key: "init.method", reason: "unknown method '\(name)'; known: \(Method.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        method = m
        let expertName = try f.string("expert")
        guard let a = Algorithm(rawValue: expertName) else {
            throw MetaConfigError.unknownAlgorithm(key: "init.expert", name: expertName, known: MetaConfig.knownAlgorithms)
        }
        expert = a
        steps = try f.int("steps", min: 1)
        guard steps <= 100_000_000 else {
            throw MetaConfigError.invalidValue(key: "init.steps", reason: "must be at most 100000000, got \(steps)")
        }
        if let v = f.optional("expert_kwargs") {
            let space = try HyperparameterSpace(v, path: "init.expert_kwargs")
            if let listed = space.sampledPaths.first {
                throw MetaConfigError.invalidValue(key: "init.expert_kwargs.\(listed)",
                                                   reason: "the expert takes one value, not a list")
            }
            expertHyperparameters = space.sample(key: PRNGKey(0, 0))
        }
        experts = try f.optionalInt("experts", min: 1) ?? experts
        episodes = try f.optionalInt("episodes", min: 1) ?? episodes
        fitSteps = try f.optionalInt("fit_steps", min: 1) ?? fitSteps
        batchSize = try f.optionalInt("batch_size", min: 1) ?? batchSize
        for (key, value, limit) in [("experts", experts, 64), ("episodes", episodes, 100_000),
                                    ("fit_steps", fitSteps, 10_000_000), ("batch_size", batchSize, 1 << 20)]
        where value > limit {
            throw MetaConfigError.invalidValue(key: "init.\(key)", reason: "must be at most \(limit), got \(value)")
        }
        func positive(_ key: String) throws -> Double? {
            guard let v = try f.optionalNumber(key) else { return nil }
            guard v > 0, v <= 1e6 else {
                throw MetaConfigError.invalidValue(key: "init.\(key)", reason: "must be in (0, 1e6], got \(v)")
            }
            return v
        }
        if let name = try f.optionalString("reward_shape") {
            guard let shape = RewardShape(rawValue: name) else {
                throw MetaConfigError.invalidValue(
                    key: "init.reward_shape",
                    reason: "unknown shape '\(name)'; known: \(RewardShape.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            rewardShape = shape
        }
        margin = try positive("margin") ?? margin
        rewardScale = try positive("reward_scale") ?? rewardScale
        learningRate = try positive("learning_rate") ?? learningRate
        actionGain = try positive("action_gain") ?? actionGain
    }
}

/// Builds a search's starting point from the real task (`WarmStartSettings`).
public enum WarmStart {
    /// What a warm start did, kept in the run's state and `warm_start.json`.
    public struct Report: Codable, Sendable, Equatable {
        public var method: String
        public var expert: String
        public var expertSteps: Int
        /// The chosen expert's mean return on the real task, and every expert's.
        public var expertReturn: Float
        public var expertReturns: [Float]
        /// States the expert visited (rows collected).
        public var visitedStates: Int
        /// Mean squared error of the initial-state fit, relative to the
        /// visited states' variance (0 is a perfect fit).
        public var initialStateError: Float
        /// The share of held-out synthetic states whose best action under
        /// the fitted reward is the expert's (discrete actions; for
        /// continuous ones, the share within 10% of the action range).
        public var rewardAgreement: Float
        public var seconds: Double
    }

    /// The `distill` warm start for `parameters` (the synthetic
    /// environment's networks), on `real` (the real environment with the
    /// config's evaluation parameters), from `key`. Deterministic for a key.
    public static func distill(_ settings: WarmStartSettings, parameters: SyntheticParameters, real: AnyEnvironment,
                               key: PRNGKey) throws -> (vector: [Float], report: Report) {
        let start = DispatchTime.now().uptimeNanoseconds
        let config = parameters.configuration
        guard config.latentDistribution == .normal || config.latentDistribution == .uniform else {
            throw MetaConfigError.invalidValue(
                key: "init", reason: "the distill warm start needs a normal or uniform latent, not \(config.latentDistribution.rawValue)")
        }
        guard settings.expert.supports(real.actionSpace) else {
            throw MetaConfigError.invalidValue(key: "init.expert",
                                               reason: "\(settings.expert.rawValue) cannot train on \(real.name)'s action space")
        }
        let keys = key.split(4)

        // 1. Experts on the real task; the best one by its mean return.
        var hyperparameters = settings.expertHyperparameters
        hyperparameters["total_timesteps"] = "\(settings.steps)"
        var experts: [Policy] = [], returns: [Float] = []
        for e in 0..<settings.experts {
            do {
                experts.append(try Agents.train(settings.expert, on: real, hyperparameters: hyperparameters,
                                                key: keys[0].foldIn(UInt32(e))).policy)
            } catch {
                throw MetaConfigError.invalidValue(key: "init.expert_kwargs", reason: "the expert cannot be trained: \(error)")
            }
            let r = try experts[e].evaluate(on: real, episodes: settings.episodes, seed: Int64(e))
            returns.append(r.reduce(0, +) / Float(r.count))
        }
        // The first of the best (a NaN return never wins).
        let chosen = returns.indices.reduce(0) { returns[$1] > returns[$0] ? $1 : $0 }
        let expert = experts[chosen]
        let expertReturn = returns[chosen]

        // 2. The states it visits.
        let d = real.observationSpace.size
        var visited: [Float] = []
        _ = try expert.evaluateEpisodes(on: real, episodes: settings.episodes, key: keys[1]) { rows, observations in
            visited.append(contentsOf: UnsafeBufferPointer(start: observations, count: rows * d))
        }
        let n = visited.count / d
        guard n >= 2 else { throw AgentError.invalidArgument("the expert visited fewer than 2 states") }
        let (mean, cholesky) = gaussian(visited, dimension: d, margin: settings.margin)

        // 3. The initial-state network: latent z -> mean + L z.
        let latent = config.latentSize
        let netKeys = keys[2].split(3)
        let initial = DenseNetwork(shape: NetworkShape(input: latent, hidden: config.features, output: d,
                                                        activation: config.activation), key: netKeys[0])
        let adamConfig = Adam.Configuration(learningRate: Float(settings.learningRate))
        do {
            let adam = Adam(count: initial.parameterCount, adamConfig)
            let b = settings.batchSize
            var output = [Float](repeating: 0, count: b * d), gradient = output
            for step in 0..<settings.fitSteps {
                let z = sampleLatent(config, rows: b, key: netKeys[1].foldIn(UInt32(truncatingIfNeeded: step)))
                let target = gaussianTargets(z, rows: b, latent: latent, mean: mean, cholesky: cholesky,
                                             uniform: config.latentDistribution == .uniform)
                initial.forward(rows: b, input: z, output: &output)
                for i in 0..<(b * d) { gradient[i] = 2 * (output[i] - target[i]) / Float(b * d) }
                initial.backward(outputGradient: gradient)
                adam.step(initial)
            }
        }
        // Its error on fresh latents, relative to the visited states' variance.
        let checkRows = 4096
        let zCheck = sampleLatent(config, rows: checkRows, key: netKeys[2])
        let targetCheck = gaussianTargets(zCheck, rows: checkRows, latent: latent, mean: mean, cholesky: cholesky,
                                          uniform: config.latentDistribution == .uniform)
        let synthetic = initial(zCheck)
        var error = 0.0
        for i in 0..<(checkRows * d) { error += Double((synthetic[i] - targetCheck[i]) * (synthetic[i] - targetCheck[i])) }
        let spread = cholesky.reduce(0.0) { $0 + Double($1) * Double($1) }   // trace of the target covariance

        // 4. The reward network on the synthetic states and the visited ones,
        // labelled with the expert's actions.
        let half = 4096
        var states = Array(initial(sampleLatent(config, rows: half, key: keys[3].foldIn(0))))
        for r in 0..<half {
            let row = Int(keys[3].foldIn(1).bits(at: r) % UInt32(n))
            states += visited[(row * d)..<((row + 1) * d)]
        }
        let reward = DenseNetwork(shape: NetworkShape(input: d + real.actionSpace.numActions, hidden: config.features,
                                                       output: 1, activation: config.activation), key: keys[3].foldIn(2))
        let labels = gained(expert.act(states, deterministic: true, key: keys[3].foldIn(3)), real.actionSpace,
                            settings.actionGain)
        let data = RewardData(states: states, labels: labels, dimension: d, space: real.actionSpace,
                              scale: Float(settings.rewardScale), shape: settings.rewardShape)
        do {
            let adam = Adam(count: reward.parameterCount, adamConfig)
            let b = settings.batchSize
            var output = [Float](repeating: 0, count: b), gradient = output
            for step in 0..<settings.fitSteps {
                let (inputs, targets) = data.batch(rows: b, key: keys[3].foldIn(4).foldIn(UInt32(truncatingIfNeeded: step)))
                reward.forward(rows: b, input: inputs, output: &output)
                for i in 0..<b { gradient[i] = 2 * (output[i] - targets[i]) / Float(b) }
                reward.backward(outputGradient: gradient)
                adam.step(reward)
            }
        }
        let heldOut = initial(sampleLatent(config, rows: 1024, key: keys[3].foldIn(5)))
        let agreement = data.agreement(reward, states: heldOut,
                                       labels: gained(expert.act(heldOut, deterministic: true, key: keys[3]), real.actionSpace,
                                                      settings.actionGain))

        // 5. The environment; a multi-step configuration becomes a bandit
        // too: no state change, and `done` always positive.
        var nextStateDelta: MLP?, done: MLP?
        if !config.onlyReward {
            let zero = DenseNetwork(shape: NetworkShape(input: d + real.actionSpace.numActions, hidden: config.features,
                                                         output: d, activation: config.activation))
            nextStateDelta = zero.mlp
            let always = DenseNetwork(shape: NetworkShape(input: d, hidden: config.features, output: 1,
                                                           activation: config.activation))
            always.parameterPointer[always.shape.biasOffset(always.shape.layerCount - 1)] = 1
            done = always.mlp
        }
        let env = try SyntheticEnvironment(configuration: config, initialState: initial.mlp, reward: reward.mlp,
                                           nextStateDelta: nextStateDelta, done: done)
        let report = Report(method: settings.method.rawValue, expert: settings.expert.rawValue, expertSteps: settings.steps,
                            expertReturn: expertReturn, expertReturns: returns, visitedStates: n,
                            initialStateError: Float(error / Double(checkRows) / Swift.max(spread, 1e-12)), rewardAgreement: agreement,
                            seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        return (parameters.vector(of: env), report)
    }

    /// The mean and the lower Cholesky factor (row-major d × d) of the
    /// covariance of `rows` (n × d), the factor scaled by `margin`. A small
    /// ridge keeps constant coordinates from making it singular.
    static func gaussian(_ rows: [Float], dimension d: Int, margin: Double) -> (mean: [Float], cholesky: [Float]) {
        let n = rows.count / d
        var mean = [Double](repeating: 0, count: d)
        for r in 0..<n { for i in 0..<d { mean[i] += Double(rows[r * d + i]) } }
        for i in 0..<d { mean[i] /= Double(n) }
        var cov = [Double](repeating: 0, count: d * d)
        for r in 0..<n {
            for i in 0..<d {
                let a = Double(rows[r * d + i]) - mean[i]
                for j in 0...i { cov[i * d + j] += a * (Double(rows[r * d + j]) - mean[j]) }
            }
        }
        var trace = 0.0
        for i in 0..<d { trace += cov[i * d + i] / Double(n - 1) }
        let ridge = Swift.max(1e-6, 1e-4 * trace / Double(d))
        for i in 0..<d { for j in 0...i { cov[i * d + j] /= Double(n - 1) }; cov[i * d + i] += ridge }
        var l = [Double](repeating: 0, count: d * d)
        for i in 0..<d {
            for j in 0...i {
                var s = cov[i * d + j]
                for k in 0..<j { s -= l[i * d + k] * l[j * d + k] }
                l[i * d + j] = i == j ? Swift.max(s, ridge).squareRoot() : s / l[j * d + j]
            }
        }
        return (mean.map { Float($0) }, l.map { Float($0 * margin) })
    }

    /// Continuous actions (rows of the box's size) scaled by `gain` about
    /// the box's centre; discrete ones unchanged.
    static func gained(_ actions: [Float], _ space: ActionSpace, _ gain: Double) -> [Float] {
        guard case .box(let box) = space, gain != 1 else { return actions }
        return actions.indices.map { i in
            let j = i % box.size, centre = (box.low[j] + box.high[j]) / 2
            return centre + Float(gain) * (actions[i] - centre)
        }
    }

    /// Latents as the environment draws them: standard normal, or uniform on [0, 1).
    static func sampleLatent(_ c: SyntheticEnvironment.Configuration, rows: Int, key: PRNGKey) -> [Float] {
        c.latentDistribution == .uniform ? key.uniform(count: rows * c.latentSize) : key.normal(count: rows * c.latentSize)
    }

    /// mean + L·u for each latent row, u its first min(latent, d) entries
    /// standardised (uniform latents: (z − ½)·√12), the rest zero.
    static func gaussianTargets(_ z: [Float], rows: Int, latent: Int, mean: [Float], cholesky: [Float],
                                uniform: Bool) -> [Float] {
        let d = mean.count, k = Swift.min(latent, d)
        var out = [Float](repeating: 0, count: rows * d)
        for r in 0..<rows {
            for i in 0..<d {
                var s = mean[i]
                for j in 0..<Swift.min(i + 1, k) {
                    let u = uniform ? (z[r * latent + j] - 0.5) * Float(12).squareRoot() : z[r * latent + j]
                    s += cholesky[i * d + j] * u
                }
                out[r * d + i] = s
            }
        }
        return out
    }

    /// The reward network's training set: states with the expert's actions.
    struct RewardData {
        let states: [Float]
        let labels: [Float]
        let d: Int
        let space: ActionSpace
        let scale: Float
        let absolute: Bool

        init(states: [Float], labels: [Float], dimension: Int, space: ActionSpace, scale: Float, shape: WarmStartSettings.RewardShape) {
            (self.states, self.labels, self.d, self.space, self.scale) = (states, labels, dimension, space, scale)
            absolute = shape == .absolute
        }

        var count: Int { states.count / d }
        var inputSize: Int { d + space.numActions }

        /// The target reward of `action` (one-hot / vector) in state row `r`.
        func target(row r: Int, action: UnsafePointer<Float>) -> Float {
            switch space {
            case .discrete:
                return action[Int(labels[r])] == 1 ? scale : 0
            case .box(let box):
                var s: Float = 0
                for i in 0..<box.size {
                    let halfWidth = Swift.max((box.high[i] - box.low[i]) / 2, 1e-6)
                    let u = (action[i] - labels[r * box.size + i]) / halfWidth
                    s += absolute ? Swift.abs(u) : u * u
                }
                return -scale * s / Float(box.size)
            }
        }

        /// `rows` random (state, action) pairs and their targets. Discrete:
        /// a uniformly drawn action. Continuous: half uniform on the box
        /// widened by a quarter of its width on each side (agents' sampled
        /// actions are not clipped), half the expert's action plus noise of
        /// a tenth of the width.
        func batch(rows: Int, key: PRNGKey) -> (inputs: [Float], targets: [Float]) {
            var inputs = [Float](repeating: 0, count: rows * inputSize)
            var targets = [Float](repeating: 0, count: rows)
            let (kRow, kAction) = key.split()
            let u = kAction.uniform(count: rows * Swift.max(space.numActions, 1))
            let noise = kAction.foldIn(1).normal(count: rows * space.numActions)
            inputs.withUnsafeMutableBufferPointer { x in
                for r in 0..<rows {
                    let row = Int(kRow.bits(at: r) % UInt32(count))
                    let base = x.baseAddress! + r * inputSize
                    for i in 0..<d { base[i] = states[row * d + i] }
                    let a = base + d
                    switch space {
                    case .discrete(let k):
                        a[Swift.min(Int(u[r * k] * Float(k)), k - 1)] = 1
                    case .box(let box):
                        for i in 0..<box.size {
                            let w = box.high[i] - box.low[i]
                            a[i] = r % 2 == 0 ? box.low[i] - w / 4 + u[r * box.size + i] * 1.5 * w
                                : labels[row * box.size + i] + 0.1 * w * noise[r * box.size + i]
                        }
                    }
                    targets[r] = target(row: row, action: UnsafePointer(a))
                }
            }
            return (inputs, targets)
        }

        /// How often the fitted reward's best action is the expert's:
        /// discrete, the argmax over the actions; continuous, the best of
        /// 64 random actions and the expert's, within 10% of the range.
        func agreement(_ reward: DenseNetwork, states: [Float], labels: [Float]) -> Float {
            let rows = states.count / d
            var hits = 0
            switch space {
            case .discrete(let k):
                for r in 0..<rows {
                    var x = [Float](repeating: 0, count: k * inputSize)
                    for a in 0..<k {
                        for i in 0..<d { x[a * inputSize + i] = states[r * d + i] }
                        x[a * inputSize + d + a] = 1
                    }
                    let values = reward(x)
                    if values.indices.max(by: { values[$0] < values[$1] }) == Int(labels[r]) { hits += 1 }
                }
            case .box(let box):
                let m = box.size, candidates = 65
                let u = PRNGKey(0, 7).uniform(count: candidates * m)
                for r in 0..<rows {
                    var x = [Float](repeating: 0, count: candidates * inputSize)
                    for c in 0..<candidates {
                        for i in 0..<d { x[c * inputSize + i] = states[r * d + i] }
                        for i in 0..<m {
                            x[c * inputSize + d + i] = c == 0 ? Swift.min(Swift.max(labels[r * m + i], box.low[i]), box.high[i])
                                : box.low[i] + u[c * m + i] * (box.high[i] - box.low[i])
                        }
                    }
                    let values = reward(x)
                    let bestC = values.indices.max(by: { values[$0] < values[$1] })!
                    var close = true
                    for i in 0..<m where abs(x[bestC * inputSize + d + i] - Swift.min(Swift.max(labels[r * m + i], box.low[i]), box.high[i]))
                        > 0.1 * (box.high[i] - box.low[i]) {
                        close = false
                    }
                    if close { hits += 1 }
                }
            }
            return Float(hits) / Float(Swift.max(rows, 1))
        }
    }
}
