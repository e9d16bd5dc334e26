import SGXSupport
import SGXRandom
import SGXNN
import SGXEnvironments

#if canImport(Glibc)
import Glibc
#endif

/// Deep Q-Networks (Mnih et al., 2015) with double-Q targets (van Hasselt et
/// al., 2016) and dueling heads (Wang et al., 2016), as rejax 0.0.1's `DQN`,
/// the version the paper's configs were written for:
///
///   each iteration (num_envs environment steps):
///     1. act ε-greedily on the last observations (uniform actions until
///        more than fill_buffer steps were taken), ε linear from eps_start
///        to eps_end over exploration_fraction · total_timesteps steps;
///     2. step the environments and append the transitions to the buffer;
///     3. once filling is over, gradient_steps times: sample batch_size
///        transitions and take one Adam step on ½ (Q(s, a) − y)², with
///        y = r + γ (1 − done) Q_target(s′, a′), a′ = argmax Q(s′, ·)
///        (ddqn) or argmax Q_target(s′, ·);
///     4. copy the online network into the target whenever the global step
///        crosses a multiple of target_update_freq.
///
/// Optimiser: clip_by_global_norm(max_grad_norm) then Adam(learning_rate,
/// eps 1e-5). Episodes ending by the time limit count as terminal.
public enum DQN {
    /// The Q-network: rejax's `QNetwork` (an MLP to n values) or
    /// `DuelingQNetwork` (an MLP to a value and n advantages, Q = V + A − mean A).
    public enum NetworkKind: String, Sendable, CaseIterable {
        case qNetwork = "QNetwork"
        case duelingQNetwork = "DuelingQNetwork"
    }

    /// rejax 0.0.1's DQN hyperparameters, by its names, with its defaults.
    public struct Configuration: AgentConfiguration, ReplayConfiguration {
        public var learningRate: Float = 0.005
        public var gamma: Float = 0.99
        public var maxGradNorm: Float = .infinity
        public var epsStart: Float = 1
        public var epsEnd: Float = 0.05
        public var targetUpdateFreq = 200
        public var ddqn = true
        public var totalTimesteps = 100_000
        /// rejax's evaluation interval, which rounds the iteration count up
        /// per interval; nil (our default): total_timesteps. (rejax's default
        /// interval would train a run shorter than it for a whole interval.)
        public var evalFreq: Int?
        public var numEnvs = 1
        public var explorationFraction: Float = 0.5
        public var bufferSize = 100_000
        public var fillBuffer = 1_000
        public var batchSize = 100
        public var gradientSteps = 1
        public var normalizeObservations = false
        /// `agent`.
        public var network: NetworkKind = .qNetwork
        /// `agent_kwargs.activation`.
        public var activation: Activation = .swish
        public var hiddenLayerSizes = [64, 64]
        public var adamEps: Float = 1e-5

        public init() {}

        public static let algorithm = "dqn"

        public static let hyperparameters: [Hyperparameter<Self>] = {
            let activation = Hyperparameter<Self>.activation("activation", [\.activation])
            return replayHyperparameters + [
                .float("max_grad_norm", \.maxGradNorm), .float("eps_start", \.epsStart), .float("eps_end", \.epsEnd),
                .int("target_update_freq", \.targetUpdateFreq), .bool("ddqn", \.ddqn),
                .float("exploration_fraction", \.explorationFraction),
                .choice("agent", \.network), activation, activation.alias("agent_kwargs.activation"),
            ] + networkHyperparameters
        }()

        public func validate() throws {
            try validateReplay()
            typealias Check = HyperparameterCheck
            try Check.gradientNorm(maxGradNorm)
            try Check.unit(epsStart, "eps_start")
            try Check.unit(epsEnd, "eps_end")
            try Check.count(targetUpdateFreq, "target_update_freq")
            try Check.unit(explorationFraction, "exploration_fraction")
        }

        /// Environment steps per iteration: one per environment.
        public var iterations: Int { iterations(stepsPerIteration: numEnvs) }
    }

    /// Trains on `env` (discrete actions) from `seed`.
    public static func train(on env: AnyEnvironment, configuration c: Configuration, seed: Int64 = 0) throws -> TrainingResult {
        try training(seed: seed) { try train(on: env, configuration: c, key: $0) }
    }

    /// Trains from a JAX key, as rejax's `train(config, rng)`.
    public static func train(on env: AnyEnvironment, configuration c: Configuration, key: PRNGKey) throws -> TrainingResult {
        try c.validate()
        try c.checkFootprint(on: env)
        guard case .discrete(let n) = env.actionSpace else {
            throw AgentError.unsupportedEnvironment("DQN needs discrete actions; \(env.name) has continuous ones")
        }
        let dueling = c.network == .duelingQNetwork
        let outputs = dueling ? n + 1 : n
        let (obsSize, B) = (env.observationSize, c.batchSize)

        // Keys as rejax 0.0.1's initialize_train_state.
        var rng = key
        let networkKey = rng.splitOff()
        let resetKey = rng.splitOff()

        let q = DenseNetwork(shape: NetworkShape(input: obsSize, hidden: c.hiddenLayerSizes, output: outputs,
                                                 activation: c.activation), key: networkKey)
        let target = q.copy()
        let optimizer = Adam(count: q.parameterCount, .init(learningRate: c.learningRate, eps: c.adamEps,
                                                            maxGradNorm: c.maxGradNorm))
        let collector = TransitionCollector(env: env, numEnvs: c.numEnvs, bufferSize: c.bufferSize, resetKey: resetKey,
                                            normalizeObservations: c.normalizeObservations)
        let batch = Minibatch(size: B, observationSize: obsSize, actionSize: 1)
        let actions = Buffer(c.numEnvs), values = Buffer(Swift.max(c.numEnvs, B) * outputs)
        let nextOnline = Buffer(B * n), nextTarget = Buffer(B * n), current = Buffer(B * n)
        let gradient = Buffer(B * outputs), targets = Buffer(B)
        let explorationSteps = Int(c.explorationFraction * Float(c.totalTimesteps))
        var updates = 0

        /// One Adam step on the minibatch.
        func update() {
            // Targets first: the online network's last forward pass must be the one on `obs`.
            target.forward(rows: B, input: batch.nextObservations.p, output: values.p)
            qValues(rows: B, n: n, dueling: dueling, values.p, into: nextTarget.p)
            if c.ddqn {
                q.forward(rows: B, input: batch.nextObservations.p, output: values.p)
                qValues(rows: B, n: n, dueling: dueling, values.p, into: nextOnline.p)
            }
            q.forward(rows: B, input: batch.observations.p, output: values.p)
            qValues(rows: B, n: n, dueling: dueling, values.p, into: current.p)
            for r in 0..<B {
                let selector = c.ddqn ? nextOnline.p + r * n : nextTarget.p + r * n
                var best = 0
                for j in 1..<n where selector[j] > selector[best] { best = j }
                targets.p[r] = batch.rewards.p[r] + (1 - batch.dones.p[r]) * c.gamma * nextTarget.p[r * n + best]
            }
            lossGradient(rows: B, n: n, dueling: dueling, q: current.p, actions: batch.actions.p, targets: targets.p,
                         into: gradient.p)
            q.backward(outputGradient: gradient.p)
            optimizer.step(q)
            updates += 1
        }

        for _ in 0..<c.iterations {
            let startTraining = collector.globalStep > c.fillBuffer
            let oldStep = collector.globalStep
            let epsilon = linearSchedule(init: c.epsStart, end: c.epsEnd, steps: explorationSteps, at: collector.globalStep)
            let actionKey = rng.splitOff()
            if startTraining {
                q.forward(rows: c.numEnvs, input: collector.actingObservations, output: values.p)
                let (stride, offset) = dueling ? (outputs, 1) : (n, 0)
                ActionSampling.epsilonGreedy(rows: c.numEnvs, actions: n, values: values.p + offset, stride: stride,
                                             epsilon: epsilon, into: actions.p,
                                             sample: { r, j in (actionKey, 2 * r + j) })
            } else {
                collector.uniformActions(key: actionKey, into: actions.p)
            }
            collector.step(key: rng.splitOff(), actions: actions.p)
            if startTraining {
                for _ in 0..<c.gradientSteps {
                    collector.sample(into: batch, key: rng.splitOff())
                    update()
                }
            }
            if collector.globalStep % c.targetUpdateFreq <= oldStep % c.targetUpdateFreq {
                target.parameters = q.parameters
            }
        }

        let policy = Policy(
            algorithm: "dqn", environmentID: env.name, shape: q.shape, parameters: q.parameters,
            head: dueling ? .duelingQValues : .qValues, actionSpace: env.actionSpace,
            observationNormalization: collector.rms, notes: c.notes(key: key))
        return TrainingResult(policy: policy, environmentSteps: collector.globalStep, updates: updates,
                              multiplyAdds: q.multiplyAdds + target.multiplyAdds)
    }

    /// Gradient with respect to the network outputs (rows × outputs) of
    /// mean_r ½ (Q(s_r, a_r) − y_r)²: (Q − y) / rows at the action's column;
    /// through a dueling head Q_j = V + A_j − mean(A) that is dV = dQ_a and
    /// dA_k = dQ_k − dQ_a / n.
    static func lossGradient(rows: Int, n: Int, dueling: Bool, q: UnsafePointer<Float>, actions: UnsafePointer<Float>,
                             targets: UnsafePointer<Float>, into gradient: UnsafeMutablePointer<Float>) {
        let outputs = dueling ? n + 1 : n
        gradient.initialize(repeating: 0, count: rows * outputs)
        for r in 0..<rows {
            let a = Int(actions[r])
            let g = (q[r * n + a] - targets[r]) / Float(rows)
            if dueling {
                let row = gradient + r * outputs
                row[0] = g
                for k in 0..<n { row[1 + k] = (k == a ? g : 0) - g / Float(n) }
            } else {
                gradient[r * outputs + a] = g
            }
        }
    }

    /// Q-values (rows × n) from network outputs: themselves, or V + A − mean(A).
    static func qValues(rows: Int, n: Int, dueling: Bool, _ out: UnsafePointer<Float>, into q: UnsafeMutablePointer<Float>) {
        guard dueling else { q.update(from: out, count: rows * n); return }
        for r in 0..<rows {
            let row = out + r * (n + 1)
            var mean: Float = 0
            for k in 0..<n { mean += row[1 + k] }
            mean /= Float(n)
            for k in 0..<n { q[r * n + k] = row[0] + (row[1 + k] - mean) }
        }
    }
}
