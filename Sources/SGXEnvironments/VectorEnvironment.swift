import SGXSupport
import SGXRandom

/// N copies of an environment stepped together, owning their states and
/// keys: the engine of the vectorised APIs. Randomness follows JAX: the reset keys are
/// `split(PRNGKey(seed), n)` and step t (from 1) uses
/// `split(fold_in(PRNGKey(seed), t), n)`, so a run is reproducible and equals
/// gymnax fed the same keys. Use one instance from one thread at a time.
public final class VectorEnvironment {
    public let environment: AnyEnvironment
    public let count: Int
    public private(set) var seed: Int64
    /// Steps since the last reset.
    public private(set) var steps: UInt32 = 0
    private var root: PRNGKey
    private var keys: [UInt32]
    private var states: [Float]
    private var times: [Int32]
    private var dones: [UInt8]
    private var scratchActions: [Float]

    /// Whether `reset` has been called: stepping needs states.
    public private(set) var isReset = false

    /// `count` copies, 1...`Limits.environments` (2^20); throws otherwise,
    /// before allocating anything.
    public init(_ environment: AnyEnvironment, count: Int, seed: Int64 = 0) throws {
        guard count >= 1, count <= Limits.environments else {
            throw EnvironmentError.invalidParameter(
                name: "n", reason: "\(count) environments; a vector environment holds 1...\(Limits.environments) (2^20)")
        }
        self.environment = environment
        self.count = count
        self.seed = seed
        root = PRNGKey(seed: seed)
        keys = [UInt32](repeating: 0, count: 2 * count)
        states = [Float](repeating: 0, count: count * environment.stateSize)
        times = [Int32](repeating: 0, count: count)
        dones = [UInt8](repeating: 0, count: count)
        scratchActions = [Float](repeating: 0, count: count * environment.actionSpace.size)
    }

    /// Resets every environment (with a new seed if given) and writes the
    /// observations (`count * observationSize` floats).
    public func reset(seed newSeed: Int64? = nil, observations: UnsafeMutablePointer<Float>) {
        if let newSeed { seed = newSeed }
        root = PRNGKey(seed: seed)
        steps = 0
        root.split(count: count, into: &keys)
        environment.reset(count: count, keys: keys, observations: observations, states: &states, times: &times)
        isReset = true
    }

    /// Steps every environment with `actions` (`count * actionSpace.size`
    /// floats, validated by the caller) after a `reset`. Optional outputs may be nil.
    public func step(
        actions: UnsafePointer<Float>, observations: UnsafeMutablePointer<Float>,
        rewards: UnsafeMutablePointer<Float>, terminations: UnsafeMutablePointer<UInt8>?,
        truncations: UnsafeMutablePointer<UInt8>?, finalObservations: UnsafeMutablePointer<Float>?
    ) {
        precondition(isReset, "step before reset")
        steps &+= 1
        root.foldIn(steps).split(count: count, into: &keys)
        states.withUnsafeMutableBufferPointer { s in
            times.withUnsafeMutableBufferPointer { t in
                dones.withUnsafeMutableBufferPointer { d in
                    environment.step(StepBuffers(
                        count: count, keys: keys, states: s.baseAddress!, times: t.baseAddress!, actions: actions,
                        observations: observations, nextStates: s.baseAddress!, nextTimes: t.baseAddress!,
                        rewards: rewards, dones: d.baseAddress!, terminations: terminations,
                        truncations: truncations, finalObservations: finalObservations))
                }
            }
        }
    }

    /// `step` with discrete actions given as integers (validated by the caller).
    public func step(
        discreteActions: UnsafePointer<Int32>, observations: UnsafeMutablePointer<Float>,
        rewards: UnsafeMutablePointer<Float>, terminations: UnsafeMutablePointer<UInt8>?,
        truncations: UnsafeMutablePointer<UInt8>?, finalObservations: UnsafeMutablePointer<Float>?
    ) {
        for i in 0..<count { scratchActions[i] = Float(discreteActions[i]) }
        scratchActions.withUnsafeBufferPointer {
            step(actions: $0.baseAddress!, observations: observations, rewards: rewards, terminations: terminations,
                 truncations: truncations, finalObservations: finalObservations)
        }
    }
}
