import SGXSupport
import SGXRandom

/// The behaviour all environments share, as gymnax's base `Environment`:
/// an environment is a value holding its parameters plus two pure functions,
/// `resetEnv` and `stepEnv`. Auto-reset, key splitting and batching live here,
/// once, for every environment.
public protocol Environment: BatchedEnvironment {
    associatedtype State: EnvironmentState

    /// gymnax's `env.name`, e.g. "CartPole-v1".
    var name: String { get }
    /// Size of the flat float32 observation.
    var observationSize: Int { get }
    var observationSpace: BoxSpace { get }
    var actionSpace: ActionSpace { get }
    /// The float32 slots of a state, in gymnax `EnvState` field order (time excluded).
    var stateFields: [StateField] { get }
    /// Episodes end when `state.time >= maxStepsInEpisode`.
    var maxStepsInEpisode: Int32 { get }
    /// Current parameter values, in gymnax `EnvParams` field order.
    var parameters: [ParameterValue] { get }
    /// Whether `stepEnv` consumes its key; when false the step key is not derived.
    static var stepUsesKey: Bool { get }
    /// Whether a step that reached `state` ran out of time: gymnax 1.x's
    /// `truncated`, independent of termination. The default is
    /// `state.time >= maxStepsInEpisode`; an environment whose episodes end
    /// by their own definition rather than by a time limit (the one-step
    /// synthetic environment) says false.
    func reachedTimeLimit(_ state: State) -> Bool

    /// gymnax `reset_env`.
    func resetEnv(key: PRNGKey) -> State
    /// gymnax `step_env` without auto-reset. `action` points to
    /// `actionSpace.size` floats (a discrete action as its index, converted
    /// exactly). Returns the next state, the reward and whether the next state
    /// is terminal for a reason other than the time limit.
    func stepEnv(key: PRNGKey, state: State, action: UnsafePointer<Float>)
        -> (state: State, reward: Float, terminated: Bool)
    /// gymnax `get_obs`.
    func observation(of state: State, into out: UnsafeMutablePointer<Float>)
    /// Reads a state from its flat float32 form.
    func loadState(_ values: UnsafePointer<Float>, time: Int32) -> State
    /// Writes a state in its flat float32 form (`stateSize` floats).
    func storeState(_ state: State, into out: UnsafeMutablePointer<Float>)

    /// gymnax `env.step` with auto-reset (the default below). An environment
    /// may add to it (the MuJoCo tasks flag a reset that follows an unstable
    /// simulation); generic code sees the same as concrete code.
    func step(key: PRNGKey, state: State, action: UnsafePointer<Float>) -> Transition<State>

    /// Batched reset. The default resets the environments one at a time
    /// (`resetEnv`), in parallel chunks.
    func reset(_ batch: ResetBatch)
    /// Batched `step` with auto-reset. The default splits the batch between
    /// threads and steps each chunk with `step(_:of:)`; an environment
    /// overrides it to batch differently (the synthetic one runs its
    /// networks on whole chunks, the MuJoCo ones use threads from a few
    /// environments on).
    func step(_ batch: StepBatch<Self>)
    /// Batched `step` of environments `range` of `batch` (BatchStep.swift).
    /// The default steps them one at a time (`batch.stepOne`); environments
    /// override it with a vectorised version that gives identical results.
    func step(_ range: Range<Int>, of batch: StepBatch<Self>)
}

/// What can reset and step batches of environments given their buffers:
/// every `Environment`, and `AnyEnvironment`.
public protocol BatchedEnvironment: Sendable {
    /// Batched reset (see `ResetBatch`).
    func reset(_ batch: ResetBatch)
    /// Batched step with auto-reset (see `StepBuffers`).
    func step(_ buffers: StepBuffers)
}

extension BatchedEnvironment {
    /// `reset(_:)` with the buffers as arguments.
    @inlinable
    public func reset(
        count: Int, keys: UnsafePointer<UInt32>, observations: UnsafeMutablePointer<Float>,
        states: UnsafeMutablePointer<Float>, times: UnsafeMutablePointer<Int32>
    ) {
        reset(ResetBatch(count: count, keys: keys, observations: observations, states: states, times: times))
    }

    /// `step(_:)` with the buffers as arguments (for callers holding arrays).
    @inlinable
    public func step(
        count: Int, keys: UnsafePointer<UInt32>, states: UnsafePointer<Float>,
        times: UnsafePointer<Int32>, actions: UnsafePointer<Float>,
        observations: UnsafeMutablePointer<Float>, nextStates: UnsafeMutablePointer<Float>,
        nextTimes: UnsafeMutablePointer<Int32>, rewards: UnsafeMutablePointer<Float>,
        dones: UnsafeMutablePointer<UInt8>, terminations: UnsafeMutablePointer<UInt8>? = nil,
        truncations: UnsafeMutablePointer<UInt8>? = nil, finalObservations: UnsafeMutablePointer<Float>? = nil
    ) {
        step(StepBuffers(count: count, keys: keys, states: states, times: times, actions: actions,
                         observations: observations, nextStates: nextStates, nextTimes: nextTimes,
                         rewards: rewards, dones: dones, terminations: terminations, truncations: truncations,
                         finalObservations: finalObservations))
    }
}

/// A state carries gymnax's step counter.
public protocol EnvironmentState: Sendable {
    var time: Int32 { get }
}

/// The result of one `step` with auto-reset.
public struct Transition<State: EnvironmentState>: Sendable {
    /// The next state; the reset state when `done`.
    public var state: State
    /// The state the step reached, before any reset (gymnax 1.x's
    /// `final_observation` is its observation).
    public var final: State
    public var reward: Float
    /// The step reached a terminal state (not counting the time limit).
    public var terminated: Bool
    /// The step reached the time limit (`time >= max_steps_in_episode`),
    /// terminal or not, as gymnax 1.x's `is_truncated`.
    public var truncated: Bool
    /// The episode ended: terminated or truncated (gymnax 0.0.9's `done`).
    @inlinable public var done: Bool { terminated || truncated }

    @inlinable
    public init(state: State, final: State, reward: Float, terminated: Bool, truncated: Bool) {
        (self.state, self.final, self.reward, self.terminated, self.truncated) =
            (state, final, reward, terminated, truncated)
    }
}

/// Observation bounds, as gymnax's `spaces.Box`.
public struct BoxSpace: Sendable, Equatable {
    public var low: [Float]
    public var high: [Float]
    public init(low: [Float], high: [Float]) {
        self.low = low
        self.high = high
    }
    public var size: Int { low.count }
}

/// Action spaces: gymnax's `spaces.Discrete(n)` or a float32 `spaces.Box`.
public enum ActionSpace: Sendable, Equatable {
    case discrete(Int)
    case box(BoxSpace)

    /// Floats per action: 1 for a discrete space, the box size otherwise.
    public var size: Int {
        switch self {
        case .discrete: return 1
        case .box(let box): return box.size
        }
    }

    /// gymnax's `num_actions`: n for a discrete space, the box size otherwise.
    public var numActions: Int {
        switch self {
        case .discrete(let n): return n
        case .box(let box): return box.size
        }
    }

    public var isDiscrete: Bool {
        if case .discrete = self { return true }
        return false
    }
}

/// One field of a state's flat float32 form.
public struct StateField: Sendable, Equatable {
    public var name: String
    public var offset: Int
    public var length: Int
    /// Stored as 0.0 / 1.0 (e.g. the synthetic environment's `done`).
    public var isBool: Bool

    public init(name: String, offset: Int, length: Int = 1, isBool: Bool = false) {
        self.name = name
        self.offset = offset
        self.length = length
        self.isBool = isBool
    }

    /// Scalar float fields laid out one after the other.
    public static func scalars(_ names: String...) -> [StateField] {
        names.enumerated().map { StateField(name: $1, offset: $0) }
    }
}

extension Environment {
    public static var stepUsesKey: Bool { false }

    @inlinable
    public func reachedTimeLimit(_ state: State) -> Bool { state.time >= maxStepsInEpisode }

    /// Number of floats in a state's flat form.
    public var stateSize: Int { stateFields.reduce(0) { $0 + $1.length } }

    /// gymnax `env.reset(key, params)`.
    @inlinable
    public func reset(key: PRNGKey) -> State { resetEnv(key: key) }

    /// gymnax `env.step(key, state, action, params)`: the key is split into a
    /// step key and a reset key, and a finished episode is replaced by a reset
    /// one. The reset is computed only when needed; the result is the same.
    @inlinable
    public func step(key: PRNGKey, state: State, action: UnsafePointer<Float>) -> Transition<State> {
        let stepKey = Self.stepUsesKey ? key.split(index: 0) : key
        let (next, reward, terminated) = stepEnv(key: stepKey, state: state, action: action)
        let truncated = reachedTimeLimit(next)
        let state = terminated || truncated ? resetEnv(key: key.split(index: 1)) : next
        return Transition(state: state, final: next, reward: reward, terminated: terminated, truncated: truncated)
    }

    /// `step` with the action as an array.
    public func step(key: PRNGKey, state: State, action: [Float]) -> Transition<State> {
        precondition(action.count == actionSpace.size, "action must have \(actionSpace.size) values")
        return action.withUnsafeBufferPointer { step(key: key, state: state, action: $0.baseAddress!) }
    }

    /// gymnax `get_obs` as an array.
    public func observation(of state: State) -> [Float] {
        [Float](unsafeUninitializedCapacity: observationSize) { buffer, count in
            observation(of: state, into: buffer.baseAddress!)
            count = observationSize
        }
    }

    /// A state's flat float32 form as an array.
    public func flatState(_ state: State) -> [Float] {
        [Float](unsafeUninitializedCapacity: stateSize) { buffer, count in
            storeState(state, into: buffer.baseAddress!)
            count = stateSize
        }
    }
}

// MARK: - Batches

extension Environment {
    @inlinable
    public func reset(_ batch: ResetBatch) {
        let obsSize = observationSize, stateSize = self.stateSize
        parallelChunks(count: batch.count) { range in
            for i in range {
                let state = resetEnv(key: batch.key(i))
                observation(of: state, into: batch.observations + i * obsSize)
                storeState(state, into: batch.states + i * stateSize)
                batch.times[i] = state.time
            }
        }
    }

    /// The buffers stepped as a batch of this environment.
    @inlinable
    public func step(_ buffers: StepBuffers) { step(StepBatch(env: self, buffers)) }

    @inlinable
    public func step(_ batch: StepBatch<Self>) {
        parallelChunks(count: batch.count, minimumPerChunk: 256, granularity: Tile.size) { range in
            step(range, of: batch)
        }
    }

    @inlinable
    public func step(_ range: Range<Int>, of batch: StepBatch<Self>) {
        for i in range { batch.stepOne(i) }
    }
}
