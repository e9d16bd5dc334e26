/// Deep Deterministic Policy Gradient (Lillicrap et al., 2016) as rejax
/// 0.0.1's `DDPG`, the version the paper's configs were written for (rejax
/// ≥ 0.1 has no DDPG):
///
///   each iteration (num_envs environment steps):
///     1. act uniformly until more than fill_buffer steps were taken, then
///        clip(μ(s) + exploration_noise · ε, low, high); step into the buffer;
///     2. once filling is over, gradient_steps times on a sampled minibatch,
///        one Adam step on the sum of the critic loss ½ (Q(s, a) − y)²,
///        y = r + γ (1 − done) Q′(s′, μ′(s′)), and the actor loss −Q(s, μ(s))
///        (the critic held fixed in it);
///     3. Polyak averaging of both targets: θ′ ← (1 − tau) θ + tau θ′.
///
/// Actor (tanh scaled into the box) and critic (on [observation, action])
/// are one parameter tree in rejax, so one optimiser clips their gradients
/// together: clip_by_global_norm(max_grad_norm) then Adam(learning_rate, eps 1e-5).
public enum DDPG {
    /// rejax 0.0.1's DDPG hyperparameters, by its names, with its defaults.
    public struct Configuration: AgentConfiguration {
        public var learningRate: Float = 0.001
        public var gamma: Float = 0.99
        /// Polyak coefficient of the targets.
        public var tau: Float = 0.95
        public var explorationNoise: Float = 0.3
        public var maxGradNorm: Float = .infinity
        public var totalTimesteps = 10_000
        /// rejax's evaluation interval, which rounds the iteration count up
        /// per interval; nil (our default): total_timesteps. (rejax's default
        /// interval would train a run shorter than it for a whole interval.)
        public var evalFreq: Int?
        public var numEnvs = 1
        public var gradientSteps = 1
        public var bufferSize = 10_000
        public var fillBuffer = 1_000
        public var batchSize = 100
        public var normalizeObservations = false
        /// `agent_kwargs.activation` (rejax's DDPG default: relu).
        public var activation: Activation = .relu
        public var hiddenLayerSizes = [64, 64]
        public var adamEps: Float = 1e-5

        public init() {}

        public static let algorithm = "ddpg"

        public static let hyperparameters: [Hyperparameter<Self>] = {
            let activation = Hyperparameter<Self>.activation("activation", [\.activation])
            let sizes = Hyperparameter<Self>.sizes("hidden_layer_sizes", [\.hiddenLayerSizes])
            let tau = Hyperparameter<Self>.float("tau", \.tau)
            return [
                .float("learning_rate", \.learningRate), .float("gamma", \.gamma), tau, tau.alias("polyak"),
                .float("exploration_noise", \.explorationNoise), .float("max_grad_norm", \.maxGradNorm),
                .int("total_timesteps", \.totalTimesteps), .optionalInt("eval_freq", \.evalFreq),
                .int("num_envs", \.numEnvs), .int("gradient_steps", \.gradientSteps), .int("buffer_size", \.bufferSize),
                .int("fill_buffer", \.fillBuffer), .int("batch_size", \.batchSize),
                .bool("normalize_observations", \.normalizeObservations),
                activation, activation.alias("agent_kwargs.activation"),
                sizes, sizes.alias("agent_kwargs.hidden_layer_sizes"), .float("adam_eps", \.adamEps),
                .ignored("env"), .ignored("skip_initial_evaluation"),
            ]
        }()

        public func validate() throws {
            typealias Check = HyperparameterCheck
            try Check.nonNegative(learningRate, "learning_rate")
            try Check.unit(gamma, "gamma")
            try Check.unit(tau, "tau")
            try Check.nonNegative(explorationNoise, "exploration_noise")
            try Check.gradientNorm(maxGradNorm)
            try Check.atLeast(totalTimesteps, 1, "total_timesteps")
            if let evalFreq { try Check.atLeast(evalFreq, 1, "eval_freq") }
            try Check.environments(numEnvs)
            try Check.count(gradientSteps, "gradient_steps")
            try Check.transitions(bufferSize, "buffer_size")
            try Check.count(fillBuffer, "fill_buffer", minimum: 0)
            try Check.transitions(batchSize, "batch_size")
            try Check.sizes(hiddenLayerSizes, "hidden_layer_sizes")
            try Check.nonNegative(adamEps, "adam_eps")
        }

        public var iterations: Int {
            trainingIterations(totalTimesteps: totalTimesteps, evalFreq: evalFreq, stepsPerIteration: numEnvs)
        }
    }

    /// Trains on `env` (continuous actions) from `seed`.
    public static func train(on env: AnyEnvironment, configuration c: Configuration, seed: Int64 = 0) throws -> TrainingResult {
        var result = try train(on: env, configuration: c, key: PRNGKey(seed: seed))
        result.policy.notes["seed"] = "\(seed)"
        return result
    }

    /// Trains from a JAX key, as rejax's `train(config, rng)`.
    public static func train(on env: AnyEnvironment, configuration c: Configuration, key: PRNGKey) throws -> TrainingResult {
        try c.validate()
        try c.checkFootprint(on: env)
        guard case .box(let box) = env.actionSpace else {
            throw AgentError.unsupportedEnvironment("DDPG needs continuous actions; \(env.name) has discrete ones")
        }
        let (obsSize, d, B) = (env.observationSize, box.size, c.batchSize)

        // Keys as rejax 0.0.1's initialize_train_state; the agent's two
        // modules take the init key's halves.
        var rng = key
        let (actorKey, criticKey) = rng.splitOff().split()
        let resetKey = rng.splitOff()

        let actor = DenseNetwork(shape: NetworkShape(input: obsSize, hidden: c.hiddenLayerSizes, output: d,
                                                     activation: c.activation), key: actorKey)
        let critic = DenseNetwork(shape: NetworkShape(input: obsSize + d, hidden: c.hiddenLayerSizes, output: 1,
                                                      activation: c.activation), key: criticKey)
        let (actorTarget, criticTarget) = (actor.copy(), critic.copy())
        let adam = Adam.Configuration(learningRate: c.learningRate, eps: c.adamEps, maxGradNorm: c.maxGradNorm)
        let actorOptimizer = Adam(count: actor.parameterCount, adam)
        let criticOptimizer = Adam(count: critic.parameterCount, adam)

        let collector = TransitionCollector(env: env, numEnvs: c.numEnvs, bufferSize: c.bufferSize, resetKey: resetKey,
                                            normalizeObservations: c.normalizeObservations)
        let batch = Minibatch(size: B, observationSize: obsSize, actionSize: d)
        let rows = Swift.max(c.numEnvs, B)
        let actions = Buffer(rows * d), raw = Buffer(rows * d), targetActions = Buffer(B * d)
        let criticInput = Buffer(B * (obsSize + d)), inputGrad = Buffer(B * (obsSize + d))
        let out = Buffer(B), grad = Buffer(B)
        var updates = 0

        func update() {
            // Actor loss −mean Q(s, μ(s)): dL/dμ through the current critic.
            actor.forward(rows: B, input: batch.observations.p, output: raw.p)
            ActionSampling.squash(rows: B, raw.p, into: actions.p, box: box)
            concatenate(rows: B, batch.observations.p, obsSize, actions.p, d, into: criticInput.p)
            critic.forward(rows: B, input: criticInput.p, output: out.p)
            for r in 0..<B { grad.p[r] = -1 / Float(B) }
            critic.backward(outputGradient: grad.p, inputGradient: inputGrad.p, parameterGradients: false)
            let width = obsSize + d
            for r in 0..<B { for j in 0..<d { raw.p[r * d + j] = inputGrad.p[r * width + obsSize + j] } }
            ActionSampling.squashGradient(rows: B, actions: actions.p, raw.p, box: box)
            actor.backward(outputGradient: raw.p)

            // Critic loss against the targets.
            actorTarget.forward(rows: B, input: batch.nextObservations.p, output: targetActions.p)
            ActionSampling.squash(rows: B, targetActions.p, into: targetActions.p, box: box)
            concatenate(rows: B, batch.nextObservations.p, obsSize, targetActions.p, d, into: criticInput.p)
            criticTarget.forward(rows: B, input: criticInput.p, output: out.p)
            for r in 0..<B { grad.p[r] = batch.rewards.p[r] + (1 - batch.dones.p[r]) * c.gamma * out.p[r] }
            concatenate(rows: B, batch.observations.p, obsSize, batch.actions.p, d, into: criticInput.p)
            critic.forward(rows: B, input: criticInput.p, output: out.p)
            for r in 0..<B { grad.p[r] = (out.p[r] - grad.p[r]) / Float(B) }
            critic.backward(outputGradient: grad.p)

            let norm = Adam.globalNorm([actor, critic])
            actorOptimizer.step(actor, globalNorm: norm)
            criticOptimizer.step(critic, globalNorm: norm)
            updates += 1
        }

        for _ in 0..<c.iterations {
            let startTraining = collector.globalStep > c.fillBuffer
            let actionKey = rng.splitOff()
            if startTraining {
                actor.forward(rows: c.numEnvs, input: collector.actingObservations, output: raw.p)
                ActionSampling.squash(rows: c.numEnvs, raw.p, into: actions.p, box: box)
                ActionSampling.explore(rows: c.numEnvs, actions.p, noise: c.explorationNoise, key: actionKey.split(index: 1),
                                       box: box)
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
            actorTarget.moveToward(actor, polyak: c.tau)
            criticTarget.moveToward(critic, polyak: c.tau)
        }

        let policy = Policy(
            algorithm: "ddpg", environmentID: env.name, shape: actor.shape, parameters: actor.parameters,
            head: .deterministic, actionSpace: env.actionSpace, observationNormalization: collector.rms,
            notes: c.notes(key: key))
        return TrainingResult(policy: policy, environmentSteps: collector.globalStep, updates: updates,
                              multiplyAdds: [actor, critic, actorTarget, criticTarget].reduce(0) { $0 + $1.multiplyAdds })
    }
}

extension DDPG.Configuration: TrainingFootprint {
    var storedTransitions: Int { bufferSize }
    var storedTransitionsName: String { "buffer_size" }
}
