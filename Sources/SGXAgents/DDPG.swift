import SGXSupport
import SGXRandom
import SGXNN
import SGXEnvironments

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
    /// rejax 0.0.1's DDPG hyperparameters, by its names, with its defaults
    /// (the ones every off-policy agent has: OffPolicy.swift).
    public struct Configuration: AgentConfiguration, DeterministicPolicyConfiguration {
        public var learningRate: Float = 0.001
        public var gamma: Float = 0.99
        /// Polyak coefficient of the targets.
        public var tau: Float = 0.95
        public var explorationNoise: Float = 0.3
        public var maxGradNorm: Float = .infinity
        public var totalTimesteps = 10_000
        /// nil (our default): total_timesteps. (rejax's default interval
        /// would train a run shorter than it for a whole interval.)
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
            return replayHyperparameters + polyakHyperparameters + explorationHyperparameters
                + [activation, activation.alias("agent_kwargs.activation")] + networkHyperparameters
        }()

        public func validate() throws {
            try validateReplay()
            try validatePolyak()
            try validateExploration()
        }

        public var iterations: Int { iterations(stepsPerIteration: numEnvs) }
    }

    /// Trains on `env` (continuous actions) from `seed`.
    public static func train(on env: AnyEnvironment, configuration c: Configuration, seed: Int64 = 0) throws -> TrainingResult {
        try training(seed: seed) { try train(on: env, configuration: c, key: $0) }
    }

    /// Trains from a JAX key, as rejax's `train(config, rng)`.
    public static func train(on env: AnyEnvironment, configuration c: Configuration, key: PRNGKey) throws -> TrainingResult {
        try c.validate()
        try c.checkFootprint(on: env)

        // Keys as rejax 0.0.1's initialize_train_state; the agent's two
        // modules take the init key's halves.
        var rng = key
        let (actorKey, criticKey) = rng.splitOff().split()
        let resetKey = rng.splitOff()

        let agent = try DeterministicActorCritic(
            "DDPG", on: env, configuration: c, actorActivation: c.activation, criticActivation: c.activation,
            actorKey: actorKey, criticKeys: [criticKey], resetKey: resetKey)
        let (actor, critic, actorTarget, criticTarget) = (agent.actor, agent.critics[0], agent.actorTarget, agent.criticTargets[0])
        let (box, obsSize, d, B) = (agent.box, agent.observationSize, agent.actionSize, c.batchSize)
        let (actions, raw) = (agent.actions, agent.raw)
        let batch = Minibatch(size: B, observationSize: obsSize, actionSize: d)
        let targetActions = Buffer(B * d)
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

            // One optimiser over both, as rejax's single parameter tree.
            let norm = Adam.globalNorm([actor, critic])
            agent.actorOptimizer.step(actor, globalNorm: norm)
            agent.criticOptimizers[0].step(critic, globalNorm: norm)
            updates += 1
        }

        for _ in 0..<c.iterations {
            let startTraining = agent.collector.globalStep > c.fillBuffer
            let actionKey = rng.splitOff()
            agent.act(c, exploring: startTraining, actionKey: actionKey, noiseKey: actionKey.split(index: 1),
                      stepKey: rng.splitOff())
            if startTraining {
                for _ in 0..<c.gradientSteps {
                    agent.collector.sample(into: batch, key: rng.splitOff())
                    update()
                }
            }
            agent.moveTargets(tau: c.tau)
        }
        return agent.result("ddpg", on: env, configuration: c, key: key, updates: updates)
    }
}
