import SGXSupport
import SGXRandom
import CMuJoCo

/// The state of a MuJoCo environment: everything needed to continue the
/// simulation, so that `step` is a pure function of (state, action).
///
/// Flat float32 form (`stateFields`): `qpos` (nq), `qvel` (nv), then `ctrl`
/// (nu, only for environments whose observation includes the actuator
/// forces: humanoidstandup), then `unstable` (0.0 / 1.0).
///
/// `unstable` is 1 in the state a batched step returns when that step ended
/// the episode because the simulation went unstable (MuJoCo warned of a NaN or
/// huge position, velocity, acceleration or control, or a full contact
/// buffer; or a position or velocity left the float32 range): the episode is
/// then terminated with reward 0, and the state returned is the auto-reset
/// one, flagged. The next step clears the flag. The single-state
/// `step(key:state:action:)` does the same (and also flags
/// `Transition.final`), for generic callers too: it is the task's
/// implementation of the `Environment` requirement. The state field
/// `unstable` exposes it.
public struct MuJoCoState: EnvironmentState, Equatable {
    public var qpos: [Float]
    public var qvel: [Float]
    /// The last control applied (empty unless the environment keeps it).
    public var ctrl: [Float]
    public var unstable: Bool
    public var time: Int32

    public init(qpos: [Float], qvel: [Float], ctrl: [Float] = [], unstable: Bool = false, time: Int32 = 0) {
        (self.qpos, self.qvel, self.ctrl, self.unstable, self.time) = (qpos, qvel, ctrl, unstable, time)
    }
}

/// A flat state seen field by field (see `MuJoCoState`).
public struct MuJoCoStateView {
    public let qpos: UnsafePointer<Float>
    public let qvel: UnsafePointer<Float>
    /// The last control (nu floats) when the environment keeps it.
    public let ctrl: UnsafePointer<Float>
}

/// A compiled MuJoCo model and its sizes, shared by all values of an
/// environment (the model is read-only; each thread simulates in its own
/// `mjData`).
public struct MuJoCoSimulation: Sendable {
    let model: MuJoCoModel
    /// Sizes of qpos, qvel and ctrl.
    public let nq: Int, nv: Int, nu: Int
    /// The physics time step (seconds).
    public let timestep: Double
    /// The model's initial qpos (`qpos0`) in float32, the base of resets.
    public let qpos0: [Float]
    /// Where the root body (body 1, the torso) sits when its joints are at 0.
    public let rootPosition: SIMD3<Float>
    /// Actuator k drives degree of freedom `actuatorDOF[k]` with `actuatorGear[k]`.
    let actuatorDOF: [Int]
    let actuatorGear: [Float]
    /// The actuators' control ranges.
    let controlLow: [Float], controlHigh: [Float]

    /// The model `name` of `MuJoCoModels`, compiled once per process.
    init(name: String, xml: String) throws {
        model = try MuJoCoModel.shared(name, xml: xml)
        let m = model.model.pointee
        (nq, nv, nu) = (Int(m.nq), Int(m.nv), Int(m.nu))
        timestep = m.opt.timestep
        qpos0 = (0..<nq).map { Float(m.qpos0[$0]) }
        rootPosition = SIMD3(Float(m.body_pos[3]), Float(m.body_pos[4]), Float(m.body_pos[5]))
        actuatorDOF = (0..<nu).map { Int(m.jnt_dofadr[Int(m.actuator_trnid[2 * $0])]) }
        actuatorGear = (0..<nu).map { Float(m.actuator_gear[6 * $0]) }
        controlLow = (0..<nu).map { Float(m.actuator_ctrlrange[2 * $0]) }
        controlHigh = (0..<nu).map { Float(m.actuator_ctrlrange[2 * $0 + 1]) }
    }
}

/// World kinematics of a state (positions, orientations and velocities of the
/// bodies), for observations that need more than qpos and qvel.
public struct MuJoCoKinematics {
    let library: MuJoCoLibrary
    let model: UnsafePointer<mjModel>
    let data: UnsafeMutablePointer<mjData>

    /// Bodies, the world (body 0) included.
    public var bodyCount: Int { Int(model.pointee.nbody) }
    public func mass(_ body: Int) -> Double { model.pointee.body_mass[body] }
    /// Principal moments of inertia about the body's centre of mass.
    public func principalInertia(_ body: Int) -> SIMD3<Double> {
        let i = model.pointee.body_inertia + 3 * body
        return SIMD3(i[0], i[1], i[2])
    }
    /// The body's centre of mass in the world frame.
    public func centerOfMass(_ body: Int) -> SIMD3<Double> {
        let p = data.pointee.xipos + 3 * body
        return SIMD3(p[0], p[1], p[2])
    }
    /// The orientation of the body's principal axes: row-major 3x3 rotation.
    public func inertialFrame(_ body: Int) -> UnsafePointer<Double> { UnsafePointer(data.pointee.ximat + 9 * body) }
    /// The body's (angular, linear) velocity at its centre of mass, in the world frame.
    public func velocity(_ body: Int) -> (angular: SIMD3<Double>, linear: SIMD3<Double>) {
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 6) { v in
            library.objectVelocity(model, data, Int32(mjOBJ_BODY.rawValue), Int32(body), v.baseAddress, 0)
            return (SIMD3(v[0], v[1], v[2]), SIMD3(v[3], v[4], v[5]))
        }
    }
}

/// The locomotion tasks of MuJoCo (Brax's versions): hopper, walker2d,
/// halfcheetah, swimmer, humanoidstandup. Each environment supplies its
/// model, reset noise, observation, reward and termination; the stepping
/// (load the state into an `mjData`, `mj_step` `frameSkip` times, read it
/// back), the state layout, instability handling and batching live here.
///
/// Actions are Box(-1, 1): values outside are clipped by MuJoCo's control
/// range, and the control cost uses them unclipped (as Brax does); NaN or
/// infinite actions are rejected by the library's interfaces and, through
/// the Swift API, end the episode as an unstable simulation.
///
/// Batched steps run the environments in parallel, one `mjData` per thread.
/// A step does not depend on what the `mjData` held before (the solver's
/// warm start and the time are cleared), so the results do not depend on how
/// a batch is split between threads. Within a step MuJoCo simulates in
/// double precision; between steps the state is float32 (as everything is in
/// Brax). The task definitions (observations, rewards, termination, reset
/// noise, frame skip, episode length) are Brax's; the physics is MuJoCo's
/// own (Brax's default `generalized` pipeline is a JAX re-implementation),
/// so trajectories agree with Brax's in character, not number for number.
public protocol MuJoCoLocomotion: Environment where State == MuJoCoState {
    /// The compiled model.
    var simulation: MuJoCoSimulation { get }
    /// Physics steps per environment step (Brax's `n_frames`).
    var frameSkip: Int { get }
    /// Whether the state keeps the last control (`ctrl`); default false.
    static var storesControl: Bool { get }
    /// Whether `observe` reads world kinematics; default false.
    static var observesKinematics: Bool { get }

    /// Writes the initial qpos (nq) and qvel (nv) of the episode for `key`
    /// (Brax's `reset(rng)`).
    func resetPositions(key: PRNGKey, qpos: UnsafeMutablePointer<Float>, qvel: UnsafeMutablePointer<Float>)
    /// The control MuJoCo applies for `action` (nu values); default the action.
    func control(_ action: UnsafePointer<Float>, into ctrl: UnsafeMutablePointer<Float>)
    /// The observation of a state (`kinematics` is given when `observesKinematics`).
    func observe(_ state: MuJoCoStateView, kinematics: MuJoCoKinematics?, into observation: UnsafeMutablePointer<Float>)
    /// Reward and termination of a step from `previous` to `next` under `action`.
    func outcome(previous: MuJoCoStateView, next: MuJoCoStateView, action: UnsafePointer<Float>)
        -> (reward: Float, terminated: Bool)
}

extension MuJoCoLocomotion {
    public static var storesControl: Bool { false }
    public static var observesKinematics: Bool { false }

    public func control(_ action: UnsafePointer<Float>, into ctrl: UnsafeMutablePointer<Float>) {
        ctrl.update(from: action, count: simulation.nu)
    }

    /// Brax's reset noise: element j of `uniform(key, (n,), -scale, scale)`
    /// added (in float32) to `base[j]`, or to 0 without a base.
    public func uniformNoise(_ key: PRNGKey, scale: Float, base: [Float]? = nil, count: Int,
                             into out: UnsafeMutablePointer<Float>) {
        for j in 0..<count {
            let noise = key.uniform(at: j, minval: -scale, maxval: scale)
            out[j] = base.map { $0[j] + noise } ?? noise
        }
    }

    /// Checks the parameters every MuJoCo environment has.
    static func validate(frames: Int, maxSteps: Int) throws {
        guard frames >= 1 else {
            throw EnvironmentError.invalidParameter(name: "n_frames", reason: "must be at least 1, got \(frames)")
        }
        guard maxSteps >= 1 else {
            throw EnvironmentError.invalidParameter(name: "max_steps_in_episode", reason: "must be at least 1")
        }
    }

    /// Checks a 0/1 parameter.
    static func validate(flag: Int, name: String) throws {
        guard flag == 0 || flag == 1 else {
            throw EnvironmentError.invalidParameter(name: name, reason: "must be 0 or 1, got \(flag)")
        }
    }

    /// `weight * sum(square(action))`, Brax's control cost.
    public func controlCost(_ action: UnsafePointer<Float>, weight: Float) -> Float {
        var sum: Float = 0
        for i in 0..<simulation.nu { sum += action[i] * action[i] }
        return weight * sum
    }

    /// The time of one environment step: Brax's `dt`, in float32.
    public var dt: Float { Float(simulation.timestep) * Float(frameSkip) }

    public var observationSpace: BoxSpace {
        BoxSpace(low: [Float](repeating: -.infinity, count: observationSize),
                 high: [Float](repeating: .infinity, count: observationSize))
    }

    public var actionSpace: ActionSpace {
        .box(BoxSpace(low: [Float](repeating: -1, count: simulation.nu),
                      high: [Float](repeating: 1, count: simulation.nu)))
    }

    var controlSize: Int { Self.storesControl ? simulation.nu : 0 }
    var flagOffset: Int { simulation.nq + simulation.nv + controlSize }

    public var stateFields: [StateField] {
        let (nq, nv) = (simulation.nq, simulation.nv)
        var fields = [StateField(name: "qpos", offset: 0, length: nq),
                      StateField(name: "qvel", offset: nq, length: nv)]
        if Self.storesControl { fields.append(StateField(name: "ctrl", offset: nq + nv, length: controlSize)) }
        fields.append(StateField(name: "unstable", offset: flagOffset, isBool: true))
        return fields
    }

    func view(_ flat: UnsafePointer<Float>) -> MuJoCoStateView {
        let (nq, nv) = (simulation.nq, simulation.nv)
        return MuJoCoStateView(qpos: flat, qvel: flat + nq, ctrl: flat + nq + nv)
    }

    // MARK: The simulation of one environment

    /// The observation of a flat state, computed in `data` (which is
    /// overwritten) when the environment observes kinematics.
    func observe(flat: UnsafePointer<Float>, data: UnsafeMutablePointer<mjData>,
                 into observation: UnsafeMutablePointer<Float>) {
        var kinematics: MuJoCoKinematics?
        if Self.observesKinematics {
            let model = simulation.model, qpos = data.pointee.qpos!, qvel = data.pointee.qvel!
            for i in 0..<simulation.nq { qpos[i] = Double(flat[i]) }
            for i in 0..<simulation.nv { qvel[i] = Double(flat[simulation.nq + i]) }
            model.library.kinematics(model.model, data)
            model.library.comPos(model.model, data)
            model.library.comVel(model.model, data)
            kinematics = MuJoCoKinematics(library: model.library, model: model.model, data: data)
        }
        observe(view(flat), kinematics: kinematics, into: observation)
    }

    /// Writes the flat reset state for `key` and its observation.
    func reset(key: PRNGKey, into state: UnsafeMutablePointer<Float>, observation: UnsafeMutablePointer<Float>,
               data: UnsafeMutablePointer<mjData>) {
        let (nq, nv) = (simulation.nq, simulation.nv)
        resetPositions(key: key, qpos: state, qvel: state + nq)
        (state + nq + nv).initialize(repeating: 0, count: controlSize + 1)
        observe(flat: state, data: data, into: observation)
    }

    /// One environment step from the flat state `state` (which must not
    /// alias `next`): loads it into `data`, applies the control for `action`,
    /// runs `frameSkip` physics steps and writes the next flat state and its
    /// observation. `scratch` holds nu floats.
    func advance(state: UnsafePointer<Float>, action: UnsafePointer<Float>, next: UnsafeMutablePointer<Float>,
                 observation: UnsafeMutablePointer<Float>, data: UnsafeMutablePointer<mjData>,
                 scratch ctrl: UnsafeMutablePointer<Float>) -> (reward: Float, terminated: Bool, unstable: Bool) {
        let (nq, nv, nu) = (simulation.nq, simulation.nv, simulation.nu)
        let model = simulation.model
        let qpos = data.pointee.qpos!, qvel = data.pointee.qvel!, warmstart = data.pointee.qacc_warmstart!
        for i in 0..<nq { qpos[i] = Double(state[i]) }
        for i in 0..<nv {
            qvel[i] = Double(state[nq + i])
            warmstart[i] = 0
        }
        data.pointee.time = 0
        control(action, into: ctrl)
        let control = data.pointee.ctrl!
        for i in 0..<nu { control[i] = Double(ctrl[i]) }
        sgx_mj_clear_warnings(data)

        var unstable = false
        for _ in 0..<frameSkip {
            model.library.step(model.model, data)
            if sgx_mj_unstable(data) != 0 {
                unstable = true
                break
            }
        }
        if !unstable {
            for i in 0..<nq { next[i] = Float(qpos[i]) }
            for i in 0..<nv { next[nq + i] = Float(qvel[i]) }
            for i in 0..<(nq + nv) where !next[i].isFinite { unstable = true }
        }
        if unstable {
            // The episode ends in the state it was in (the model's initial
            // state if that is not finite either), flagged, with reward 0.
            let finite = (0..<(nq + nv)).allSatisfy { state[$0].isFinite }
            for i in 0..<nq { next[i] = finite ? state[i] : simulation.qpos0[i] }
            for i in 0..<nv { next[nq + i] = finite ? state[nq + i] : 0 }
            for i in 0..<controlSize { next[nq + nv + i] = ctrl[i].isFinite ? ctrl[i] : 0 }
            next[flagOffset] = 1
            observe(flat: next, data: data, into: observation)
            return (0, true, true)
        }
        for i in 0..<controlSize { next[nq + nv + i] = ctrl[i] }
        next[flagOffset] = 0
        observe(flat: next, data: data, into: observation)
        let (reward, terminated) = outcome(previous: view(state), next: view(next), action: action)
        return (reward, terminated, false)
    }

    // MARK: Environment

    public func resetEnv(key: PRNGKey) -> MuJoCoState {
        let (nq, nv) = (simulation.nq, simulation.nv)
        var qpos = [Float](repeating: 0, count: nq), qvel = [Float](repeating: 0, count: nv)
        qpos.withUnsafeMutableBufferPointer { q in
            qvel.withUnsafeMutableBufferPointer { v in resetPositions(key: key, qpos: q.baseAddress!, qvel: v.baseAddress!) }
        }
        return MuJoCoState(qpos: qpos, qvel: qvel, ctrl: [Float](repeating: 0, count: controlSize), time: 0)
    }

    public func stepEnv(key: PRNGKey, state: MuJoCoState, action: UnsafePointer<Float>)
        -> (state: MuJoCoState, reward: Float, terminated: Bool)
    {
        let size = stateSize
        let flat = UnsafeMutablePointer<Float>.allocate(capacity: 2 * size + observationSize + simulation.nu)
        defer { flat.deallocate() }
        let (next, observation, ctrl) = (flat + size, flat + 2 * size, flat + 2 * size + observationSize)
        storeState(state, into: flat)
        let result = simulation.model.withData { data in
            advance(state: flat, action: action, next: next, observation: observation, data: data, scratch: ctrl)
        }
        return (loadState(next, time: state.time &+ 1), result.reward, result.terminated)
    }

    public func observation(of state: MuJoCoState, into out: UnsafeMutablePointer<Float>) {
        let flat = UnsafeMutablePointer<Float>.allocate(capacity: stateSize)
        defer { flat.deallocate() }
        storeState(state, into: flat)
        if Self.observesKinematics {
            simulation.model.withData { observe(flat: flat, data: $0, into: out) }
        } else {
            observe(view(flat), kinematics: nil, into: out)
        }
    }

    public func loadState(_ values: UnsafePointer<Float>, time: Int32) -> MuJoCoState {
        let (nq, nv) = (simulation.nq, simulation.nv)
        return MuJoCoState(qpos: Array(UnsafeBufferPointer(start: values, count: nq)),
                           qvel: Array(UnsafeBufferPointer(start: values + nq, count: nv)),
                           ctrl: Array(UnsafeBufferPointer(start: values + nq + nv, count: controlSize)),
                           unstable: values[flagOffset] != 0, time: time)
    }

    public func storeState(_ state: MuJoCoState, into out: UnsafeMutablePointer<Float>) {
        let (nq, nv) = (simulation.nq, simulation.nv)
        precondition(state.qpos.count == nq && state.qvel.count == nv,
                     "\(name) states have \(nq) qpos and \(nv) qvel values")
        out.update(from: state.qpos, count: nq)
        (out + nq).update(from: state.qvel, count: nv)
        for i in 0..<controlSize { out[nq + nv + i] = i < state.ctrl.count ? state.ctrl[i] : 0 }
        out[flagOffset] = state.unstable ? 1 : 0
    }

    // MARK: Batches

    /// Environments `range` of a batched step, in one `mjData`.
    public func step(_ range: Range<Int>, of batch: StepBatch<Self>) {
        let (size, obsSize, actionSize) = (batch.stateSize, batch.observationSize, batch.actionSize)
        let maxSteps = maxStepsInEpisode, flag = flagOffset
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: size + simulation.nu)
        defer { scratch.deallocate() }
        simulation.model.withData { data in
            for i in range {
                // The input may alias the output: step from a copy.
                scratch.update(from: batch.states + i * size, count: size)
                let time = batch.times[i] &+ 1
                let next = batch.nextStates + i * size, observation = batch.observations + i * obsSize
                let (reward, terminated, unstable) = advance(
                    state: scratch, action: batch.actions + i * actionSize, next: next,
                    observation: observation, data: data, scratch: scratch + size)
                batch.finalObservations?.advanced(by: i * obsSize).update(from: observation, count: obsSize)
                let truncated = time >= maxSteps
                batch.rewards[i] = reward
                batch.dones[i] = terminated || truncated ? 1 : 0
                batch.terminations?[i] = terminated ? 1 : 0
                batch.truncations?[i] = truncated ? 1 : 0
                if terminated || truncated {
                    reset(key: batch.key(i).split(index: 1), into: next, observation: observation, data: data)
                    if unstable { next[flag] = 1 }
                    batch.nextTimes[i] = 0
                } else {
                    batch.nextTimes[i] = time
                }
            }
        }
    }

    /// Batched `step` with auto-reset, split between threads from a few
    /// environments on (a MuJoCo step costs microseconds, so even small
    /// batches gain).
    public func step(_ batch: StepBatch<Self>) {
        parallelChunks(count: batch.count, minimumPerChunk: 2) { range in step(range, of: batch) }
    }

    /// Batched reset, split between threads.
    public func reset(_ batch: ResetBatch) {
        let (size, obsSize) = (stateSize, observationSize)
        parallelChunks(count: batch.count, minimumPerChunk: 8) { range in
            simulation.model.withData { data in
                for i in range {
                    reset(key: batch.key(i), into: batch.states + i * size,
                          observation: batch.observations + i * obsSize, data: data)
                    batch.times[i] = 0
                }
            }
        }
    }

    /// The single-state `step` with auto-reset, as `Environment`'s default,
    /// except that a reset after an unstable simulation is flagged, as in batches.
    public func step(key: PRNGKey, state: MuJoCoState, action: UnsafePointer<Float>) -> Transition<MuJoCoState> {
        let (next, reward, terminated) = stepEnv(key: key, state: state, action: action)
        let truncated = next.time >= maxStepsInEpisode
        var reset = next
        if terminated || truncated {
            reset = resetEnv(key: key.split(index: 1))
            reset.unstable = next.unstable
        }
        return Transition(state: reset, final: next, reward: reward, terminated: terminated, truncated: truncated)
    }

    /// `step(key:state:action:)` with the action as an array.
    public func step(key: PRNGKey, state: MuJoCoState, action: [Float]) -> Transition<MuJoCoState> {
        precondition(action.count == simulation.nu, "action must have \(simulation.nu) values")
        return action.withUnsafeBufferPointer { step(key: key, state: state, action: $0.baseAddress!) }
    }
}
