import SGXSupport
import SGXRandom
import SGXNN
import SGXEnvironments

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
    /// rejax 0.0.1's TD3 hyperparameters, by its names, with its defaults
    /// (the ones every off-policy agent has: OffPolicy.swift).
    public struct Configuration: AgentConfiguration, DeterministicPolicyConfiguration {
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
        /// nil (our default): total_timesteps. (rejax's default interval
        /// would train a run shorter than it for a whole interval.)
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

        public static let hyperparameters: [Hyperparameter<Self>] =
            replayHyperparameters + polyakHyperparameters + explorationHyperparameters + [
                .float("target_noise", \.targetNoise), .float("target_noise_clip", \.targetNoiseClip),
                .int("policy_delay", \.policyDelay),
                .activation("actor_kwargs.activation", [\.actorActivation]),
                .activation("critic_kwargs.activation", [\.criticActivation]),
                // One activation for both (rejax ≥ 0.1's agent_kwargs).
                Hyperparameter<Self>.activation("activation", [\.actorActivation, \.criticActivation]).alias("activation"),
                Hyperparameter<Self>.activation("agent_kwargs.activation", [\.actorActivation, \.criticActivation])
                    .alias("agent_kwargs.activation"),
            ] + networkHyperparameters

        public func validate() throws {
            try validateReplay()
            try validatePolyak()
            try validateExploration()
            try HyperparameterCheck.nonNegative(targetNoise, "target_noise")
            try HyperparameterCheck.nonNegative(targetNoiseClip, "target_noise_clip")
            try HyperparameterCheck.count(policyDelay, "policy_delay")
        }

        /// Iterations of policy_delay environment-step rounds.
        public var iterations: Int { iterations(stepsPerIteration: numEnvs * policyDelay) }
    }

    /// Trains on `env` (continuous actions) from `seed`.
    public static func train(on env: AnyEnvironment, configuration c: Configuration, seed: Int64 = 0) throws -> TrainingResult {
        try training(seed: seed) { try train(on: env, configuration: c, key: $0) }
    }

    /// Trains from a JAX key, as rejax's `train(config, rng)`.
    public static func train(on env: AnyEnvironment, configuration c: Configuration, key: PRNGKey) throws -> TrainingResult {
        try c.validate()
        try c.checkFootprint(on: env)

        // Keys as rejax 0.0.1's initialize_train_state.
        let initKeys = key.split(3)
        var rng = initKeys[0]
        let criticKeys = initKeys[1].split(2)
        let resetKey = rng.splitOff()

        let agent = try DeterministicActorCritic(
            "TD3", on: env, configuration: c, actorActivation: c.actorActivation,
            criticActivation: c.criticActivation, actorKey: initKeys[2], criticKeys: criticKeys, resetKey: resetKey)
        let (actor, actorTarget, critics, criticTargets) = (agent.actor, agent.actorTarget, agent.critics, agent.criticTargets)
        let (actorOptimizer, criticOptimizers) = (agent.actorOptimizer, agent.criticOptimizers)
        let (box, obsSize, d, B) = (agent.box, agent.observationSize, agent.actionSize, c.batchSize)
        let (actions, raw) = (agent.actions, agent.raw)
        let batches = (0..<c.gradientSteps).map { _ in Minibatch(size: B, observationSize: obsSize, actionSize: d) }
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
                let startTraining = agent.collector.globalStep > c.fillBuffer
                let actionKey = rng.splitOff()
                agent.act(c, exploring: startTraining, actionKey: actionKey, noiseKey: actionKey, stepKey: rng.splitOff())
                sampled = startTraining
                if startTraining {
                    for batch in batches {
                        agent.collector.sample(into: batch, key: rng.splitOff())
                        // rejax draws the target noise from the state's key itself.
                        updateCritics(batch, noiseKey: rng)
                    }
                }
            }
            if sampled && agent.collector.globalStep > c.fillBuffer {
                for batch in batches { updateActor(batch) }
            }
            agent.moveTargets(tau: c.tau)
        }
        return agent.result("td3", on: env, configuration: c, key: key, updates: updates)
    }
}
