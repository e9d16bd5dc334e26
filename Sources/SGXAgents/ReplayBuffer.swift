import SGXSupport
import SGXRandom
import SGXEnvironments

/// What rejax's off-policy agents (DQN, SAC, DDPG, TD3) share: the circular
/// replay buffer, its minibatches, and the environments that fill it.

/// rejax's `ReplayBuffer`: a circular buffer of transitions (observation,
/// action, reward, done, next observation), `extend`ed with a batch per
/// environment step and sampled with `jax.random.randint(key, (n,), 0,
/// entries)` (with replacement).
final class ReplayBuffer {
    let capacity: Int
    let observationSize: Int
    let actionSize: Int
    let observations: Buffer, actions: Buffer, rewards: Buffer, dones: Buffer, nextObservations: Buffer
    private(set) var index = 0
    private(set) var full = false
    private var sampled: [Int32] = []

    init(capacity: Int, observationSize: Int, actionSize: Int) {
        (self.capacity, self.observationSize, self.actionSize) = (capacity, observationSize, actionSize)
        observations = Buffer(capacity * observationSize)
        nextObservations = Buffer(capacity * observationSize)
        actions = Buffer(capacity * actionSize)
        rewards = Buffer(capacity)
        dones = Buffer(capacity)
    }

    /// Transitions stored (`num_entries`).
    var count: Int { full ? capacity : index }

    /// Appends `rows` transitions at the write index, wrapping around.
    func extend(rows: Int, observations obs: UnsafePointer<Float>, actions act: UnsafePointer<Float>,
                rewards rew: UnsafePointer<Float>, dones done: UnsafePointer<UInt8>, nextObservations next: UnsafePointer<Float>) {
        for r in 0..<rows {
            let i = (index + r) % capacity
            (observations.p + i * observationSize).update(from: obs + r * observationSize, count: observationSize)
            (nextObservations.p + i * observationSize).update(from: next + r * observationSize, count: observationSize)
            (actions.p + i * actionSize).update(from: act + r * actionSize, count: actionSize)
            rewards.p[i] = rew[r]
            dones.p[i] = done[r] != 0 ? 1 : 0
        }
        let next = (index + rows) % capacity
        full = full || next == 0 || index + rows >= capacity
        index = next
    }

    /// A minibatch of `batch.size` transitions drawn with `key`.
    func sample(into batch: Minibatch, key: PRNGKey) {
        if sampled.count < batch.size { sampled = [Int32](repeating: 0, count: batch.size) }
        sampled.withUnsafeMutableBufferPointer { s in
            key.randint(count: batch.size, minval: 0, maxval: Int32(Swift.max(count, 1)), into: s.baseAddress!)
        }
        for r in 0..<batch.size {
            let i = Int(sampled[r])
            (batch.observations.p + r * observationSize).update(from: observations.p + i * observationSize, count: observationSize)
            (batch.nextObservations.p + r * observationSize).update(from: nextObservations.p + i * observationSize,
                                                                    count: observationSize)
            (batch.actions.p + r * actionSize).update(from: actions.p + i * actionSize, count: actionSize)
            batch.rewards.p[r] = rewards.p[i]
            batch.dones.p[r] = dones.p[i]
        }
    }
}

/// A minibatch of transitions, contiguous rows.
final class Minibatch {
    let size: Int
    let observations: Buffer, actions: Buffer, rewards: Buffer, dones: Buffer, nextObservations: Buffer

    init(size: Int, observationSize: Int, actionSize: Int) {
        self.size = size
        observations = Buffer(size * observationSize)
        nextObservations = Buffer(size * observationSize)
        actions = Buffer(size * actionSize)
        rewards = Buffer(size)
        dones = Buffer(size)
    }

    /// A copy of this minibatch's contents into `other` (same sizes).
    func copy(into other: Minibatch, observationSize: Int, actionSize: Int) {
        other.observations.p.update(from: observations.p, count: size * observationSize)
        other.nextObservations.p.update(from: nextObservations.p, count: size * observationSize)
        other.actions.p.update(from: actions.p, count: size * actionSize)
        other.rewards.p.update(from: rewards.p, count: size)
        other.dones.p.update(from: dones.p, count: size)
    }
}

/// The environment side of rejax's off-policy agents (`collect_transitions`):
/// `num_envs` environments reset from one key, their last observations,
/// the replay buffer they fill, the global step and, with
/// `normalize_observations`, the running observation statistics (updated
/// with every step's next observations; the agent acts on, and learns from,
/// normalised observations, the buffer keeps raw ones).
final class TransitionCollector {
    let env: AnyEnvironment
    let numEnvs: Int
    let observationSize: Int
    let actionSize: Int
    let buffer: ReplayBuffer
    private let envs: EnvironmentBatch
    private let lastObservations: Buffer
    private let normalized: Buffer
    private(set) var rms: RunningMeanStd?
    /// rejax's `global_step`: environment steps taken.
    private(set) var globalStep = 0
    private var keyScratch: [UInt32]

    init(env: AnyEnvironment, numEnvs: Int, bufferSize: Int, resetKey: PRNGKey, normalizeObservations: Bool) {
        (self.env, self.numEnvs) = (env, numEnvs)
        observationSize = env.observationSize
        actionSize = env.actionSpace.size
        buffer = ReplayBuffer(capacity: bufferSize, observationSize: observationSize, actionSize: actionSize)
        envs = EnvironmentBatch(env, count: numEnvs)
        lastObservations = Buffer(numEnvs * observationSize)
        normalized = Buffer(numEnvs * observationSize)
        keyScratch = [UInt32](repeating: 0, count: 2 * numEnvs)
        envs.reset(key: resetKey)
        lastObservations.p.update(from: envs.observations, count: numEnvs * observationSize)
        if normalizeObservations {
            var stats = RunningMeanStd(size: observationSize)
            stats.update(rows: numEnvs, lastObservations.p)
            rms = stats
        }
    }

    /// The observations to act on: the last ones, normalised when enabled.
    var actingObservations: UnsafePointer<Float> {
        guard let rms else { return UnsafePointer(lastObservations.p) }
        normalized.p.update(from: lastObservations.p, count: numEnvs * observationSize)
        rms.normalize(rows: numEnvs, normalized.p)
        return UnsafePointer(normalized.p)
    }

    /// `vmap(action_space.sample)(split(key, num_envs))`: uniform actions
    /// (`randint(0, n)` or `uniform(low, high)` per environment).
    func uniformActions(key: PRNGKey, into actions: UnsafeMutablePointer<Float>) {
        for e in 0..<numEnvs {
            let k = key.split(index: e)
            switch env.actionSpace {
            case .discrete(let n):
                var a: Int32 = 0
                k.randint(count: 1, minval: 0, maxval: Int32(n), into: &a)
                actions[e] = Float(a)
            case .box(let box):
                for j in 0..<box.size {
                    actions[e * box.size + j] = Swift.max(box.low[j], k.uniform(at: j, minval: box.low[j], maxval: box.high[j]))
                }
            }
        }
    }

    /// Steps every environment with `split(key, num_envs)` and the given
    /// actions; appends the transitions (next observation after auto-reset,
    /// done = terminal or truncated, as gymnax 0.0.9) to the buffer.
    func step(key: PRNGKey, actions: UnsafePointer<Float>) {
        envs.step(key: key, actions: actions)
        buffer.extend(rows: numEnvs, observations: lastObservations.p, actions: actions, rewards: envs.rewards,
                      dones: envs.dones, nextObservations: envs.observations)
        lastObservations.p.update(from: envs.observations, count: numEnvs * observationSize)
        rms?.update(rows: numEnvs, lastObservations.p)
        globalStep += numEnvs
    }

    /// A minibatch from the buffer, observations normalised when enabled.
    func sample(into batch: Minibatch, key: PRNGKey) {
        buffer.sample(into: batch, key: key)
        if let rms {
            rms.normalize(rows: batch.size, batch.observations.p)
            rms.normalize(rows: batch.size, batch.nextObservations.p)
        }
    }
}

/// Rows of [observation, action] for Q-networks on continuous actions
/// (rejax's `QNetwork` concatenates them).
@inline(__always)
func concatenate(rows: Int, _ a: UnsafePointer<Float>, _ aSize: Int, _ b: UnsafePointer<Float>, _ bSize: Int,
                 into out: UnsafeMutablePointer<Float>) {
    let width = aSize + bSize
    for r in 0..<rows {
        (out + r * width).update(from: a + r * aSize, count: aSize)
        (out + r * width + aSize).update(from: b + r * bSize, count: bSize)
    }
}
