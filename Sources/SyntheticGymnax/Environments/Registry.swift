/// Any registered environment, created by id. Each case holds a concrete
/// environment, and `visit` hands it on as its own type, so the batched
/// functions are compiled specialised for it: no dynamic dispatch inside
/// the stepping loop. Adding an environment: its file, its case, and its
/// lines in `init(id:)` and `visit`.
public enum AnyEnvironment: BatchedEnvironment {
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

    /// `visitor.visit` of the environment, as its concrete type.
    @inlinable
    public func visit<V: EnvironmentVisitor>(_ visitor: V) -> V.Result {
        switch self {
        case .cartPole(let e): return visitor.visit(e)
        case .acrobot(let e): return visitor.visit(e)
        case .mountainCar(let e): return visitor.visit(e)
        case .mountainCarContinuous(let e): return visitor.visit(e)
        case .pendulum(let e): return visitor.visit(e)
        case .synthetic(let e): return visitor.visit(e)
        case .hopper(let e): return visitor.visit(e)
        case .walker2d(let e): return visitor.visit(e)
        case .halfCheetah(let e): return visitor.visit(e)
        case .swimmer(let e): return visitor.visit(e)
        case .humanoidStandup(let e): return visitor.visit(e)
        }
    }

    /// The environment as an existential, for metadata (not for hot loops).
    public var base: any Environment { visit(Existential()) }

    public var name: String { base.name }
    public var observationSize: Int { base.observationSize }
    public var observationSpace: BoxSpace { base.observationSpace }
    public var actionSpace: ActionSpace { base.actionSpace }
    public var stateFields: [StateField] { base.stateFields }
    public var stateSize: Int { base.stateSize }
    public var parameters: [ParameterValue] { base.parameters }
    public var maxStepsInEpisode: Int32 { base.maxStepsInEpisode }

    /// Batched reset by the environment's own `reset(_:)`.
    @inlinable
    public func reset(_ batch: ResetBatch) { visit(Reset(batch: batch)) }

    /// Batched step with auto-reset by the environment's own `step(_:)`.
    @inlinable
    public func step(_ buffers: StepBuffers) { visit(Step(buffers: buffers)) }

    @usableFromInline
    struct Existential: EnvironmentVisitor {
        @usableFromInline init() {}
        @inlinable func visit<E: Environment>(_ env: E) -> any Environment { env }
    }

    @usableFromInline
    struct Reset: EnvironmentVisitor {
        @usableFromInline let batch: ResetBatch
        @usableFromInline init(batch: ResetBatch) { self.batch = batch }
        @inlinable func visit<E: Environment>(_ env: E) { env.reset(batch) }
    }

    @usableFromInline
    struct Step: EnvironmentVisitor {
        @usableFromInline let buffers: StepBuffers
        @usableFromInline init(buffers: StepBuffers) { self.buffers = buffers }
        @inlinable func visit<E: Environment>(_ env: E) { env.step(buffers) }
    }
}

/// Something done with an environment of any type, as that type (generic,
/// so specialised per environment): `AnyEnvironment.visit`.
public protocol EnvironmentVisitor {
    associatedtype Result
    func visit<E: Environment>(_ env: E) -> Result
}
