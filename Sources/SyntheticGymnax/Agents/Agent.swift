import Foundation

// What the agents share: errors, a batch of environments stepped with JAX
// keys, running observation statistics, and the action distributions'
// sampling. The trained `Policy` is in Policy.swift.

/// A bad hyperparameter, environment or policy file, named in the message.
public enum AgentError: Error, Equatable, CustomStringConvertible {
    case unknownHyperparameter(name: String, algorithm: String, known: [String])
    case invalidHyperparameter(name: String, reason: String)
    case unsupportedEnvironment(String)
    case invalidPolicy(path: String, problem: String)
    case invalidArgument(String)
    /// Training produced non-finite parameters, or a policy non-finite
    /// actions or returns: the message names what and where.
    case diverged(String)

    public var description: String {
        switch self {
        case .unknownHyperparameter(let name, let algorithm, let known):
            return "\(algorithm) has no hyperparameter '\(name)'; its hyperparameters: \(known.joined(separator: ", "))"
        case .invalidHyperparameter(let name, let reason):
            return "invalid hyperparameter '\(name)': \(reason)"
        case .unsupportedEnvironment(let reason):
            return reason
        case .invalidPolicy(let path, let problem):
            return "\(path): not a policy file of this project: \(problem)"
        case .invalidArgument(let reason), .diverged(let reason):
            return reason
        }
    }
}

/// rejax's `RMSState` / `update_rms`: running mean and variance of
/// observations (Chan et al.'s parallel update), starting at mean 0,
/// variance 1, count 1e-4; observations are normalised as
/// (x − mean) / √(var + 1e-8).
public struct RunningMeanStd: Sendable, Equatable {
    public var mean: [Float]
    public var variance: [Float]
    public var count: Float = 1e-4

    public init(size: Int) {
        mean = [Float](repeating: 0, count: size)
        variance = [Float](repeating: 1, count: size)
    }

    public init(mean: [Float], variance: [Float], count: Float) {
        (self.mean, self.variance, self.count) = (mean, variance, count)
    }

    /// Adds a batch of `rows` vectors (`rows × mean.count`).
    public mutating func update(rows: Int, _ x: UnsafePointer<Float>) {
        let size = mean.count, n = Float(rows)
        let total = count + n
        for j in 0..<size {
            var s: Float = 0
            for r in 0..<rows { s += x[r * size + j] }
            let batchMean = s / n
            var sq: Float = 0
            for r in 0..<rows { let d = x[r * size + j] - batchMean; sq += d * d }
            let batchVar = sq / n
            let delta = batchMean - mean[j]
            let m2 = variance[j] * count + batchVar * n + delta * delta * count * n / total
            mean[j] += delta * n / total
            variance[j] = m2 / total
        }
        count = total
    }

    /// Normalises `rows` vectors in place.
    public func normalize(rows: Int, _ x: UnsafeMutablePointer<Float>) {
        let size = mean.count
        for j in 0..<size {
            let m = mean[j], scale = 1 / (variance[j] + 1e-8).squareRoot()
            for r in 0..<rows { x[r * size + j] = (x[r * size + j] - m) * scale }
        }
    }
}

/// Sampling and log-probabilities of rejax's action distributions
/// (distrax `Categorical` and `MultivariateNormalDiag`).
enum ActionSampling {
    static let halfLogTwoPi: Float = 0.5 * logf(2 * .pi)

    /// Categorical actions from logits (rows × n): `argmax(logits + gumbel)`
    /// with gumbel = −log(−log(u)), u uniform in [tiny, 1) as
    /// `jax.random.categorical`; the argmax of the logits when greedy.
    /// Writes log π(a) when `logProbs` is given.
    static func categorical(rows: Int, actions n: Int, logits: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
                            logProbs: UnsafeMutablePointer<Float>?, greedy: Bool,
                            sample: (Int, Int) -> (PRNGKey, Int)) {
        for r in 0..<rows {
            let z = logits + r * n
            var best = 0, bestValue = -Float.infinity
            for j in 0..<n {
                var value = z[j]
                if !greedy {
                    let (key, index) = sample(r, j)
                    let u = key.uniform(at: index, minval: .leastNormalMagnitude, maxval: 1)
                    value += -logf(-logf(u))
                }
                if value > bestValue { (best, bestValue) = (j, value) }
            }
            out[r] = Float(best)
            if let logProbs { logProbs[r] = z[best] - logSumExp(z, n) }
        }
    }

    /// log Σ exp(z), stably.
    @inline(__always)
    static func logSumExp(_ z: UnsafePointer<Float>, _ n: Int) -> Float {
        var m = -Float.infinity
        for j in 0..<n { m = Swift.max(m, z[j]) }
        var s: Float = 0
        for j in 0..<n { s += expf(z[j] - m) }
        return m + logf(s)
    }

    /// Gaussian actions mean + exp(logStd)·ε, ε = normal(key) element-wise
    /// (rows × size); the mean when deterministic. Unclipped.
    static func gaussian(rows: Int, size: Int, means: UnsafePointer<Float>, logStd: UnsafePointer<Float>,
                         into out: UnsafeMutablePointer<Float>, logProbs: UnsafeMutablePointer<Float>?,
                         deterministic: Bool, sample: (Int, Int) -> (PRNGKey, Int)) {
        for r in 0..<rows {
            var logp: Float = 0
            for j in 0..<size {
                let i = r * size + j
                if deterministic {
                    out[i] = means[i]
                } else {
                    let (key, index) = sample(r, j)
                    let eps = key.normal(at: index)
                    out[i] = means[i] + expf(logStd[j]) * eps
                }
                let z = (out[i] - means[i]) / expf(logStd[j])
                logp += -0.5 * z * z - logStd[j] - halfLogTwoPi
            }
            logProbs?[r] = logp
        }
    }

    /// loc + scale · tanh(y) per element (rows × box size), rejax's
    /// `DeterministicPolicy` output: the box's centre and half-width.
    static func squash(rows: Int, _ y: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, box: BoxSpace) {
        let size = box.size
        for r in 0..<rows {
            for j in 0..<size {
                let loc = (box.high[j] + box.low[j]) / 2, scale = (box.high[j] - box.low[j]) / 2
                out[r * size + j] = loc + tanhf(y[r * size + j]) * scale
            }
        }
    }

    /// Exploration as rejax's DDPG and TD3: clip(a + noise · ε, low, high),
    /// ε = normal(key, rows × size) element-wise, in place.
    static func explore(rows: Int, _ a: UnsafeMutablePointer<Float>, noise: Float, key: PRNGKey, box: BoxSpace) {
        let size = box.size
        for i in 0..<(rows * size) {
            let j = i % size
            a[i] = Swift.min(Swift.max(a[i] + noise * key.normal(at: i), box.low[j]), box.high[j])
        }
    }

    /// d/dy of loc + scale · tanh(y) applied to dL/da: writes dL/dy in place
    /// of `gradient`, given the squashed actions `a` (rows × box size).
    static func squashGradient(rows: Int, actions a: UnsafePointer<Float>, _ gradient: UnsafeMutablePointer<Float>,
                               box: BoxSpace) {
        let size = box.size
        for r in 0..<rows {
            for j in 0..<size {
                let loc = (box.high[j] + box.low[j]) / 2, scale = (box.high[j] - box.low[j]) / 2
                let t = scale > 0 ? (a[r * size + j] - loc) / scale : 0
                gradient[r * size + j] *= scale * (1 - t * t)
            }
        }
    }

    /// rejax's `SquashedGaussianPolicy` actions from outputs [mean (d), log
    /// std (d)] per row: loc + scale · tanh(mean + exp(clip(log std, −10, 2))
    /// · ε), ε = normal; the mean instead of the sample when deterministic.
    static func squashedGaussian(rows: Int, outputs: UnsafePointer<Float>, box: BoxSpace,
                                 into out: UnsafeMutablePointer<Float>, deterministic: Bool,
                                 sample: (Int, Int) -> (PRNGKey, Int)) {
        let d = box.size
        for r in 0..<rows {
            for j in 0..<d {
                var u = outputs[r * 2 * d + j]
                if !deterministic {
                    let logStd = Swift.min(Swift.max(outputs[r * 2 * d + d + j], SAC.logStdRange.lowerBound),
                                           SAC.logStdRange.upperBound)
                    let (key, index) = sample(r, j)
                    u += expf(logStd) * key.normal(at: index)
                }
                let loc = (box.high[j] + box.low[j]) / 2, scale = (box.high[j] - box.low[j]) / 2
                out[r * d + j] = loc + tanhf(u) * scale
            }
        }
    }

    /// ε-greedy actions over `values` (row r's n values at r · stride): with
    /// probability ε a uniform action, else the argmax (first on ties).
    /// Random numbers: elements 0 and 1 of row r's stream.
    static func epsilonGreedy(rows: Int, actions n: Int, values: UnsafePointer<Float>, stride: Int, epsilon: Float,
                              into out: UnsafeMutablePointer<Float>, sample: (Int, Int) -> (PRNGKey, Int)) {
        for r in 0..<rows {
            if epsilon > 0 {
                let (key, index) = sample(r, 0)
                if key.uniform(at: index) < epsilon {
                    let (k2, i2) = sample(r, 1)
                    out[r] = Float(Swift.min(Int(k2.uniform(at: i2) * Float(n)), n - 1))
                    continue
                }
            }
            let q = values + r * stride
            var best = 0
            for j in 1..<Swift.max(n, 1) where q[j] > q[best] { best = j }
            out[r] = Float(best)
        }
    }

    /// Clips actions (rows × box size) into the box.
    static func clip(rows: Int, _ a: UnsafeMutablePointer<Float>, low: [Float], high: [Float]) {
        let size = low.count
        for r in 0..<rows {
            for j in 0..<size { a[r * size + j] = Swift.min(Swift.max(a[r * size + j], low[j]), high[j]) }
        }
    }
}

/// `count` copies of an environment stepped together with one key each,
/// owning their buffers (for rollouts and evaluation).
final class EnvironmentBatch {
    let env: AnyEnvironment
    let count: Int
    let observationSize: Int
    let stateSize: Int
    let observations: UnsafeMutablePointer<Float>
    let states: UnsafeMutablePointer<Float>
    let times: UnsafeMutablePointer<Int32>
    let rewards: UnsafeMutablePointer<Float>
    let dones: UnsafeMutablePointer<UInt8>
    /// The step (or reset) keys, two words each.
    let keys: UnsafeMutablePointer<UInt32>

    init(_ env: AnyEnvironment, count: Int) {
        (self.env, self.count, observationSize, stateSize) = (env, count, env.observationSize, env.stateSize)
        observations = .allocate(capacity: count * observationSize)
        states = .allocate(capacity: count * stateSize)
        times = .allocate(capacity: count)
        rewards = .allocate(capacity: count)
        dones = .allocate(capacity: count)
        keys = .allocate(capacity: 2 * count)
    }

    deinit {
        observations.deallocate(); states.deallocate(); times.deallocate()
        rewards.deallocate(); dones.deallocate(); keys.deallocate()
    }

    /// Resets every environment with `split(key, count)`.
    func reset(key: PRNGKey) {
        key.split(count: count, into: keys)
        env.reset(ResetBatch(count: count, keys: keys, observations: observations, states: states, times: times))
    }

    /// Resets every environment with the given keys (2·count words).
    func reset(keys given: [UInt32]) {
        keys.update(from: given, count: 2 * count)
        env.reset(ResetBatch(count: count, keys: keys, observations: observations, states: states, times: times))
    }

    /// Steps every environment with `split(key, count)` (gymnax auto-reset).
    func step(key: PRNGKey, actions: UnsafePointer<Float>) {
        key.split(count: count, into: keys)
        step(count: count, actions: actions)
    }

    /// Steps the first `count` environments with the keys already in `keys`.
    func step(count: Int, actions: UnsafePointer<Float>) {
        env.step(StepBuffers(count: count, keys: keys, states: states, times: times, actions: actions,
                             observations: observations, nextStates: states, nextTimes: times, rewards: rewards,
                             dones: dones))
    }

    /// Copies environment slot `from` to slot `to` (state, time, observation).
    func moveSlot(_ from: Int, to: Int) {
        (observations + to * observationSize).update(from: observations + from * observationSize, count: observationSize)
        (states + to * stateSize).update(from: states + from * stateSize, count: stateSize)
        times[to] = times[from]
    }
}

extension PRNGKey {
    /// rejax's `rng, sub = jax.random.split(rng)`: replaces the key by the
    /// first half and returns the second.
    @inline(__always)
    mutating func splitOff() -> PRNGKey {
        let (next, sub) = split()
        self = next
        return sub
    }
}

/// optax's `linear_schedule(init, end, transition_steps)` at `count`: from
/// init to end over the steps, then end (init throughout when steps ≤ 0).
func linearSchedule(init initValue: Float, end: Float, steps: Int, at count: Int) -> Float {
    guard steps > 0 else { return initValue }
    let done = Float(Swift.min(Swift.max(count, 0), steps)) / Float(steps)
    return (initValue - end) * (1 - done) + end
}

/// A fixed float buffer (allocated once, freed with its owner).
final class Buffer {
    let p: UnsafeMutablePointer<Float>
    init(_ count: Int) {
        p = .allocate(capacity: Swift.max(count, 1))
        p.initialize(repeating: 0, count: Swift.max(count, 1))
    }
    deinit { p.deallocate() }
}
