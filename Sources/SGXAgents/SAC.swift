import SGXSupport
import SGXRandom
import SGXNN
import SGXEnvironments

#if canImport(Glibc)
import Glibc
#endif

/// Soft Actor-Critic (Haarnoja et al., 2018) with automatic entropy tuning,
/// for continuous actions (a tanh-squashed Gaussian policy) and discrete ones
/// (a categorical policy with expectations over actions, Christodoulou,
/// 2019), as rejax 0.0.1's `SAC`, the version the paper's configs were
/// written for:
///
///   each iteration (num_envs environment steps):
///     1. sample actions from the policy and step the environments into the
///        replay buffer;
///     2. once it holds more than fill_buffer transitions, gradient_steps
///        times on a sampled minibatch:
///        actor:  minimise E[α log π(a|s) − min(Q₁, Q₂)(s, a)],
///        critics: minimise ½ (Q_i(s, a) − y)² with
///                 y = r + γ (1 − done) (min(Q₁′, Q₂′)(s′, a′) − α log π(a′|s′)),
///                 a′ from the just-updated actor,
///        α:      minimise −log α · (log π(a|s) + target_entropy);
///     3. Polyak-average the target critics: Q′ ← (1 − tau) Q + tau Q′.
///
/// target_entropy is −action_dim for continuous actions and
/// target_entropy_ratio · log n for n discrete ones. Adam (eps 1e-5) for
/// actor, critics and log α, without gradient clipping, as rejax 0.0.1.
public enum SAC {
    /// The policy's log standard deviations are clipped to this range.
    public static let logStdRange: ClosedRange<Float> = -10...2

    /// rejax 0.0.1's SAC hyperparameters, by its names, with its defaults
    /// (the ones every off-policy agent has: OffPolicy.swift).
    public struct Configuration: AgentConfiguration, PolyakConfiguration {
        public var learningRate: Float = 0.001
        public var gamma: Float = 0.99
        /// Polyak coefficient of the target critics (rejax ≥ 0.1: `polyak`).
        public var tau: Float = 0.95
        public var targetEntropyRatio: Float = 0.98
        /// Rewards are multiplied by this before learning.
        public var rewardScaling: Float = 1
        public var totalTimesteps = 100_000
        /// nil (our default): total_timesteps. (rejax's default interval
        /// would train a run shorter than it for a whole interval.)
        public var evalFreq: Int?
        public var numEnvs = 1
        public var bufferSize = 100_000
        public var fillBuffer = 10_000
        public var batchSize = 256
        public var gradientSteps = 1
        public var normalizeObservations = false
        public var activation: Activation = .swish
        public var hiddenLayerSizes = [64, 64]
        public var adamEps: Float = 1e-5

        public init() {}

        public static let algorithm = "sac"

        public static let hyperparameters: [Hyperparameter<Self>] = {
            let activation = Hyperparameter<Self>.activation("activation", [\.activation])
            return replayHyperparameters + polyakHyperparameters + [
                .float("target_entropy_ratio", \.targetEntropyRatio), .float("reward_scaling", \.rewardScaling),
                activation, activation.alias("agent_kwargs.activation"),
            ] + networkHyperparameters
        }()

        public func validate() throws {
            try validateReplay()
            try validatePolyak()
            typealias Check = HyperparameterCheck
            try Check.require(targetEntropyRatio.isFinite, "target_entropy_ratio", "must be finite, got \(targetEntropyRatio)")
            try Check.require(rewardScaling.isFinite, "reward_scaling", "must be finite, got \(rewardScaling)")
        }

        public var iterations: Int { iterations(stepsPerIteration: numEnvs) }
    }

    /// Trains on `env` from `seed`.
    public static func train(on env: AnyEnvironment, configuration c: Configuration, seed: Int64 = 0) throws -> TrainingResult {
        try training(seed: seed) { try train(on: env, configuration: c, key: $0) }
    }

    /// Trains from a JAX key, as rejax's `train(config, rng)`.
    public static func train(on env: AnyEnvironment, configuration c: Configuration, key: PRNGKey) throws -> TrainingResult {
        try c.validate()
        try c.checkFootprint(on: env)
        let discrete = env.actionSpace.isDiscrete
        let box: BoxSpace? = { if case .box(let b) = env.actionSpace { return b } else { return nil } }()
        let (obsSize, d) = (env.observationSize, env.actionSpace.numActions)
        let actionSize = env.actionSpace.size
        let B = c.batchSize
        let targetEntropy = discrete ? c.targetEntropyRatio * logf(Float(d)) : -Float(d)

        // Keys as rejax 0.0.1's initialize_train_state.
        let initKeys = key.split(3)
        var rng = initKeys[0]
        let criticKeys = initKeys[2].split(2)
        let resetKey = rng.splitOff()

        let actorOutputs = discrete ? d : 2 * d
        let actor = DenseNetwork(shape: NetworkShape(input: obsSize, hidden: c.hiddenLayerSizes, output: actorOutputs,
                                                     activation: c.activation), key: initKeys[1])
        let criticShape = discrete
            ? NetworkShape(input: obsSize, hidden: c.hiddenLayerSizes, output: d, activation: c.activation)
            : NetworkShape(input: obsSize + d, hidden: c.hiddenLayerSizes, output: 1, activation: c.activation)
        let critics = criticKeys.map { DenseNetwork(shape: criticShape, key: $0) }
        let targets = critics.map { $0.copy() }
        let adam = Adam.Configuration(learningRate: c.learningRate, eps: c.adamEps)
        let actorOptimizer = Adam(count: actor.parameterCount, adam)
        let criticOptimizers = critics.map { Adam(count: $0.parameterCount, adam) }
        let alphaOptimizer = Adam(count: 1, adam)
        var logAlpha: Float = 0, alphaGradient: Float = 0

        let collector = TransitionCollector(env: env, numEnvs: c.numEnvs, bufferSize: c.bufferSize, resetKey: resetKey,
                                            normalizeObservations: c.normalizeObservations)
        let batch = Minibatch(size: B, observationSize: obsSize, actionSize: actionSize)
        let actions = Buffer(c.numEnvs * actionSize)
        let rows = Swift.max(B, c.numEnvs)
        let actorOut = Buffer(rows * actorOutputs), actorGradient = Buffer(B * actorOutputs)
        let logProbs = Buffer(B * d)   // log π(·|s) (discrete: every action; continuous: the sampled one)
        let nextLogProbs = Buffer(B)   // log π(a′|s′), continuous
        let eps = Buffer(B * d), squashed = Buffer(B * d), sampled = Buffer(B * d)
        let criticInput = Buffer(B * criticShape.inputSize)
        let out = [Buffer(B * criticShape.outputSize), Buffer(B * criticShape.outputSize)]
        let grad = [Buffer(B * criticShape.outputSize), Buffer(B * criticShape.outputSize)]
        let inputGrad = [Buffer(B * criticShape.inputSize), Buffer(B * criticShape.inputSize)]
        let targetValues = Buffer(B)
        var updates = 0

        func sampleSquashed(_ outputs: UnsafePointer<Float>, key: PRNGKey, into actionsOut: UnsafeMutablePointer<Float>,
                            logProb: UnsafeMutablePointer<Float>) {
            key.normal(count: B * d, into: eps.p)
            squashedSample(rows: B, outputs: outputs, noise: eps.p, box: box!, actions: actionsOut, tanh: squashed.p,
                           logProb: logProb)
        }

        func updateActor(key: PRNGKey) {
            let alpha = expf(logAlpha)
            actor.forward(rows: B, input: batch.observations.p, output: actorOut.p)
            if discrete {
                for i in 0..<2 { critics[i].forward(rows: B, input: batch.observations.p, output: out[i].p) }
                alphaGradient = discreteActorGradient(rows: B, n: d, logits: actorOut.p, q1: out[0].p, q2: out[1].p,
                                                      alpha: alpha, targetEntropy: targetEntropy, logProbs: logProbs.p,
                                                      into: actorGradient.p)
            } else {
                sampleSquashed(actorOut.p, key: key, into: sampled.p, logProb: logProbs.p)
                concatenate(rows: B, batch.observations.p, obsSize, sampled.p, d, into: criticInput.p)
                for i in 0..<2 { critics[i].forward(rows: B, input: criticInput.p, output: out[i].p) }
                var alphaTerm: Float = 0
                for r in 0..<B {
                    let (q1, q2) = (out[0].p[r], out[1].p[r])
                    let share: Float = q1 < q2 ? 1 : (q2 < q1 ? 0 : 0.5)
                    grad[0].p[r] = -share / Float(B)
                    grad[1].p[r] = -(1 - share) / Float(B)
                    alphaTerm += logProbs.p[r] + targetEntropy
                }
                alphaGradient = -alphaTerm / Float(B)
                for i in 0..<2 { critics[i].backward(outputGradient: grad[i].p, inputGradient: inputGrad[i].p, parameterGradients: false) }
                let width = obsSize + d
                for r in 0..<B {
                    for j in 0..<d {
                        sampled.p[r * d + j] = inputGrad[0].p[r * width + obsSize + j] + inputGrad[1].p[r * width + obsSize + j]
                    }
                }
                squashedActorGradient(rows: B, outputs: actorOut.p, noise: eps.p, tanh: squashed.p, actionGradient: sampled.p,
                                      alpha: alpha, box: box!, into: actorGradient.p)
            }
            actor.backward(outputGradient: actorGradient.p)
            actorOptimizer.step(actor)
        }

        func updateCritics(key: PRNGKey) {
            let alpha = expf(logAlpha)
            // Targets with the updated actor.
            actor.forward(rows: B, input: batch.nextObservations.p, output: actorOut.p)
            if discrete {
                for i in 0..<2 { targets[i].forward(rows: B, input: batch.nextObservations.p, output: out[i].p) }
                for r in 0..<B {
                    let z = actorOut.p + r * d
                    let normalizer = ActionSampling.logSumExp(z, d)
                    var v: Float = 0
                    for a in 0..<d {
                        let lp = z[a] - normalizer
                        v += expf(lp) * (Swift.min(out[0].p[r * d + a], out[1].p[r * d + a]) - alpha * lp)
                    }
                    targetValues.p[r] = c.rewardScaling * batch.rewards.p[r] + c.gamma * (1 - batch.dones.p[r]) * v
                }
            } else {
                sampleSquashed(actorOut.p, key: key, into: sampled.p, logProb: nextLogProbs.p)
                concatenate(rows: B, batch.nextObservations.p, obsSize, sampled.p, d, into: criticInput.p)
                for i in 0..<2 { targets[i].forward(rows: B, input: criticInput.p, output: out[i].p) }
                for r in 0..<B {
                    let v = Swift.min(out[0].p[r], out[1].p[r]) - alpha * nextLogProbs.p[r]
                    targetValues.p[r] = c.rewardScaling * batch.rewards.p[r] + c.gamma * (1 - batch.dones.p[r]) * v
                }
                concatenate(rows: B, batch.observations.p, obsSize, batch.actions.p, d, into: criticInput.p)
            }
            for i in 0..<2 {
                let input = discrete ? batch.observations.p : criticInput.p
                critics[i].forward(rows: B, input: input, output: out[i].p)
                let width = criticShape.outputSize
                grad[i].p.initialize(repeating: 0, count: B * width)
                for r in 0..<B {
                    let column = discrete ? Int(batch.actions.p[r]) : 0
                    grad[i].p[r * width + column] = (out[i].p[r * width + column] - targetValues.p[r]) / Float(B)
                }
                critics[i].backward(outputGradient: grad[i].p)
                criticOptimizers[i].step(critics[i])
            }
        }

        func updateAlpha() {
            withUnsafeMutablePointer(to: &logAlpha) { p in
                withUnsafePointer(to: &alphaGradient) { g in alphaOptimizer.step(parameters: p, gradients: g) }
            }
        }

        for _ in 0..<c.iterations {
            // 1. Act with the policy and step.
            let actionKey = rng.splitOff()
            actor.forward(rows: c.numEnvs, input: collector.actingObservations, output: actorOut.p)
            let sample = { (r: Int, j: Int) in (actionKey, r * actorOutputs + j) }
            if discrete {
                ActionSampling.categorical(rows: c.numEnvs, actions: d, logits: actorOut.p, into: actions.p,
                                           logProbs: nil, greedy: false, sample: sample)
            } else {
                ActionSampling.squashedGaussian(rows: c.numEnvs, outputs: actorOut.p, box: box!, into: actions.p,
                                                deterministic: false, sample: sample)
            }
            collector.step(key: rng.splitOff(), actions: actions.p)
            // 2. Updates.
            if collector.buffer.count > c.fillBuffer {
                for _ in 0..<c.gradientSteps {
                    collector.sample(into: batch, key: rng.splitOff())
                    updateActor(key: rng.splitOff())
                    updateCritics(key: rng.splitOff())
                    updateAlpha()
                    updates += 1
                }
            }
            // 3. Target critics.
            for i in 0..<2 { targets[i].moveToward(critics[i], polyak: c.tau) }
        }

        let policy = Policy(
            algorithm: "sac", environmentID: env.name, shape: actor.shape, parameters: actor.parameters,
            head: discrete ? .categorical : .squashedGaussian, actionSpace: env.actionSpace,
            observationNormalization: collector.rms,
            notes: c.notes(key: key).merging(["log_alpha": "\(logAlpha)"]) { a, _ in a })
        return TrainingResult(policy: policy, environmentSteps: collector.globalStep, updates: updates,
                              multiplyAdds: ([actor] + critics + targets).reduce(0) { $0 + $1.multiplyAdds })
    }

    // MARK: The policy's distributions and their gradients

    /// Squashed-Gaussian actions (rows × d) from actor outputs [mean (d),
    /// log std (d)] per row and noise ε (rows × d): u = μ + σ ε with
    /// σ = exp(clip(log std, −10, 2)), a = loc + scale · tanh(u); writes
    /// tanh(u) and log π(a|s) = Σ_j log N(u_j; μ_j, σ_j) − 2 (log 2 − u_j − softplus(−2 u_j))
    /// (distrax's Tanh bijector; the affine part is not corrected for, as in rejax).
    static func squashedSample(rows: Int, outputs: UnsafePointer<Float>, noise eps: UnsafePointer<Float>, box: BoxSpace,
                               actions: UnsafeMutablePointer<Float>, tanh squashed: UnsafeMutablePointer<Float>,
                               logProb: UnsafeMutablePointer<Float>) {
        let d = box.size
        for r in 0..<rows {
            var lp: Float = 0
            for j in 0..<d {
                let logStd = Swift.min(Swift.max(outputs[r * 2 * d + d + j], logStdRange.lowerBound), logStdRange.upperBound)
                let e = eps[r * d + j]
                let u = outputs[r * 2 * d + j] + expf(logStd) * e
                let t = tanhf(u)
                squashed[r * d + j] = t
                let (loc, scale) = ((box.high[j] + box.low[j]) / 2, (box.high[j] - box.low[j]) / 2)
                actions[r * d + j] = loc + t * scale
                lp += -0.5 * e * e - logStd - ActionSampling.halfLogTwoPi
                lp -= 2 * (Float(M_LN2) - u - softplus(-2 * u))
            }
            logProb[r] = lp
        }
    }

    /// Gradient with respect to the actor outputs (rows × 2d) of
    /// mean_r(α log π(a_r|s_r) − Q(s_r, a_r)) for reparameterised squashed
    /// actions, given dQ/da (rows × d) and the sample's ε and tanh(u):
    /// dL/du = (2α tanh u + (−dQ/da) · scale (1 − tanh² u)) / rows; dL/dμ = dL/du;
    /// dL/d log σ = (−α + dL/du · rows · σ ε) / rows inside the clip range, 0 outside.
    static func squashedActorGradient(rows: Int, outputs: UnsafePointer<Float>, noise eps: UnsafePointer<Float>,
                                      tanh squashed: UnsafePointer<Float>, actionGradient: UnsafePointer<Float>,
                                      alpha: Float, box: BoxSpace, into g: UnsafeMutablePointer<Float>) {
        let d = box.size, n = Float(rows)
        for r in 0..<rows {
            for j in 0..<d {
                let rawLogStd = outputs[r * 2 * d + d + j]
                let logStd = Swift.min(Swift.max(rawLogStd, logStdRange.lowerBound), logStdRange.upperBound)
                let t = squashed[r * d + j]
                let scale = (box.high[j] - box.low[j]) / 2
                // actionGradient is dL/da of the −Q term, already divided by rows.
                let du = alpha * 2 * t / n + actionGradient[r * d + j] * scale * (1 - t * t)
                g[r * 2 * d + j] = du
                let inside = rawLogStd > logStdRange.lowerBound && rawLogStd < logStdRange.upperBound
                g[r * 2 * d + d + j] = inside ? -alpha / n + du * expf(logStd) * eps[r * d + j] : 0
            }
        }
    }

    /// Gradient with respect to the logits (rows × n) of the discrete actor
    /// loss mean_r Σ_a π_a (α log π_a − min(Q₁, Q₂)_a), which is
    /// π_k (f_k − Σ_a π_a f_a) / rows with f_a = α log π_a − min(Q₁, Q₂)_a.
    /// Writes log π (rows × n); returns d/d log α of the temperature loss
    /// −log α · Σ_a π_a (log π_a + target entropy), averaged over the rows.
    static func discreteActorGradient(rows: Int, n: Int, logits: UnsafePointer<Float>, q1: UnsafePointer<Float>,
                                      q2: UnsafePointer<Float>, alpha: Float, targetEntropy: Float,
                                      logProbs: UnsafeMutablePointer<Float>, into g: UnsafeMutablePointer<Float>) -> Float {
        var alphaTerm: Float = 0
        for r in 0..<rows {
            let z = logits + r * n, lp = logProbs + r * n, gr = g + r * n
            let normalizer = ActionSampling.logSumExp(z, n)
            var loss: Float = 0
            for a in 0..<n {
                lp[a] = z[a] - normalizer
                gr[a] = alpha * lp[a] - Swift.min(q1[r * n + a], q2[r * n + a])  // f_a, for now
                loss += expf(lp[a]) * gr[a]
            }
            var expected: Float = 0
            for a in 0..<n {
                let p = expf(lp[a])
                gr[a] = p * (gr[a] - loss) / Float(rows)
                expected += p * (lp[a] + targetEntropy)
            }
            alphaTerm += expected
        }
        return -alphaTerm / Float(rows)
    }

    /// log(1 + eˣ), stably.
    @inline(__always)
    static func softplus(_ x: Float) -> Float { Swift.max(x, 0) + log1pf(expf(-Swift.abs(x))) }
}
