import SGXSupport
import SGXRandom
import SGXNN
import SGXEnvironments
import Foundation

/// Proximal Policy Optimization (Schulman et al., 2017) as rejax's `PPO`
/// (rejax 0.1.3, the agent the synthetic-gymnax paper trains), in one
/// readable pass like CleanRL's ppo.py:
///
///   for each iteration (ceil(total_timesteps / (num_envs · num_steps))):
///     1. roll out num_steps steps of num_envs environments with the current
///        actor, storing observations, actions, log-probs, values, rewards, dones;
///     2. advantages by GAE(γ, λ), value targets = advantages + values;
///     3. num_epochs times: shuffle the batch (jax.random.permutation) and,
///        per minibatch, one Adam step of the actor on the clipped surrogate
///        minus the entropy bonus, then one of the critic on the clipped
///        value loss.
///
/// Actor and critic are separate networks with separate optimisers
/// (`clip_by_global_norm(max_grad_norm)` then Adam). Discrete actions use a
/// categorical policy over logits; continuous ones a Gaussian with a
/// state-independent log standard deviation, sampled unclipped and clipped
/// only when given to the environment. Episodes that end by the time limit
/// count as terminal (gymnax 0.0.9's `done`), as in rejax.
///
/// Randomness follows rejax's key use from `PRNGKey(seed)` (init keys, one
/// split per rollout step and per epoch, `jax.random.permutation` for the
/// minibatches); the same seed gives the same weights bit for bit, on any
/// number of threads. Not bit-identical to rejax itself: Flax derives its
/// initial weights differently and XLA sums in another order.
///
/// Where this differs from rejax 0.1.3 on purpose:
/// - `max_grad_norm` clips by global norm, as rejax did when the paper was
///   written (mid-2024); rejax 0.1.3 clips element-wise (`optax.clip`).
/// - With `normalize_observations`, the first observations (from reset) are
///   normalised too; rejax 0.1.3 feeds them raw.
/// - Without `eval_freq`, iterations are ceil(total_timesteps / (num_envs ·
///   num_steps)); with it, rounded up per evaluation interval as rejax.
public enum PPO {
    /// rejax's PPO hyperparameters, by its names (`num_envs`, ...), with
    /// its defaults.
    public struct Configuration: AgentConfiguration {
        public var numEnvs = 64
        public var numSteps = 64
        public var numEpochs = 8
        public var numMinibatches = 16
        public var learningRate: Float = 3e-4
        /// Global-norm gradient clipping; infinity (the default) disables it.
        public var maxGradNorm: Float = .infinity
        public var gamma: Float = 0.99
        public var gaeLambda: Float = 0.95
        public var clipEps: Float = 0.2
        public var entCoef: Float = 0.01
        public var vfCoef: Float = 0.5
        public var totalTimesteps = 131_072
        /// rejax's evaluation interval, which rounds the iteration count
        /// (see `iterations`); nil: total_timesteps.
        public var evalFreq: Int?
        public var normalizeObservations = false
        public var normalizeRewards = false
        public var rewardNormalizationDiscount: Float = 0.99
        /// `agent_kwargs.activation` (rejax's default: swish).
        public var activation: Activation = .swish
        /// `agent_kwargs.hidden_layer_sizes`.
        public var hiddenLayerSizes = [64, 64]
        /// Adam's eps: optax's default, which rejax ≥ 0.1 uses (the rejax of
        /// the paper's time used 1e-5).
        public var adamEps: Float = 1e-8
        /// Kernel initialisation: Flax's lecun_normal, as rejax; or
        /// orthogonal (√2 hidden, 0.01 policy head, 1 value head) as CleanRL.
        public var initializer: Initializer = .lecunNormal

        public enum Initializer: String, Sendable, CaseIterable {
            case lecunNormal = "lecun_normal"
            case orthogonal
        }

        public init() {}

        public static let algorithm = "ppo"

        public static let hyperparameters: [Hyperparameter<Self>] = {
            let activation = Hyperparameter<Self>.activation("activation", [\.activation])
            let sizes = Hyperparameter<Self>.sizes("hidden_layer_sizes", [\.hiddenLayerSizes])
            return [
                .int("num_envs", \.numEnvs), .int("num_steps", \.numSteps), .int("num_epochs", \.numEpochs),
                .int("num_minibatches", \.numMinibatches), .float("learning_rate", \.learningRate),
                .float("max_grad_norm", \.maxGradNorm), .float("gamma", \.gamma), .float("gae_lambda", \.gaeLambda),
                .float("clip_eps", \.clipEps), .float("ent_coef", \.entCoef), .float("vf_coef", \.vfCoef),
                .int("total_timesteps", \.totalTimesteps), .optionalInt("eval_freq", \.evalFreq),
                .bool("normalize_observations", \.normalizeObservations), .bool("normalize_rewards", \.normalizeRewards),
                .float("reward_normalization_discount", \.rewardNormalizationDiscount), .float("adam_eps", \.adamEps),
                activation, activation.alias("agent_kwargs.activation"),
                sizes, sizes.alias("agent_kwargs.hidden_layer_sizes"),
                .choice("initializer", \.initializer), .ignored("env"), .ignored("skip_initial_evaluation"),
            ]
        }()

        /// Throws for the first invalid hyperparameter, naming it.
        public func validate() throws {
            typealias Check = HyperparameterCheck
            try Check.environments(numEnvs)
            try Check.transitions(numSteps, "num_steps")
            try Check.require(numEnvs * numSteps <= Limits.batch, "num_steps",  // both bounded: no overflow
                              "num_envs * num_steps = \(numEnvs) * \(numSteps) = \(numEnvs * numSteps) exceeds the bound of \(Limits.batch) transitions per rollout (SGX_MAX_BATCH)")
            try Check.count(numEpochs, "num_epochs")
            try Check.transitions(numMinibatches, "num_minibatches")
            try Check.require((numEnvs * numSteps) % numMinibatches == 0, "num_minibatches",
                              "num_steps * num_envs = \(numSteps) * \(numEnvs) = \(numSteps * numEnvs) is not divisible by num_minibatches = \(numMinibatches)")
            try Check.atLeast(totalTimesteps, 1, "total_timesteps")
            if let evalFreq { try Check.atLeast(evalFreq, 1, "eval_freq") }
            try Check.nonNegative(learningRate, "learning_rate")
            try Check.gradientNorm(maxGradNorm)
            try Check.unit(gamma, "gamma")
            try Check.unit(gaeLambda, "gae_lambda")
            try Check.nonNegative(clipEps, "clip_eps")
            try Check.require(entCoef.isFinite, "ent_coef", "must be finite, got \(entCoef)")
            try Check.nonNegative(vfCoef, "vf_coef")
            try Check.unit(rewardNormalizationDiscount, "reward_normalization_discount")
            try Check.nonNegative(adamEps, "adam_eps")
            try Check.sizes(hiddenLayerSizes, "hidden_layer_sizes")
        }

        /// Transitions per iteration (one rollout).
        public var batchSize: Int { numEnvs * numSteps }
        public var minibatchSize: Int { batchSize / numMinibatches }
        /// Training iterations: ceil(total_timesteps / batch size), rounded
        /// per evaluation interval as rejax does.
        public var iterations: Int {
            trainingIterations(totalTimesteps: totalTimesteps, evalFreq: evalFreq, stepsPerIteration: batchSize)
        }
    }

    /// What `train` returns.
    public struct Result: Sendable {
        public var policy: Policy
        /// The critic's flat parameters (shape [obs, hidden..., 1]).
        public var critic: [Float]
        public var environmentSteps: Int
        /// Adam steps of the actor (the critic took as many).
        public var updates: Int
        /// Multiply-adds of every network pass (forward, backward), both networks.
        public var multiplyAdds: Int
    }

    /// Trains on `env` (batched, auto-reset) from `seed`.
    public static func train(on env: AnyEnvironment, configuration c: Configuration, seed: Int64 = 0) throws -> Result {
        var result = try train(on: env, configuration: c, key: PRNGKey(seed: seed))
        result.policy.notes["seed"] = "\(seed)"
        return result
    }

    /// Trains from a JAX key, as rejax's `train(config, rng)`.
    public static func train(on env: AnyEnvironment, configuration c: Configuration, key: PRNGKey) throws -> Result {
        try c.validate()
        try c.checkFootprint(on: env)
        let discrete = env.actionSpace.isDiscrete
        let box: BoxSpace? = { if case .box(let b) = env.actionSpace { return b } else { return nil } }()
        let obsSize = env.observationSize
        let headSize = env.actionSpace.numActions  // logits, or Gaussian means
        let actionSize = env.actionSpace.size     // floats per stored action
        let (N, T, B) = (c.numEnvs, c.numSteps, c.minibatchSize)
        let batchSize = c.batchSize

        // Keys as rejax's init_state: `rng, sub = split(rng)` per registered
        // init, in name order (base rng, environments, networks).
        var initRNG = key
        var rng = initRNG.splitOff()
        let envKey = initRNG.splitOff().split(index: 1)
        let networkKey = initRNG.splitOff()
        let (actorKey, criticKey) = (networkKey.split(index: 1), networkKey.split(index: 2))

        // Networks and optimisers.
        let orthogonal = c.initializer == .orthogonal
        let actor = DenseNetwork(
            shape: NetworkShape(input: obsSize, hidden: c.hiddenLayerSizes, output: headSize, activation: c.activation),
            key: actorKey, hidden: orthogonal ? .orthogonal(gain: Float(2).squareRoot()) : .lecunNormal,
            output: orthogonal ? .orthogonal(gain: 0.01) : .lecunNormal, extraCount: discrete ? 0 : headSize)
        let critic = DenseNetwork(
            shape: NetworkShape(input: obsSize, hidden: c.hiddenLayerSizes, output: 1, activation: c.activation),
            key: criticKey, hidden: orthogonal ? .orthogonal(gain: Float(2).squareRoot()) : .lecunNormal,
            output: orthogonal ? .orthogonal(gain: 1) : .lecunNormal)
        let adam = Adam.Configuration(learningRate: c.learningRate, eps: c.adamEps, maxGradNorm: c.maxGradNorm)
        let actorOptimizer = Adam(count: actor.parameterCount, adam)
        let criticOptimizer = Adam(count: critic.parameterCount, adam)

        // Environments.
        let envs = EnvironmentBatch(env, count: N)
        envs.reset(key: envKey)
        var obsRMS = RunningMeanStd(size: obsSize)
        var rewardRMS = RunningMeanStd(size: 1)
        var discountedReturns = [Float](repeating: 0, count: N)
        let lastObs = Buffer(N * obsSize)
        lastObs.p.update(from: envs.observations, count: N * obsSize)
        if c.normalizeObservations {
            obsRMS.update(rows: N, lastObs.p)
            obsRMS.normalize(rows: N, lastObs.p)
        }
        var lastDone = [Bool](repeating: false, count: N)

        // The rollout (time-major: transition t·N + e) and its minibatches.
        let obs = Buffer(batchSize * obsSize), actions = Buffer(batchSize * actionSize)
        let logProbs = Buffer(batchSize), values = Buffer(batchSize), rewards = Buffer(batchSize)
        let dones = Buffer(batchSize), advantages = Buffer(batchSize), targets = Buffer(batchSize)
        let envActions = Buffer(N * actionSize), lastValues = Buffer(N)
        let mbObs = Buffer(B * obsSize), mbActions = Buffer(B * actionSize), mbLogProbs = Buffer(B)
        let mbAdvantages = Buffer(B), mbTargets = Buffer(B), mbValues = Buffer(B)
        let head = Buffer(Swift.max(N, B) * headSize), headGradient = Buffer(B * headSize)
        let valueOut = Buffer(B), valueGradient = Buffer(B)
        var permutation = [Int](repeating: 0, count: batchSize)
        var sortKeys = [UInt32](repeating: 0, count: batchSize)
        var updates = 0

        /// One Adam step of the actor on the minibatch: clipped surrogate and entropy bonus.
        func updateActor() {
            actor.forward(rows: B, input: mbObs.p, output: head.p)
            normalizeAdvantages(mbAdvantages.p, count: B)
            if discrete {
                categoricalActorGradient(c, rows: B, n: headSize, logits: head.p, actions: mbActions.p,
                                         oldLogProbs: mbLogProbs.p, advantages: mbAdvantages.p, into: headGradient.p)
            } else {
                gaussianActorGradient(c, rows: B, size: headSize, means: head.p, logStd: actor.extraPointer,
                                      actions: mbActions.p, oldLogProbs: mbLogProbs.p, advantages: mbAdvantages.p,
                                      into: headGradient.p, logStdGradient: actor.gradientPointer + actor.shape.parameterCount)
            }
            actor.backward(outputGradient: headGradient.p)
            actorOptimizer.step(actor)
        }

        /// One Adam step of the critic on the minibatch: clipped value loss.
        func updateCritic() {
            critic.forward(rows: B, input: mbObs.p, output: valueOut.p)
            criticGradient(c, rows: B, values: valueOut.p, oldValues: mbValues.p, targets: mbTargets.p,
                           into: valueGradient.p)
            critic.backward(outputGradient: valueGradient.p)
            criticOptimizer.step(critic)
        }

        for _ in 0..<c.iterations {
            // 1. Rollout.
            for t in 0..<T {
                let (stepKey, actionKey) = rng.splitOff().split()
                let at = t * N
                (obs.p + at * obsSize).update(from: lastObs.p, count: N * obsSize)
                actor.forward(rows: N, input: lastObs.p, output: head.p)
                critic.forward(rows: N, input: lastObs.p, output: values.p + at)
                let sample = { (r: Int, j: Int) in (actionKey, r * headSize + j) }
                if discrete {
                    ActionSampling.categorical(rows: N, actions: headSize, logits: head.p, into: actions.p + at,
                                               logProbs: logProbs.p + at, greedy: false, sample: sample)
                    envActions.p.update(from: actions.p + at, count: N)
                } else {
                    ActionSampling.gaussian(rows: N, size: headSize, means: head.p, logStd: actor.extraPointer,
                                            into: actions.p + at * actionSize, logProbs: logProbs.p + at,
                                            deterministic: false, sample: sample)
                    envActions.p.update(from: actions.p + at * actionSize, count: N * actionSize)
                    ActionSampling.clip(rows: N, envActions.p, low: box!.low, high: box!.high)
                }
                envs.step(key: stepKey, actions: envActions.p)
                lastObs.p.update(from: envs.observations, count: N * obsSize)
                if c.normalizeObservations {
                    obsRMS.update(rows: N, lastObs.p)
                    obsRMS.normalize(rows: N, lastObs.p)
                }
                for e in 0..<N {
                    let done = envs.dones[e] != 0
                    rewards.p[at + e] = envs.rewards[e]
                    dones.p[at + e] = done ? 1 : 0
                    lastDone[e] = done
                }
                if c.normalizeRewards {
                    // rejax: returns = r + (1 − done)·discount·returns; r / √(var(returns) + 1e-8).
                    for e in 0..<N {
                        discountedReturns[e] = rewards.p[at + e]
                            + (1 - dones.p[at + e]) * c.rewardNormalizationDiscount * discountedReturns[e]
                    }
                    rewardRMS.update(rows: N, discountedReturns)
                    let scale = 1 / (rewardRMS.variance[0] + 1e-8).squareRoot()
                    for e in 0..<N { rewards.p[at + e] *= scale }
                }
            }

            // 2. Generalised advantage estimation, backwards in time.
            critic.forward(rows: N, input: lastObs.p, output: lastValues.p)
            for e in 0..<N {
                var advantage: Float = 0
                var nextValue = lastDone[e] ? 0 : lastValues.p[e]
                for t in stride(from: T - 1, through: 0, by: -1) {
                    let i = t * N + e
                    let notDone = 1 - dones.p[i]
                    let delta = rewards.p[i] + c.gamma * nextValue * notDone - values.p[i]
                    advantage = delta + c.gamma * c.gaeLambda * notDone * advantage
                    advantages.p[i] = advantage
                    targets.p[i] = advantage + values.p[i]
                    nextValue = values.p[i]
                }
            }

            // 3. Epochs of minibatch updates.
            for _ in 0..<c.numEpochs {
                rng.splitOff().permutation(into: &permutation, sortKeys: &sortKeys)
                for m in 0..<c.numMinibatches {
                    for r in 0..<B {
                        let i = permutation[m * B + r]
                        (mbObs.p + r * obsSize).update(from: obs.p + i * obsSize, count: obsSize)
                        (mbActions.p + r * actionSize).update(from: actions.p + i * actionSize, count: actionSize)
                        mbLogProbs.p[r] = logProbs.p[i]
                        mbAdvantages.p[r] = advantages.p[i]
                        mbTargets.p[r] = targets.p[i]
                        mbValues.p[r] = values.p[i]
                    }
                    // One after the other: handing the critic to a second
                    // core costs more than its update at these sizes.
                    updateActor()
                    updateCritic()
                    updates += 1
                }
            }
        }

        let policy = Policy(
            algorithm: "ppo", environmentID: env.name, shape: actor.shape, parameters: actor.parameters,
            head: discrete ? .categorical : .gaussian, actionSpace: env.actionSpace,
            observationNormalization: c.normalizeObservations ? obsRMS : nil,
            notes: c.notes(key: key))
        return Result(policy: policy, critic: critic.parameters, environmentSteps: c.iterations * batchSize,
                      updates: updates, multiplyAdds: actor.multiplyAdds + critic.multiplyAdds)
    }

    // MARK: Losses and their gradients with respect to the network outputs

    /// (A − mean(A)) / (std(A) + 1e-8) in place, std without Bessel's correction.
    static func normalizeAdvantages(_ a: UnsafeMutablePointer<Float>, count: Int) {
        var sum: Float = 0
        for i in 0..<count { sum += a[i] }
        let mean = sum / Float(count)
        var squares: Float = 0
        for i in 0..<count { squares += (a[i] - mean) * (a[i] - mean) }
        let scale = 1 / ((squares / Float(count)).squareRoot() + 1e-8)
        for i in 0..<count { a[i] = (a[i] - mean) * scale }
    }

    /// d/d(log π) of −mean(min(ratio·A, clip(ratio, 1 ± ε)·A)) for one row,
    /// as JAX differentiates it (`minimum` splits a tie evenly; `clip` passes
    /// the gradient strictly inside its bounds).
    @inline(__always)
    static func surrogateGradient(logProb: Float, oldLogProb: Float, advantage: Float, clipEps: Float, rows: Int) -> Float {
        let ratio = expf(logProb - oldLogProb)
        let clipped = Swift.min(Swift.max(ratio, 1 - clipEps), 1 + clipEps)
        let inside: Float = ratio > 1 - clipEps && ratio < 1 + clipEps ? 1 : 0
        let unclippedTerm = ratio * advantage, clippedTerm = clipped * advantage
        let dRatio: Float
        if unclippedTerm < clippedTerm { dRatio = advantage }
        else if clippedTerm < unclippedTerm { dRatio = inside * advantage }
        else { dRatio = 0.5 * advantage + 0.5 * inside * advantage }
        return -dRatio * ratio / Float(rows)
    }

    /// Gradient of the actor loss with respect to the logits (rows × n).
    static func categoricalActorGradient(
        _ c: Configuration, rows: Int, n: Int, logits: UnsafePointer<Float>, actions: UnsafePointer<Float>,
        oldLogProbs: UnsafePointer<Float>, advantages: UnsafePointer<Float>, into g: UnsafeMutablePointer<Float>
    ) {
        let entropyWeight = c.entCoef / Float(rows)
        for r in 0..<rows {
            let z = logits + r * n, gr = g + r * n
            let logNormalizer = ActionSampling.logSumExp(z, n)
            let action = Int(actions[r])
            var entropy: Float = 0
            for j in 0..<n { let lp = z[j] - logNormalizer; entropy -= expf(lp) * lp }
            let dLogProb = surrogateGradient(logProb: z[action] - logNormalizer, oldLogProb: oldLogProbs[r],
                                             advantage: advantages[r], clipEps: c.clipEps, rows: rows)
            for j in 0..<n {
                let lp = z[j] - logNormalizer, p = expf(lp)
                // d log π(a)/dz_j = 1[j = a] − p_j;  dH/dz_j = −p_j (log p_j + H).
                gr[j] = dLogProb * ((j == action ? 1 : 0) - p) + entropyWeight * p * (lp + entropy)
            }
        }
    }

    /// Gradient of the actor loss with respect to the means (rows × size) and
    /// the log standard deviations (written to `logStdGradient`).
    static func gaussianActorGradient(
        _ c: Configuration, rows: Int, size: Int, means: UnsafePointer<Float>, logStd: UnsafePointer<Float>,
        actions: UnsafePointer<Float>, oldLogProbs: UnsafePointer<Float>, advantages: UnsafePointer<Float>,
        into g: UnsafeMutablePointer<Float>, logStdGradient: UnsafeMutablePointer<Float>
    ) {
        // The entropy Σ (½ + ½ log 2π + log σ_j) has gradient 1 per log σ_j.
        for j in 0..<size { logStdGradient[j] = -c.entCoef }
        for r in 0..<rows {
            var logProb: Float = 0
            for j in 0..<size {
                let z = (actions[r * size + j] - means[r * size + j]) / expf(logStd[j])
                logProb += -0.5 * z * z - logStd[j] - ActionSampling.halfLogTwoPi
            }
            let dLogProb = surrogateGradient(logProb: logProb, oldLogProb: oldLogProbs[r], advantage: advantages[r],
                                             clipEps: c.clipEps, rows: rows)
            for j in 0..<size {
                let sigma = expf(logStd[j])
                let z = (actions[r * size + j] - means[r * size + j]) / sigma
                g[r * size + j] = dLogProb * z / sigma           // d log π / dμ = (a − μ) / σ²
                logStdGradient[j] += dLogProb * (z * z - 1)      // d log π / d log σ = z² − 1
            }
        }
    }

    /// Gradient of vf_coef · ½ · mean(max((v − t)², (v_old + clip(v − v_old, ±ε) − t)²))
    /// with respect to the values.
    static func criticGradient(_ c: Configuration, rows: Int, values: UnsafePointer<Float>, oldValues: UnsafePointer<Float>,
                               targets: UnsafePointer<Float>, into g: UnsafeMutablePointer<Float>) {
        let scale = c.vfCoef * 0.5 / Float(rows)
        for r in 0..<rows {
            let v = values[r], old = values[r] - oldValues[r]
            let clippedValue = oldValues[r] + Swift.min(Swift.max(old, -c.clipEps), c.clipEps)
            let inside: Float = old > -c.clipEps && old < c.clipEps ? 1 : 0
            let e1 = v - targets[r], e2 = clippedValue - targets[r]
            let l1 = e1 * e1, l2 = e2 * e2
            let d: Float
            if l1 > l2 { d = 2 * e1 } else if l2 > l1 { d = inside * 2 * e2 } else { d = 0.5 * 2 * e1 + 0.5 * inside * 2 * e2 }
            g[r] = scale * d
        }
    }
}

extension PPO.Configuration: TrainingFootprint {
    var storedTransitions: Int { numEnvs * numSteps }
    var storedTransitionsName: String { "num_steps" }
}
