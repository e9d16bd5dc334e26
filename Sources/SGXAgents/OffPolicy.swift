// What the off-policy agents (DQN, SAC, DDPG, TD3) configure alike, once, as
// rejax composes its agents from mixins: a replay buffer filled by num_envs
// environments and trained on in minibatches (`ReplayConfiguration`), Polyak
// target networks (`PolyakConfiguration`: SAC, DDPG, TD3), and a
// deterministic policy explored with Gaussian noise under one gradient clip
// (`DeterministicPolicyConfiguration`: DDPG, TD3). Each agent's
// Configuration declares its fields with its defaults; the names, the
// checks and the set-up they share are here.

import SGXSupport
import SGXRandom
import SGXNN
import SGXEnvironments

/// The replay buffer, the training schedule, the networks' sizes and Adam's
/// eps, by rejax's names.
protocol ReplayConfiguration: AgentConfiguration, TrainingFootprint {
    var learningRate: Float { get set }
    var gamma: Float { get set }
    var totalTimesteps: Int { get set }
    /// rejax's evaluation interval, which rounds the iteration count up per
    /// interval; nil: total_timesteps.
    var evalFreq: Int? { get set }
    var numEnvs: Int { get set }
    var gradientSteps: Int { get set }
    var bufferSize: Int { get set }
    var fillBuffer: Int { get set }
    var batchSize: Int { get set }
    var normalizeObservations: Bool { get set }
    var hiddenLayerSizes: [Int] { get set }
    var adamEps: Float { get set }
}

extension ReplayConfiguration {
    /// learning_rate, gamma, total_timesteps, eval_freq, num_envs, buffer_size,
    /// fill_buffer, batch_size, gradient_steps, normalize_observations.
    static var replayHyperparameters: [Hyperparameter<Self>] {
        [
            .float("learning_rate", \.learningRate), .float("gamma", \.gamma),
            .int("total_timesteps", \.totalTimesteps), .optionalInt("eval_freq", \.evalFreq),
            .int("num_envs", \.numEnvs), .int("buffer_size", \.bufferSize), .int("fill_buffer", \.fillBuffer),
            .int("batch_size", \.batchSize), .int("gradient_steps", \.gradientSteps),
            .bool("normalize_observations", \.normalizeObservations),
        ]
    }

    /// hidden_layer_sizes (also as agent_kwargs.hidden_layer_sizes),
    /// adam_eps, and the names rejax's configs carry that mean nothing here.
    static var networkHyperparameters: [Hyperparameter<Self>] {
        let sizes = Hyperparameter<Self>.sizes("hidden_layer_sizes", [\.hiddenLayerSizes])
        return [sizes, sizes.alias("agent_kwargs.hidden_layer_sizes"), .float("adam_eps", \.adamEps),
                .ignored("env"), .ignored("skip_initial_evaluation")]
    }

    /// Checks the values above, in their order.
    func validateReplay() throws {
        typealias Check = HyperparameterCheck
        try Check.nonNegative(learningRate, "learning_rate")
        try Check.unit(gamma, "gamma")
        try Check.atLeast(totalTimesteps, 1, "total_timesteps")
        if let evalFreq { try Check.atLeast(evalFreq, 1, "eval_freq") }
        try Check.environments(numEnvs)
        try Check.transitions(bufferSize, "buffer_size")
        try Check.count(fillBuffer, "fill_buffer", minimum: 0)
        try Check.transitions(batchSize, "batch_size")
        try Check.count(gradientSteps, "gradient_steps")
        try Check.sizes(hiddenLayerSizes, "hidden_layer_sizes")
        try Check.nonNegative(adamEps, "adam_eps")
    }

    /// Iterations of `stepsPerIteration` environment steps.
    func iterations(stepsPerIteration: Int) -> Int {
        trainingIterations(totalTimesteps: totalTimesteps, evalFreq: evalFreq, stepsPerIteration: stepsPerIteration)
    }

    var storedTransitions: Int { bufferSize }
    var storedTransitionsName: String { "buffer_size" }
}

/// Target networks moved toward the trained ones by Polyak averaging:
/// θ′ ← (1 − tau) θ + tau θ′.
protocol PolyakConfiguration: ReplayConfiguration {
    /// The Polyak coefficient (rejax ≥ 0.1: `polyak`).
    var tau: Float { get set }
}

extension PolyakConfiguration {
    /// tau, also as polyak.
    static var polyakHyperparameters: [Hyperparameter<Self>] {
        let tau = Hyperparameter<Self>.float("tau", \.tau)
        return [tau, tau.alias("polyak")]
    }

    func validatePolyak() throws { try HyperparameterCheck.unit(tau, "tau") }
}

/// A deterministic policy μ (rejax's `DeterministicPolicy`: tanh scaled into
/// the box) explored with Gaussian noise, its gradients clipped by global
/// norm.
protocol DeterministicPolicyConfiguration: PolyakConfiguration {
    var explorationNoise: Float { get set }
    var maxGradNorm: Float { get set }
}

extension DeterministicPolicyConfiguration {
    /// exploration_noise, max_grad_norm.
    static var explorationHyperparameters: [Hyperparameter<Self>] {
        [.float("exploration_noise", \.explorationNoise), .float("max_grad_norm", \.maxGradNorm)]
    }

    func validateExploration() throws {
        try HyperparameterCheck.nonNegative(explorationNoise, "exploration_noise")
        try HyperparameterCheck.gradientNorm(maxGradNorm)
    }

    /// The Adam of every network: clip_by_global_norm(max_grad_norm), then
    /// Adam(learning_rate, adam_eps).
    var adam: Adam.Configuration {
        Adam.Configuration(learningRate: learningRate, eps: adamEps, maxGradNorm: maxGradNorm)
    }
}

/// `train(on:configuration:key:)` from a seed (`PRNGKey(seed:)`), the seed
/// noted in the policy.
func training(seed: Int64, _ train: (PRNGKey) throws -> TrainingResult) rethrows -> TrainingResult {
    var result = try train(PRNGKey(seed: seed))
    result.policy.notes["seed"] = "\(seed)"
    return result
}

/// What DDPG and TD3 train alike: an actor μ on observations and critics on
/// [observation, action] for a box of `d` actions, their targets, the
/// replay buffer and its collector, and the acting: uniform actions until
/// more than fill_buffer steps were taken, then clip(μ(s) + exploration_noise
/// · ε, low, high).
struct DeterministicActorCritic {
    let box: BoxSpace
    let observationSize: Int, actionSize: Int
    let actor: DenseNetwork
    let actorTarget: DenseNetwork
    let critics: [DenseNetwork]
    let criticTargets: [DenseNetwork]
    let actorOptimizer: Adam
    let criticOptimizers: [Adam]
    let collector: TransitionCollector
    /// Scratch of max(num_envs, batch_size) actions: the squashed actions and
    /// the actor's raw outputs.
    let actions: Buffer, raw: Buffer

    /// Refuses a discrete action space, naming `algorithm`.
    init<C: DeterministicPolicyConfiguration>(
        _ algorithm: String, on env: AnyEnvironment, configuration c: C, actorActivation: Activation,
        criticActivation: Activation, actorKey: PRNGKey, criticKeys: [PRNGKey], resetKey: PRNGKey
    ) throws {
        guard case .box(let box) = env.actionSpace else {
            throw AgentError.unsupportedEnvironment("\(algorithm) needs continuous actions; \(env.name) has discrete ones")
        }
        let (obsSize, d) = (env.observationSize, box.size)
        (self.box, observationSize, actionSize) = (box, obsSize, d)
        actor = DenseNetwork(shape: NetworkShape(input: obsSize, hidden: c.hiddenLayerSizes, output: d,
                                                 activation: actorActivation), key: actorKey)
        let criticShape = NetworkShape(input: obsSize + d, hidden: c.hiddenLayerSizes, output: 1,
                                       activation: criticActivation)
        critics = criticKeys.map { DenseNetwork(shape: criticShape, key: $0) }
        actorTarget = actor.copy()
        criticTargets = critics.map { $0.copy() }
        actorOptimizer = Adam(count: actor.parameterCount, c.adam)
        criticOptimizers = critics.map { Adam(count: $0.parameterCount, c.adam) }
        collector = TransitionCollector(env: env, numEnvs: c.numEnvs, bufferSize: c.bufferSize, resetKey: resetKey,
                                        normalizeObservations: c.normalizeObservations)
        let rows = Swift.max(c.numEnvs, c.batchSize)
        (actions, raw) = (Buffer(rows * d), Buffer(rows * d))
    }

    /// Acts in the num_envs environments and steps them into the buffer:
    /// μ(s) explored with `noiseKey` once `exploring`, uniform actions from
    /// `actionKey` before.
    func act<C: DeterministicPolicyConfiguration>(_ c: C, exploring: Bool, actionKey: PRNGKey, noiseKey: PRNGKey,
                                                  stepKey: PRNGKey) {
        if exploring {
            actor.forward(rows: c.numEnvs, input: collector.actingObservations, output: raw.p)
            ActionSampling.squash(rows: c.numEnvs, raw.p, into: actions.p, box: box)
            ActionSampling.explore(rows: c.numEnvs, actions.p, noise: c.explorationNoise, key: noiseKey, box: box)
        } else {
            collector.uniformActions(key: actionKey, into: actions.p)
        }
        collector.step(key: stepKey, actions: actions.p)
    }

    /// Polyak averaging of every target toward its network.
    func moveTargets(tau: Float) {
        actorTarget.moveToward(actor, polyak: tau)
        for (target, critic) in zip(criticTargets, critics) { target.moveToward(critic, polyak: tau) }
    }

    /// The policy trained: the actor, deterministic.
    func result<C: AgentConfiguration>(_ algorithm: String, on env: AnyEnvironment, configuration c: C, key: PRNGKey,
                                       updates: Int) -> TrainingResult {
        let policy = Policy(
            algorithm: algorithm, environmentID: env.name, shape: actor.shape, parameters: actor.parameters,
            head: .deterministic, actionSpace: env.actionSpace, observationNormalization: collector.rms,
            notes: c.notes(key: key))
        return TrainingResult(policy: policy, environmentSteps: collector.globalStep, updates: updates,
                              multiplyAdds: ([actor, actorTarget] + critics + criticTargets).reduce(0) { $0 + $1.multiplyAdds })
    }
}
