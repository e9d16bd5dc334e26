import SGXSupport
import SGXRandom
import SGXNN

#if canImport(Glibc)
import Glibc
#endif

/// The synthetic environment of Liesen et al. (2024), as `SynthEnv` /
/// `SynthEnvMLP` of the original synthetic-gymnax package: small MLPs stand in
/// for a real environment, whose observation and action spaces they take.
///
/// - reset: a latent z from `latentDistribution` through `initialState` gives
///   the observation;
/// - step: `reward([obs, action])` (discrete actions one-hot) gives the reward.
///   With `maxStepsInEpisode == 1` (the contextual bandit every published
///   checkpoint uses) the episode ends after one step, and that end is a
///   termination, not a truncation: the original's `is_terminal` is true
///   after the step, so gymnax 0.0.x's discount is 0 and the agents the
///   environments were meta-learned with never bootstrap past it (an agent
///   that bootstraps on truncation would otherwise learn another problem).
///   Otherwise `next = obs + nextStateDelta([obs, action])`, and the episode
///   terminates when `done(next) > 0` and is truncated at the step limit.
public struct SyntheticEnvironment: Environment {
    public enum LatentDistribution: String, Sendable, CaseIterable {
        case normal, uniform, categorical, softmax
    }

    /// The network configuration (`synth_env_kwargs` of the upstream configs).
    public struct Configuration: Sendable, Equatable {
        /// The real environment, e.g. "CartPole-v1" or "hopper".
        public var environmentID: String
        public var features: [Int]
        public var activation: Activation
        public var latentDistribution: LatentDistribution
        public var latentSize: Int
        public var maxStepsInEpisode: Int
        /// Further checkpoint metadata kept as it was read (e.g. "source").
        public var extraMetadata: [String: String] = [:]

        /// The paper's defaults: one hidden layer of 32, relu, normal latent of
        /// the observation size, one-step episodes.
        public init(environmentID: String, features: [Int] = [32], activation: Activation = .relu,
                    latentDistribution: LatentDistribution = .normal, latentSize: Int? = nil,
                    maxStepsInEpisode: Int = 1) throws {
            let spaces = try SyntheticEnvironment.realSpaces(environmentID)
            self.environmentID = environmentID
            self.features = features
            self.activation = activation
            self.latentDistribution = latentDistribution
            self.latentSize = latentSize ?? spaces.observation.size
            self.maxStepsInEpisode = maxStepsInEpisode
            try check()
        }

        /// Throws unless every number is in range: max_steps_in_episode in
        /// 1...2^31 - 1 (the step counter is an int32), at most
        /// `Limits.layers` hidden layers of 1...`Limits.layerWidth` units, a
        /// latent size in 1...`Limits.layerWidth`, and networks of at most
        /// `Limits.networkParameters` parameters.
        public func check() throws {
            func invalid(_ name: String, _ reason: String) -> EnvironmentError {
                EnvironmentError.invalidParameter(name: name, reason: reason)
            }
            guard maxStepsInEpisode >= 1, maxStepsInEpisode <= Limits.int32 else {
                throw invalid("max_steps_in_episode", "must be in 1...\(Limits.int32) (an int32), got \(maxStepsInEpisode)")
            }
            guard features.count <= Limits.layers else {
                throw invalid("features", "\(features.count) hidden layers exceed the bound of \(Limits.layers)")
            }
            if let bad = features.first(where: { $0 < 1 || $0 > Limits.layerWidth }) {
                throw invalid("features", "a hidden layer of \(bad) units is outside 1...\(Limits.layerWidth) (2^16)")
            }
            guard latentSize >= 1, latentSize <= Limits.layerWidth else {
                throw invalid("latent_size", "must be in 1...\(Limits.layerWidth) (2^16), got \(latentSize)")
            }
            let spaces = try SyntheticEnvironment.realSpaces(environmentID)
            for shape in SyntheticEnvironment.networkShapes(self, observationSize: spaces.observation.size,
                                                            actionInputSize: spaces.action.numActions) {
                if let problem = Limits.networkProblem([shape.input] + features + [shape.output]) {
                    throw invalid("features", "the \(shape.name) network: \(problem)")
                }
            }
        }

        /// Only the reward network is used (and stored).
        public var onlyReward: Bool { maxStepsInEpisode == 1 }
    }

    public struct State: EnvironmentState, Equatable {
        public var obs: [Float]
        public var done: Bool
        public var time: Int32

        public init(obs: [Float], done: Bool, time: Int32) {
            (self.obs, self.done, self.time) = (obs, done, time)
        }
    }

    public let configuration: Configuration
    public let initialState: MLP
    public let reward: MLP
    /// Present when `maxStepsInEpisode > 1`.
    public let nextStateDelta: MLP?
    public let done: MLP?
    public let observationSpace: BoxSpace
    public let actionSpace: ActionSpace
    // Sizes read in the stepping loops, stored so that no array-holding
    // value is copied (and reference-counted) per environment.
    public let observationSize: Int
    /// Floats the action contributes to the network input: n one-hot for a
    /// discrete space, the action vector otherwise.
    public let actionInputSize: Int
    public let maxStepsInEpisode: Int32
    @usableFromInline let discreteActions: Bool
    @usableFromInline let latentSize: Int
    @usableFromInline let latentDistribution: LatentDistribution
    /// log(softmax(-arange(latentSize))) for the softmax latent, computed
    /// once (per sample it was latentSize^2 exponentials: 30 s a reset at 2^16).
    @usableFromInline let softmaxLogits: [Float]

    /// Observation and action spaces of the real environments: those of the
    /// environment itself. For the MuJoCo tasks without MuJoCo's library at
    /// run time, Brax's sizes (observation Box(-inf, inf), actions Box(-1, 1);
    /// MuJoCoTests checks that they equal the environments'), so that their
    /// synthetic environments work without MuJoCo.
    public static func realSpaces(_ id: String) throws -> (observation: BoxSpace, action: ActionSpace) {
        guard AnyEnvironment.realIDs.contains(id) else {
            throw EnvironmentError.unknownID(id, known: AnyEnvironment.realIDs)
        }
        do {
            let real = try AnyEnvironment(id: id)
            return (real.observationSpace, real.actionSpace)
        } catch let error where AnyEnvironment.mujocoIDs.contains(id) {
            guard let e = error as? EnvironmentError, case .io = e, let (obs, act) = braxSizes[id] else { throw error }
            return (BoxSpace(low: [Float](repeating: -.infinity, count: obs), high: [Float](repeating: .infinity, count: obs)),
                    .box(BoxSpace(low: [Float](repeating: -1, count: act), high: [Float](repeating: 1, count: act))))
        }
    }

    /// Observation and action sizes of Brax's locomotion tasks.
    static let braxSizes: [String: (observation: Int, action: Int)] = [
        "hopper": (11, 3), "walker2d": (17, 6), "halfcheetah": (17, 6), "swimmer": (8, 2),
        "humanoidstandup": (244, 17),
    ]

    /// Names and input/output sizes of the networks a configuration uses.
    package static func networkShapes(_ c: Configuration, observationSize: Int, actionInputSize: Int)
        -> [(name: String, input: Int, output: Int)]
    {
        var shapes = [("initial_state", c.latentSize, observationSize),
                      ("reward", observationSize + actionInputSize, 1)]
        if !c.onlyReward {
            shapes += [("next_state_delta", observationSize + actionInputSize, observationSize),
                       ("done", observationSize, 1)]
        }
        return shapes
    }

    /// An environment from its networks; they must fit the configuration.
    public init(configuration: Configuration, initialState: MLP, reward: MLP, nextStateDelta: MLP? = nil,
                done: MLP? = nil) throws {
        let spaces = try Self.realSpaces(configuration.environmentID)
        try configuration.check()
        if !configuration.onlyReward && (nextStateDelta == nil || done == nil) {
            throw EnvironmentError.invalidParameter(
                name: "max_steps_in_episode",
                reason: "\(configuration.maxStepsInEpisode) needs next_state_delta and done networks, which this environment lacks")
        }
        self.configuration = configuration
        self.initialState = initialState
        self.reward = reward
        self.nextStateDelta = configuration.onlyReward ? nil : nextStateDelta
        self.done = configuration.onlyReward ? nil : done
        self.observationSpace = spaces.observation
        self.actionSpace = spaces.action
        self.observationSize = spaces.observation.size
        self.actionInputSize = spaces.action.numActions
        self.maxStepsInEpisode = Int32(configuration.maxStepsInEpisode)  // checked: 1...Int32.max
        self.discreteActions = spaces.action.isDiscrete
        self.latentSize = configuration.latentSize
        self.latentDistribution = configuration.latentDistribution
        self.softmaxLogits = configuration.latentDistribution == .softmax ? Self.softmaxLogits(configuration.latentSize) : []
        let shapes = Self.networkShapes(configuration, observationSize: observationSize,
                                        actionInputSize: actionInputSize)
        for (net, shape) in zip([initialState, reward, nextStateDelta, done].compactMap { $0 }, shapes) {
            precondition(net.inputSize == shape.input && net.outputSize == shape.output,
                         "\(shape.name) network is \(net.inputSize) -> \(net.outputSize), expected \(shape.input) -> \(shape.output)")
        }
    }

    public var name: String { "Synthetic-\(configuration.environmentID)" }
    public var parameters: [ParameterValue] {
        [ParameterValue(name: "max_steps_in_episode", value: Double(configuration.maxStepsInEpisode), isInteger: true)]
    }
    public var stateFields: [StateField] {
        [StateField(name: "obs", offset: 0, length: observationSize),
         StateField(name: "done", offset: observationSize, isBool: true)]
    }

    // MARK: Single environment

    /// Writes the latent sample `z` for `key` (`latentSize` floats), as
    /// distrax's `sample(seed=key)` of the configured distribution.
    func sampleLatent(_ key: PRNGKey, into z: UnsafeMutablePointer<Float>) {
        let size = latentSize
        switch latentDistribution {
        case .normal, .uniform:
            // Eight counters at a time through threefry, as jax.random does.
            var start = 0
            while start < size {
                let (a, b) = key.block(start)
                let mantissa = ((a ^ b) &>> 9) | SIMD8(repeating: 0x3F80_0000)
                for lane in 0..<Swift.min(8, size - start) {
                    let unit = Float(bitPattern: mantissa[lane]) - 1
                    z[start + lane] = latentDistribution == .uniform ? unit : Self.normal(fromUnit: unit)
                }
                start += 8
            }
        case .categorical, .softmax:
            // jax.random.categorical: argmax of Gumbel noise plus the logits.
            var best = 0
            var bestValue = -Float.infinity
            for i in 0..<size {
                let u = key.uniform(at: i, minval: .leastNormalMagnitude, maxval: 1)
                var value = -logf(-logf(u))
                if latentDistribution == .softmax { value += softmaxLogits[i] }
                if value > bestValue { (best, bestValue) = (i, value) }
            }
            for i in 0..<size { z[i] = i == best ? 1 : 0 }
        }
    }

    /// `jax.random.normal` from the unit uniform of the same element.
    @inline(__always)
    static func normal(fromUnit unit: Float) -> Float {
        let lo = Float(-1).nextUp
        let u = Swift.max(lo, lo.addingProduct(unit, 1 - lo))
        return Float(2).squareRoot() * erfInv(u)
    }

    /// log(softmax(-arange(n))), element by element.
    static func softmaxLogits(_ n: Int) -> [Float] {
        let total = (0..<n).reduce(Float(0)) { $0 + expf(-Float($1)) }
        return (0..<n).map { logf(expf(-Float($0)) / total) }
    }

    public func resetEnv(key: PRNGKey) -> State {
        var z = [Float](repeating: 0, count: latentSize)
        sampleLatent(key, into: &z)
        return State(obs: initialState(z), done: false, time: 0)
    }

    /// The network input [obs, action] (discrete actions one-hot).
    func networkInput(_ obs: UnsafePointer<Float>, _ action: UnsafePointer<Float>, into x: UnsafeMutablePointer<Float>) {
        x.update(from: obs, count: observationSize)
        let a = x + observationSize
        if discreteActions {
            a.initialize(repeating: 0, count: actionInputSize)
            a[Int(action.pointee)] = 1
        } else {
            a.update(from: action, count: actionInputSize)
        }
    }

    public func stepEnv(key: PRNGKey, state: State, action: UnsafePointer<Float>)
        -> (state: State, reward: Float, terminated: Bool)
    {
        var x = [Float](repeating: 0, count: observationSize + actionInputSize)
        state.obs.withUnsafeBufferPointer { networkInput($0.baseAddress!, action, into: &x) }
        let r = reward(x)[0]
        guard let nextStateDelta, let done else {
            // The original leaves the next observation empty: auto-reset replaces it.
            // The one-step episode terminates (see the type's documentation).
            return (State(obs: state.obs, done: true, time: state.time &+ 1), r, true)
        }
        let delta = nextStateDelta(x)
        let next = zip(state.obs, delta).map { $0 + $1 }
        let terminated = done(next)[0] > 0
        return (State(obs: next, done: terminated, time: state.time &+ 1), r, terminated)
    }

    /// The one-step episode has no time limit: it terminates (`stepEnv`).
    public func reachedTimeLimit(_ state: State) -> Bool {
        nextStateDelta != nil && state.time >= maxStepsInEpisode
    }

    public func observation(of state: State, into out: UnsafeMutablePointer<Float>) {
        state.obs.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: observationSize) }
    }

    public func loadState(_ values: UnsafePointer<Float>, time: Int32) -> State {
        State(obs: Array(UnsafeBufferPointer(start: values, count: observationSize)),
              done: values[observationSize] != 0, time: time)
    }

    public func storeState(_ state: State, into out: UnsafeMutablePointer<Float>) {
        observation(of: state, into: out)
        out[observationSize] = state.done ? 1 : 0
    }

    // MARK: Batches: the networks run on whole chunks of environments.

    /// Resets the environments `indices` of a batch (keys given per index).
    private func resetRows(_ rows: Int, key: (Int) -> PRNGKey, observation: (Int) -> UnsafeMutablePointer<Float>) {
        let latent = latentSize, obsSize = observationSize
        let z = UnsafeMutablePointer<Float>.allocate(capacity: rows * latent)
        let out = UnsafeMutablePointer<Float>.allocate(capacity: rows * obsSize)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * rows * initialState.maxWidth)
        defer { z.deallocate(); out.deallocate(); scratch.deallocate() }
        for r in 0..<rows { sampleLatent(key(r), into: z + r * latent) }
        initialState.apply(rows: rows, z, out, scratch: scratch)
        for r in 0..<rows { observation(r).update(from: out + r * obsSize, count: obsSize) }
    }

    public func reset(_ batch: ResetBatch) {
        let (observations, states, times) = (batch.observations, batch.states, batch.times)
        let obsSize = observationSize, stateSize = obsSize + 1
        parallelChunks(count: batch.count, minimumPerChunk: 64) { range in
            resetRows(range.count, key: { batch.key(range.lowerBound + $0) },
                      observation: { observations + (range.lowerBound + $0) * obsSize })
            for i in range {
                let s = states + i * stateSize
                s.update(from: observations + i * obsSize, count: obsSize)
                s[obsSize] = 0
                times[i] = 0
            }
        }
    }

    public func step(_ batch: StepBatch<SyntheticEnvironment>) {
        let (states, times, actions, observations) = (batch.states, batch.times, batch.actions, batch.observations)
        let (nextStates, nextTimes, rewards, dones) = (batch.nextStates, batch.nextTimes, batch.rewards, batch.dones)
        let (terminations, truncations, finalObservations) = (batch.terminations, batch.truncations, batch.finalObservations)
        let obsSize = observationSize, stateSize = obsSize + 1
        let actionSize = discreteActions ? 1 : actionInputSize, maxSteps = maxStepsInEpisode
        let inputSize = obsSize + actionInputSize
        let width = [reward, nextStateDelta, done].compactMap { $0?.maxWidth }.max()!
        parallelChunks(count: batch.count, minimumPerChunk: 64) { range in
            let rows = range.count, first = range.lowerBound
            let x = UnsafeMutablePointer<Float>.allocate(capacity: rows * inputSize)
            let out = UnsafeMutablePointer<Float>.allocate(capacity: rows * Swift.max(obsSize, 1))
            let next = UnsafeMutablePointer<Float>.allocate(capacity: rows * obsSize)
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * rows * width)
            var ended = [Bool](repeating: false, count: rows), terminal = ended, timeUp = ended
            defer { x.deallocate(); out.deallocate(); next.deallocate(); scratch.deallocate() }

            for r in 0..<rows {
                networkInput(states + (first + r) * stateSize, actions + (first + r) * actionSize,
                             into: x + r * inputSize)
            }
            reward.apply(rows: rows, x, out, scratch: scratch)
            for r in 0..<rows { rewards[first + r] = out[r] }

            if let nextStateDelta, let done {
                nextStateDelta.apply(rows: rows, x, next, scratch: scratch)
                for r in 0..<rows {
                    let obs = states + (first + r) * stateSize
                    for j in 0..<obsSize { next[r * obsSize + j] += obs[j] }
                }
                done.apply(rows: rows, next, out, scratch: scratch)
                for r in 0..<rows { terminal[r] = out[r] > 0 }
            } else {
                // The original leaves the next observation empty: auto-reset replaces it.
                // The one-step episode terminates, without a time limit (see `stepEnv`).
                for r in 0..<rows {
                    next.advanced(by: r * obsSize).update(from: states + (first + r) * stateSize, count: obsSize)
                    terminal[r] = true
                }
            }
            let timeLimited = nextStateDelta != nil
            for r in 0..<rows {
                timeUp[r] = timeLimited && times[first + r] &+ 1 >= maxSteps  // int32 arithmetic wraps, as in JAX
                ended[r] = terminal[r] || timeUp[r]
            }
            if let finalObservations {
                finalObservations.advanced(by: first * obsSize).update(from: next, count: rows * obsSize)
            }
            // Continuing environments take the next state; ended ones are reset
            // with the reset half of their split key, in one network pass.
            let ending = (0..<rows).filter { ended[$0] }
            for r in 0..<rows where !ended[r] {
                let i = first + r
                observations.advanced(by: i * obsSize).update(from: next + r * obsSize, count: obsSize)
                nextTimes[i] = times[i] &+ 1
            }
            resetRows(ending.count, key: { r in
                let i = first + ending[r]
                return batch.key(i).split(index: 1)
            }, observation: { observations + (first + ending[$0]) * obsSize })
            for r in 0..<rows {
                let i = first + r
                if ended[r] { nextTimes[i] = 0 }
                let s = nextStates + i * stateSize
                s.update(from: observations + i * obsSize, count: obsSize)
                s[obsSize] = 0  // a continuing state is not done; a reset one neither
                dones[i] = ended[r] ? 1 : 0
                terminations?[i] = terminal[r] ? 1 : 0
                truncations?[i] = timeUp[r] ? 1 : 0
            }
        }
    }
}
