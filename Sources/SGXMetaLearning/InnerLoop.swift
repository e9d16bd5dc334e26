import SGXSupport
import SGXRandom
import SGXEnvironments
import SGXAgents
import Dispatch
import Foundation

/// One inner-loop run, upstream's `rollout`: sample the algorithm's
/// hyperparameters, train it on a synthetic environment, evaluate the
/// policy on the real environment. The meta-learner's fitness and the
/// paper's evaluation protocol are both made of these.
public struct InnerLoop: Sendable {
    public let algorithm: Algorithm
    /// The algorithm's block of the config (`inner_config.<algo>`).
    public let space: HyperparameterSpace
    /// Episodes on the real environment (`eval_config.num_eval_envs`).
    public let episodes: Int
    /// Deterministic actions in the evaluation (greedy, the mean).
    public let deterministic: Bool

    public init(algorithm: Algorithm, space: HyperparameterSpace, episodes: Int, deterministic: Bool = true) {
        (self.algorithm, self.space, self.episodes, self.deterministic) = (algorithm, space, episodes, deterministic)
    }

    /// What one run gave.
    public struct Outcome: Sendable, Equatable {
        /// Mean return and length of the evaluation episodes (upstream's
        /// `final_return`, `final_length`); NaN when the run failed.
        public var meanReturn: Float
        public var meanLength: Float
        /// The sampled hyperparameters.
        public var hyperparameters: [String: String]
        /// Why the run failed (a diverging synthetic environment can make an
        /// agent produce NaN actions), or nil.
        public var failure: String?
    }

    /// Runs once with `key`: upstream's `rng_config, rng_train =
    /// split(rng)`; the hyperparameters from rng_config, training from
    /// rng_train, the evaluation episodes from `fold_in(rng_train, 1)`.
    /// `real` carries the evaluation length (`max_steps_in_episode`).
    public func run(training env: AnyEnvironment, evaluation real: AnyEnvironment, key: PRNGKey) -> Outcome {
        let trainKey = key.split().1
        let hyperparameters = space.sample(runKey: key)
        do {
            let result = try Agents.train(algorithm, on: env, hyperparameters: hyperparameters, key: trainKey)
            let (returns, lengths) = try result.policy.evaluateEpisodes(
                on: real, episodes: episodes, key: trainKey.foldIn(1), deterministic: deterministic)
            let meanReturn = returns.reduce(0, +) / Float(returns.count)
            let meanLength = Float(lengths.reduce(0) { $0 + Int($1) }) / Float(lengths.count)
            return Outcome(meanReturn: meanReturn, meanLength: meanLength, hyperparameters: hyperparameters,
                           failure: meanReturn.isFinite ? nil : "the return is \(meanReturn)")
        } catch {
            return Outcome(meanReturn: .nan, meanLength: .nan, hyperparameters: hyperparameters, failure: "\(error)")
        }
    }
}

/// Runs `body(task)` for tasks 0..<count on `workers` threads, each task on
/// one thread with batched work kept on it (`SerialExecution`), handed out
/// one at a time so that long and short tasks balance. Meanwhile the
/// calling thread calls `poll(done)` about four times a second (and once at
/// the end); when it returns false no further task starts (those running
/// finish) and `forEachTask` returns false.
@discardableResult
public func forEachTask(count: Int, workers: Int, poll: ((Int) -> Bool)? = nil,
                        _ body: @escaping @Sendable (Int) -> Void) -> Bool {
    let queue = TaskQueue(count: count)
    let group = DispatchGroup()
    for _ in 0..<Swift.max(1, Swift.min(workers, count)) {
        DispatchQueue.global().async(group: group) {
            SerialExecution.run {
                while let task = queue.take() {
                    body(task)
                    queue.finish()
                }
            }
        }
    }
    var keepGoing = true
    while group.wait(timeout: .now() + .milliseconds(250)) == .timedOut {
        if keepGoing, let poll, !poll(queue.finished) {
            keepGoing = false
            queue.cancel()
        }
    }
    if keepGoing, let poll { keepGoing = poll(queue.finished) }
    return keepGoing
}

/// The tasks of `forEachTask`: handed out in order until cancelled.
private final class TaskQueue: @unchecked Sendable {
    private let lock = NSLock()
    private let count: Int
    private var nextTask = 0, done = 0
    private(set) var cancelled = false

    init(count: Int) { self.count = count }

    func take() -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard !cancelled, nextTask < count else { return nil }
        nextTask += 1
        return nextTask - 1
    }

    func finish() { lock.lock(); done += 1; lock.unlock() }
    var finished: Int { lock.lock(); defer { lock.unlock() }; return done }
    func cancel() { lock.lock(); cancelled = true; lock.unlock() }
}

/// A results array written by concurrent tasks, one slot each.
final class TaskResults<T>: @unchecked Sendable {
    private var values: [T]
    init(repeating value: T, count: Int) { values = [T](repeating: value, count: count) }
    /// Slot `i`; tasks write distinct slots only.
    subscript(i: Int) -> T {
        get { values.withUnsafeBufferPointer { $0[i] } }
        set { values.withUnsafeMutableBufferPointer { $0[i] = newValue } }
    }
    var all: [T] { values }
}

extension HyperparameterSpace {
    /// The hyperparameters of the inner-loop run with `key`: upstream's
    /// `rng_config, rng_train = split(rng)`, sampled from rng_config.
    public func sample(runKey key: PRNGKey) -> [String: String] { sample(key: key.split().0) }
}
