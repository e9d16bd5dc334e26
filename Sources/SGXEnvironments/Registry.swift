// The registry of real environments. Adding one takes its file, whose type
// conforms to `RegisteredEnvironment` (its `id` and its `Params`), and its
// line in `AnyEnvironment.registry`; `AnyEnvironment(id:)`, `realIDs` (and so
// the C ABI's `sgx_env_registered_id`, Python's `registered_envs` and the
// Gymnasium ids), `syntheticIDs` and `mujocoIDs` follow from the table.
extension AnyEnvironment {
    /// Every real environment, one line each, in the order of `realIDs`:
    /// gymnax's classic control (`registered_envs`), then the MuJoCo
    /// locomotion tasks with Brax's ids. RegistryTests checks both lists.
    public static let registry: [any RegisteredEnvironment.Type] = [
        CartPole.self,
        Acrobot.self,
        MountainCar.self,
        MountainCarContinuous.self,
        Pendulum.self,
        Hopper.self,
        Walker2d.self,
        HalfCheetah.self,
        Swimmer.self,
        HumanoidStandup.self,
    ]
}

/// An environment the registry creates by id: its id (which is its `name`)
/// and its parameters, gymnax's `EnvParams` settable by name. The synthetic
/// environment is not one: it is created from a checkpoint.
public protocol RegisteredEnvironment: Environment {
    associatedtype Params: NamedParameters
    /// The registered id, e.g. "CartPole-v1".
    static var id: String { get }
    /// The environment with these parameters (throws where creating it can
    /// fail: the MuJoCo tasks need MuJoCo's library).
    init(params: Params) throws
}

extension RegisteredEnvironment {
    /// gymnax's `env.name`: the id.
    public var name: String { Self.id }

    /// The environment with its default parameters overridden by name
    /// (`NamedParameters.init(overrides:environment:)`).
    public init(overrides: [(name: String, value: Double)]) throws {
        try self.init(params: Params(overrides: overrides, environment: Self.id))
    }
}

/// Any environment, registered or synthetic, as one type. It holds the
/// environment as an existential: its batched `reset(_:)` and `step(_:)` are
/// requirements of `Environment`, so each call dispatches once, for the
/// whole batch, to the concrete type's own implementation (compiled
/// specialised for it: no dynamic dispatch inside the stepping loop), and
/// `visit` hands the environment on as its own type.
public struct AnyEnvironment: BatchedEnvironment {
    /// The environment, for metadata and for `visit`.
    public let base: any Environment

    /// `env` as any environment.
    public init(_ env: some Environment) { base = env }

    /// The real environments' ids, in registry order: gymnax's classic
    /// control, then the MuJoCo locomotion tasks (`mujocoIDs`).
    public static let realIDs: [String] = registry.map { $0.id }

    /// The MuJoCo locomotion tasks (Sources/SGXEnvironments/MuJoCo/), Brax's ids. Creating
    /// one needs MuJoCo 2.2.2's library at run time (libmujoco2.2.2).
    public static let mujocoIDs: [String] = registry.filter { $0 is any MuJoCoLocomotion.Type }.map { $0.id }

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
        self.init(try SyntheticEnvironment(checkpoint: path, maxStepsInEpisode: steps))
    }

    /// The environment registered as `id`, with gymnax's default parameters
    /// overridden by name (e.g. `[("gravity", 12)]`).
    public init(id: String, parameters overrides: [(name: String, value: Double)] = []) throws {
        if let type = Self.registry.first(where: { $0.id == id }) {
            self.init(try type.init(overrides: overrides))
        } else if Self.syntheticIDs.contains(id) {
            throw EnvironmentError.noCheckpoint(id: id)
        } else {
            throw EnvironmentError.unknownID(id, known: Self.registeredIDs)
        }
    }

    /// The environment as `type`, or nil when it is another one.
    public func environment<E: Environment>(as type: E.Type) -> E? { base as? E }

    /// `visitor.visit` of the environment, as its concrete type.
    @inlinable
    public func visit<V: EnvironmentVisitor>(_ visitor: V) -> V.Result { visitor.visit(base) }

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
    public func reset(_ batch: ResetBatch) { base.reset(batch) }

    /// Batched step with auto-reset by the environment's own `step(_:)`.
    @inlinable
    public func step(_ buffers: StepBuffers) { base.step(buffers) }
}

/// Something done with an environment of any type, as that type (generic,
/// so specialised per environment): `AnyEnvironment.visit`.
public protocol EnvironmentVisitor {
    associatedtype Result
    func visit<E: Environment>(_ env: E) -> Result
}
