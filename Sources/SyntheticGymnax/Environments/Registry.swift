/// Any registered environment, created by id. Each case holds a concrete
/// environment, so the batched functions below are compiled specialised
/// for it: no dynamic dispatch inside the stepping loop.
public enum AnyEnvironment: Sendable {
    case cartPole(CartPole)
    case acrobot(Acrobot)
    case mountainCar(MountainCar)
    case mountainCarContinuous(MountainCarContinuous)
    case pendulum(Pendulum)
    case synthetic(SyntheticEnvironment)
    case hopper(Hopper)
    case walker2d(Walker2d)
    case halfCheetah(HalfCheetah)
    case swimmer(Swimmer)
    case humanoidStandup(HumanoidStandup)

    /// The real environments: gymnax's classic control (`registered_envs`),
    /// then the MuJoCo locomotion tasks with Brax's ids (`mujocoIDs`).
    public static let realIDs: [String] = [
        "CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Pendulum-v1",
    ] + mujocoIDs

    /// The MuJoCo locomotion tasks (Environments/MuJoCo/), Brax's ids. Creating
    /// one needs MuJoCo 2.2.2's library at run time (libmujoco2.2.2).
    public static let mujocoIDs: [String] = ["hopper", "walker2d", "halfcheetah", "swimmer", "humanoidstandup"]

    /// The synthetic environments: "Synthetic-" and the real environment's id.
    public static let syntheticIDs: [String] = realIDs.map { "Synthetic-" + $0 }

    /// Every registered id, real then synthetic.
    public static let registeredIDs: [String] = realIDs + syntheticIDs

    /// A synthetic environment from a checkpoint file; the only parameter that
    /// may be overridden is `max_steps_in_episode`.
    public init(checkpoint path: String, parameters overrides: [(name: String, value: Double)] = []) throws {
        var steps: Int?
        for (name, value) in overrides {
            guard name == "max_steps_in_episode" else {
                throw EnvironmentError.unknownParameter(name: name, environment: "a synthetic environment",
                                                        known: ["max_steps_in_episode"])
            }
            guard steps == nil else { throw EnvironmentError.invalidParameter(name: name, reason: "is given twice") }
            guard value.isFinite, value == value.rounded(), abs(value) <= Double(Int32.max) else {
                throw EnvironmentError.invalidParameter(name: name, reason: "\(value) is not an int32 integer")
            }
            steps = Int(value)
        }
        self = .synthetic(try SyntheticEnvironment(checkpoint: path, maxStepsInEpisode: steps))
    }

    /// The environment registered as `id`, with gymnax's default parameters
    /// overridden by name (e.g. `[("gravity", 12)]`).
    public init(id: String, parameters overrides: [(name: String, value: Double)] = []) throws {
        switch id {
        case "CartPole-v1":
            self = .cartPole(CartPole(params: try .init(overrides: overrides, environment: id)))
        case "Acrobot-v1":
            self = .acrobot(Acrobot(params: try .init(overrides: overrides, environment: id)))
        case "MountainCar-v0":
            self = .mountainCar(MountainCar(params: try .init(overrides: overrides, environment: id)))
        case "MountainCarContinuous-v0":
            self = .mountainCarContinuous(
                MountainCarContinuous(params: try .init(overrides: overrides, environment: id)))
        case "Pendulum-v1":
            self = .pendulum(Pendulum(params: try .init(overrides: overrides, environment: id)))
        case "hopper":
            self = .hopper(try Hopper(params: try .init(overrides: overrides, environment: id)))
        case "walker2d":
            self = .walker2d(try Walker2d(params: try .init(overrides: overrides, environment: id)))
        case "halfcheetah":
            self = .halfCheetah(try HalfCheetah(params: try .init(overrides: overrides, environment: id)))
        case "swimmer":
            self = .swimmer(try Swimmer(params: try .init(overrides: overrides, environment: id)))
        case "humanoidstandup":
            self = .humanoidStandup(try HumanoidStandup(params: try .init(overrides: overrides, environment: id)))
        case _ where Self.syntheticIDs.contains(id):
            throw EnvironmentError.noCheckpoint(id: id)
        default:
            throw EnvironmentError.unknownID(id, known: Self.registeredIDs)
        }
    }

    /// The environment as an existential, for metadata (not for hot loops).
    public var base: any Environment {
        switch self {
        case .cartPole(let e): return e
        case .acrobot(let e): return e
        case .mountainCar(let e): return e
        case .mountainCarContinuous(let e): return e
        case .pendulum(let e): return e
        case .synthetic(let e): return e
        case .hopper(let e): return e
        case .walker2d(let e): return e
        case .halfCheetah(let e): return e
        case .swimmer(let e): return e
        case .humanoidStandup(let e): return e
        }
    }

    public var name: String { base.name }
    public var observationSize: Int { base.observationSize }
    public var observationSpace: BoxSpace { base.observationSpace }
    public var actionSpace: ActionSpace { base.actionSpace }
    public var stateFields: [StateField] { base.stateFields }
    public var stateSize: Int { base.stateSize }
    public var parameters: [ParameterValue] { base.parameters }
    public var maxStepsInEpisode: Int32 { base.maxStepsInEpisode }

    /// Batched reset; see `Environment.reset(count:keys:observations:states:times:)`.
    public func reset(
        count: Int, keys: UnsafePointer<UInt32>, observations: UnsafeMutablePointer<Float>,
        states: UnsafeMutablePointer<Float>, times: UnsafeMutablePointer<Int32>
    ) {
        switch self {
        case .cartPole(let e): e.reset(count: count, keys: keys, observations: observations, states: states, times: times)
        case .acrobot(let e): e.reset(count: count, keys: keys, observations: observations, states: states, times: times)
        case .mountainCar(let e): e.reset(count: count, keys: keys, observations: observations, states: states, times: times)
        case .mountainCarContinuous(let e): e.reset(count: count, keys: keys, observations: observations, states: states, times: times)
        case .pendulum(let e): e.reset(count: count, keys: keys, observations: observations, states: states, times: times)
        case .synthetic(let e): e.reset(count: count, keys: keys, observations: observations, states: states, times: times)
        // MuJoCo environments: their own batch functions (threads from a few environments on).
        case .hopper(let e): e.reset(count: count, keys: keys, observations: observations, states: states, times: times)
        case .walker2d(let e): e.reset(count: count, keys: keys, observations: observations, states: states, times: times)
        case .halfCheetah(let e): e.reset(count: count, keys: keys, observations: observations, states: states, times: times)
        case .swimmer(let e): e.reset(count: count, keys: keys, observations: observations, states: states, times: times)
        case .humanoidStandup(let e): e.reset(count: count, keys: keys, observations: observations, states: states, times: times)
        }
    }

    /// Batched step with auto-reset; see `Environment.step(count:...)`.
    public func step(
        count: Int, keys: UnsafePointer<UInt32>, states: UnsafePointer<Float>,
        times: UnsafePointer<Int32>, actions: UnsafePointer<Float>,
        observations: UnsafeMutablePointer<Float>, nextStates: UnsafeMutablePointer<Float>,
        nextTimes: UnsafeMutablePointer<Int32>, rewards: UnsafeMutablePointer<Float>,
        dones: UnsafeMutablePointer<UInt8>, terminations: UnsafeMutablePointer<UInt8>? = nil,
        truncations: UnsafeMutablePointer<UInt8>? = nil, finalObservations: UnsafeMutablePointer<Float>? = nil
    ) {
        func runMuJoCo<E: MuJoCoLocomotion>(_ e: E) {
            e.step(count: count, keys: keys, states: states, times: times, actions: actions,
                   observations: observations, nextStates: nextStates, nextTimes: nextTimes,
                   rewards: rewards, dones: dones, terminations: terminations, truncations: truncations,
                   finalObservations: finalObservations)
        }
        func run<E: Environment>(_ e: E) {
            e.step(count: count, keys: keys, states: states, times: times, actions: actions,
                   observations: observations, nextStates: nextStates, nextTimes: nextTimes,
                   rewards: rewards, dones: dones, terminations: terminations, truncations: truncations,
                   finalObservations: finalObservations)
        }
        switch self {
        case .cartPole(let e): run(e)
        case .acrobot(let e): run(e)
        case .mountainCar(let e): run(e)
        case .mountainCarContinuous(let e): run(e)
        case .pendulum(let e): run(e)
        case .hopper(let e): runMuJoCo(e)
        case .walker2d(let e): runMuJoCo(e)
        case .halfCheetah(let e): runMuJoCo(e)
        case .swimmer(let e): runMuJoCo(e)
        case .humanoidStandup(let e): runMuJoCo(e)
        case .synthetic(let e):
            // Its own batch step: the networks run on whole chunks of environments.
            e.step(count: count, keys: keys, states: states, times: times, actions: actions,
                   observations: observations, nextStates: nextStates, nextTimes: nextTimes,
                   rewards: rewards, dones: dones, terminations: terminations, truncations: truncations,
                   finalObservations: finalObservations)
        }
    }
}
