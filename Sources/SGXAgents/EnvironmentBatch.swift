import SGXRandom
import SGXEnvironments

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
