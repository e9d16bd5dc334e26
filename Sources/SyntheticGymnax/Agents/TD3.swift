/// Twin Delayed DDPG (Fujimoto et al., 2018) as rejax 0.0.1's `TD3`, the
/// version the paper's configs were written for:
///
///   each iteration:
///     policy_delay times: act (uniform until more than fill_buffer steps,
///       then clip(μ(s) + exploration_noise · ε, low, high)), step the
///       num_envs environments into the replay buffer and, once filling is
///       over, gradient_steps critic updates on sampled minibatches:
///       ½ (Q_i(s, a) − y)² for both critics, with
///       y = r + γ (1 − done) min(Q₁′, Q₂′)(s′, clip(μ′(s′) + clip(target_noise · ε, ±target_noise_clip), low, high));
///     then one actor update per minibatch of the last critic round,
///       maximising mean(Q₁, Q₂)(s, μ(s)) (rejax averages both critics);
///     then Polyak averaging of actor and critic targets: θ′ ← (1 − tau) θ + tau θ′.
///
/// The actor is rejax's `DeterministicPolicy` (tanh scaled into the box);
/// critics are `QNetwork`s on [observation, action]. Optimisers:
/// clip_by_global_norm(max_grad_norm) (over both critics together) then
/// Adam(learning_rate, eps 1e-5).
public enum TD3 {
    /// rejax 0.0.1's TD3 hyperparameters, by its names, with its defaults.
    public struct Configuration: AgentConfiguration {
        public var learningRate: Float = 0.001
        public var gamma: Float = 0.99
        /// Polyak coefficient of the targets (rejax ≥ 0.1: `polyak`).
        public var tau: Float = 0.95
        public var explorationNoise: Float = 0.3
        public var targetNoise: Float = 0.2
        public var targetNoiseClip: Float = 0.5
        public var maxGradNorm: Float = .infinity
        public var totalTimesteps = 10_000
        public var policyDelay = 2
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
        /// `actor_kwargs.activation`.
        public var actorActivation: Activation = .swish
        /// `critic_kwargs.activation`.
        public var criticActivation: Activation = .swish
        public var hiddenLayerSizes = [64, 64]
        public var adamEps: Float = 1e-5

        public init() {}

        public static let algorithm = "td3"

        public static let hyperparameters: [Hyperparameter<Self>] = {
            let tau = Hyperparameter<Self>.float("tau", \.tau)
            let sizes = Hyperparameter<Self>.sizes("hidden_layer_sizes", [\.hiddenLayerSizes])
            return [
                .float("learning_rate", \.learningRate), .float("gamma", \.gamma), tau, tau.alias("polyak"),
                .float("exploration_noise", \.explorationNoise), .float("target_noise", \.targetNoise),
                .float("target_noise_clip", \.targetNoiseClip), .float("max_grad_norm", \.maxGradNorm),
                .int("total_timesteps", \.totalTimesteps), .int("policy_delay", \.policyDelay),
                .optionalInt("eval_freq", \.evalFreq), .int("num_envs", \.numEnvs), .int("gradient_steps", \.gradientSteps),
                .int("buffer_size", \.bufferSize), .int("fill_buffer", \.fillBuffer), .int("batch_size", \.batchSize),
                .bool("normalize_observations", \.normalizeObservations),
                .activation("actor_kwargs.activation", [\.actorActivation]),
                .activation("critic_kwargs.activation", [\.criticActivation]),
                // One activation for both (rejax ≥ 0.1's agent_kwargs).
                Hyperparameter<Self>.activation("activation", [\.actorActivation, \.criticActivation]).alias("activation"),
                Hyperparameter<Self>.activation("agent_kwargs.activation", [\.actorActivation, \.criticActivation])
                    .alias("agent_kwargs.activation"),
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
            try Check.nonNegative(targetNoise, "target_noise")
            try Check.nonNegative(targetNoiseClip, "target_noise_clip")
            try Check.gradientNorm(maxGradNorm)
            try Check.atLeast(totalTimesteps, 1, "total_timesteps")
            try Check.count(policyDelay, "policy_delay")
            if let evalFreq { try Check.atLeast(evalFreq, 1, "eval_freq") }
            try Check.environments(numEnvs)
            try Check.count(gradientSteps, "gradient_steps")
            try Check.transitions(bufferSize, "buffer_size")
            try Check.count(fillBuffer, "fill_buffer", minimum: 0)
            try Check.transitions(batchSize, "batch_size")
            try Check.sizes(hiddenLayerSizes, "hidden_layer_sizes")
            try Check.nonNegative(adamEps, "adam_eps")
        }

        /// Iterations of policy_delay environment-step rounds.
        public var iterations: Int {
            trainingIterations(totalTimesteps: totalTimesteps, evalFreq: evalFreq, stepsPerIteration: numEnvs * policyDelay)
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
            throw AgentError.unsupportedEnvironment("TD3 needs continuous actions; \(env.name) has discrete ones")
        }
        let (obsSize, d, B) = (env.observationSize, box.size, c.batchSize)

        // Keys as rejax 0.0.1's initialize_train_state.
        let initKeys = key.split(3)
        var rng = initKeys[0]
        let criticKeys = initKeys[1].split(2)
        let resetKey = rng.splitOff()

        let actor = DenseNetwork(shape: NetworkShape(input: obsSize, hidden: c.hiddenLayerSizes, output: d,
                                                     activation: c.actorActivation), key: initKeys[2])
        let criticShape = NetworkShape(input: obsSize + d, hidden: c.hiddenLayerSizes, output: 1, activation: c.criticActivation)
        let critics = criticKeys.map { DenseNetwork(shape: criticShape, key: $0) }
        let actorTarget = actor.copy()
        let criticTargets = critics.map { $0.copy() }
        let adam = Adam.Configuration(learningRate: c.learningRate, eps: c.adamEps, maxGradNorm: c.maxGradNorm)
        let actorOptimizer = Adam(count: actor.parameterCount, adam)
        let criticOptimizers = critics.map { Adam(count: $0.parameterCount, adam) }

        let collector = TransitionCollector(env: env, numEnvs: c.numEnvs, bufferSize: c.bufferSize, resetKey: resetKey,
                                            normalizeObservations: c.normalizeObservations)
        let batches = (0..<c.gradientSteps).map { _ in Minibatch(size: B, observationSize: obsSize, actionSize: d) }
        let actions = Buffer(Swift.max(c.numEnvs, B) * d), raw = Buffer(Swift.max(c.numEnvs, B) * d)
        let criticInput = Buffer(B * (obsSize + d)), targetValues = Buffer(B)
        let out = [Buffer(B), Buffer(B)], grad = [Buffer(B), Buffer(B)]
        let inputGrad = [Buffer(B * (obsSize + d)), Buffer(B * (obsSize + d))]
        var updates = 0

        func updateCritics(_ batch: Minibatch, noiseKey: PRNGKey) {
            actorTarget.forward(rows: B, input: batch.nextObservations.p, output: raw.p)
            ActionSampling.squash(rows: B, raw.p, into: actions.p, box: box)
            for i in 0..<(B * d) {
                let noise = Swift.min(Swift.max(c.targetNoise * noiseKey.normal(at: i), -c.targetNoiseClip), c.targetNoiseClip)
                actions.p[i] = Swift.min(Swift.max(actions.p[i] + noise, box.low[i % d]), box.high[i % d])
            }
            concatenate(rows: B, batch.nextObservations.p, obsSize, actions.p, d, into: criticInput.p)
            for i in 0..<2 { criticTargets[i].forward(rows: B, input: criticInput.p, output: out[i].p) }
            for r in 0..<B {
                targetValues.p[r] = batch.rewards.p[r] + (1 - batch.dones.p[r]) * c.gamma * Swift.min(out[0].p[r], out[1].p[r])
            }
            concatenate(rows: B, batch.observations.p, obsSize, batch.actions.p, d, into: criticInput.p)
            for i in 0..<2 {
                critics[i].forward(rows: B, input: criticInput.p, output: out[i].p)
                for r in 0..<B { grad[i].p[r] = (out[i].p[r] - targetValues.p[r]) / Float(B) }
                critics[i].backward(outputGradient: grad[i].p)
            }
            let norm = Adam.globalNorm(critics)
            for i in 0..<2 { criticOptimizers[i].step(critics[i], globalNorm: norm) }
            updates += 1
        }

        func updateActor(_ batch: Minibatch) {
            actor.forward(rows: B, input: batch.observations.p, output: raw.p)
            ActionSampling.squash(rows: B, raw.p, into: actions.p, box: box)
            concatenate(rows: B, batch.observations.p, obsSize, actions.p, d, into: criticInput.p)
            // −mean over both critics and the batch.
            for i in 0..<2 {
                critics[i].forward(rows: B, input: criticInput.p, output: out[i].p)
                for r in 0..<B { grad[i].p[r] = -1 / Float(2 * B) }
                critics[i].backward(outputGradient: grad[i].p, inputGradient: inputGrad[i].p, parameterGradients: false)
            }
            let width = obsSize + d
            for r in 0..<B {
                for j in 0..<d { raw.p[r * d + j] = inputGrad[0].p[r * width + obsSize + j] + inputGrad[1].p[r * width + obsSize + j] }
            }
            ActionSampling.squashGradient(rows: B, actions: actions.p, raw.p, box: box)
            actor.backward(outputGradient: raw.p)
            actorOptimizer.step(actor)
        }

        for _ in 0..<c.iterations {
            var sampled = false
            for _ in 0..<c.policyDelay {
                let startTraining = collector.globalStep > c.fillBuffer
                let actionKey = rng.splitOff()
                if startTraining {
                    actor.forward(rows: c.numEnvs, input: collector.actingObservations, output: raw.p)
                    ActionSampling.squash(rows: c.numEnvs, raw.p, into: actions.p, box: box)
                    ActionSampling.explore(rows: c.numEnvs, actions.p, noise: c.explorationNoise, key: actionKey, box: box)
                } else {
                    collector.uniformActions(key: actionKey, into: actions.p)
                }
                collector.step(key: rng.splitOff(), actions: actions.p)
                sampled = startTraining
                if startTraining {
                    for batch in batches {
                        collector.sample(into: batch, key: rng.splitOff())
                        // rejax draws the target noise from the state's key itself.
                        updateCritics(batch, noiseKey: rng)
                    }
                }
            }
            if sampled && collector.globalStep > c.fillBuffer {
                for batch in batches { updateActor(batch) }
            }
            actorTarget.moveToward(actor, polyak: c.tau)
            for i in 0..<2 { criticTargets[i].moveToward(critics[i], polyak: c.tau) }
        }

        let policy = Policy(
            algorithm: "td3", environmentID: env.name, shape: actor.shape, parameters: actor.parameters,
            head: .deterministic, actionSpace: env.actionSpace, observationNormalization: collector.rms,
            notes: c.notes(key: key))
        return TrainingResult(policy: policy, environmentSteps: collector.globalStep, updates: updates,
                              multiplyAdds: ([actor, actorTarget] + critics + criticTargets).reduce(0) { $0 + $1.multiplyAdds })
    }
}

extension TD3.Configuration: TrainingFootprint {
    var storedTransitions: Int { bufferSize }
    var storedTransitionsName: String { "buffer_size" }
}
