import SGXSupport
import SGXNN
import SGXEnvironments

/// Hyperparameters by name, shared by every agent's configuration.
///
/// Each agent declares a table of its hyperparameters (rejax's names, as the
/// upstream meta-training configs write them, nested keyword arguments as
/// "agent_kwargs.activation"); reading, writing, listing and the errors for
/// unknown names or malformed values live here once.

/// One hyperparameter of configuration type `C`: its name and how text
/// becomes its value and back.
public struct Hyperparameter<C>: Sendable {
    public let name: String
    let read: @Sendable (inout C, String) throws -> Void
    let write: @Sendable (C) -> String?

    init(_ name: String, read: @escaping @Sendable (inout C, String) throws -> Void,
         write: @escaping @Sendable (C) -> String?) {
        (self.name, self.read, self.write) = (name, read, write)
    }

    /// An integer ("5", "5.0" and "5e3" are accepted when integral).
    public static func int(_ name: String, _ path: WritableKeyPath<C, Int> & Sendable) -> Self {
        Self(name, read: { c, text in c[keyPath: path] = try HyperparameterText.integer(name, text) },
             write: { "\($0[keyPath: path])" })
    }

    /// An optional integer; "none"/"null" clears it.
    public static func optionalInt(_ name: String, _ path: WritableKeyPath<C, Int?> & Sendable) -> Self {
        Self(name, read: { c, text in
            c[keyPath: path] = HyperparameterText.isNone(text) ? nil : try HyperparameterText.integer(name, text)
        }, write: { $0[keyPath: path].map { "\($0)" } ?? "none" })
    }

    /// A float32 ("inf" allowed; the configuration's `validate` checks ranges).
    public static func float(_ name: String, _ path: WritableKeyPath<C, Float> & Sendable) -> Self {
        Self(name, read: { c, text in c[keyPath: path] = try HyperparameterText.float(name, text) },
             write: { HyperparameterText.format($0[keyPath: path]) })
    }

    /// A boolean: true/false, 1/0.
    public static func bool(_ name: String, _ path: WritableKeyPath<C, Bool> & Sendable) -> Self {
        Self(name, read: { c, text in c[keyPath: path] = try HyperparameterText.boolean(name, text) },
             write: { "\($0[keyPath: path])" })
    }

    /// An activation by its Flax name (tanh, relu, swish, ...).
    public static func activation(_ name: String, _ paths: [WritableKeyPath<C, Activation> & Sendable]) -> Self {
        Self(name, read: { c, text in
            let a = try HyperparameterText.activation(name, text)
            for path in paths { c[keyPath: path] = a }
        }, write: { $0[keyPath: paths[0]].rawValue })
    }

    /// Layer sizes such as "64,64", "[64, 64]" or "(64, 64)".
    public static func sizes(_ name: String, _ paths: [WritableKeyPath<C, [Int]> & Sendable]) -> Self {
        Self(name, read: { c, text in
            let sizes = try HyperparameterText.sizes(name, text)
            for path in paths { c[keyPath: path] = sizes }
        }, write: { $0[keyPath: paths[0]].map(String.init).joined(separator: ",") })
    }

    /// One of a fixed set of words.
    public static func choice<E: RawRepresentable & CaseIterable & Sendable>(
        _ name: String, _ path: WritableKeyPath<C, E> & Sendable
    ) -> Self where E.RawValue == String {
        Self(name, read: { c, text in
            guard let value = E(rawValue: text) else {
                throw AgentError.invalidHyperparameter(
                    name: name, reason: "'\(text)' is not one of \(E.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            c[keyPath: path] = value
        }, write: { $0[keyPath: path].rawValue })
    }

    /// The same hyperparameter under another name (e.g. the nested
    /// "agent_kwargs.activation" of the upstream configs); not listed twice
    /// in `dictionary`.
    public func alias(_ other: String) -> Self {
        Self(other, read: read, write: { _ in nil })
    }

    /// A name rejax configs carry that has no effect here (e.g. `env`: the
    /// environment is given to `train` itself). Accepted and not stored.
    public static func ignored(_ name: String) -> Self {
        Self(name, read: { _, _ in }, write: { _ in nil })
    }
}

/// A configuration of an agent: rejax's hyperparameters with its defaults.
public protocol AgentConfiguration: Sendable, Equatable {
    /// "ppo", "dqn", ...
    static var algorithm: String { get }
    /// Every hyperparameter, by name.
    static var hyperparameters: [Hyperparameter<Self>] { get }
    /// rejax's defaults.
    init()
    /// Throws for the first invalid value, naming it.
    func validate() throws
}

extension AgentConfiguration {
    /// Every accepted name (ignored ones included).
    public static var names: [String] { hyperparameters.map(\.name) }

    /// Sets one hyperparameter from text.
    public mutating func set(_ name: String, string text: String) throws {
        guard let h = Self.hyperparameters.first(where: { $0.name == name }) else {
            throw AgentError.unknownHyperparameter(name: name, algorithm: Self.algorithm.uppercased(), known: Self.names)
        }
        try h.read(&self, text.trimmingCharacters(in: .whitespaces))
    }

    /// Sets one numeric hyperparameter (booleans as 0 / 1).
    public mutating func set(_ name: String, _ value: Double) throws {
        try set(name, string: HyperparameterText.format(value))
    }

    /// The defaults with the given values (rejax's names), validated.
    public init(_ values: [String: String]) throws {
        self.init()
        for (name, text) in values.sorted(by: { $0.key < $1.key }) { try set(name, string: text) }
        try validate()
    }

    /// The defaults with the given numeric values, validated.
    public init(_ values: [String: Double]) throws {
        try self.init(values.mapValues(HyperparameterText.format))
    }

    /// Every stored hyperparameter as text, by name (saved with policies).
    public var dictionary: [String: String] {
        var out: [String: String] = [:]
        for h in Self.hyperparameters { if let v = h.write(self) { out[h.name] = v } }
        return out
    }
}

/// Parsing of hyperparameter text, with errors that name the hyperparameter.
enum HyperparameterText {
    static func isNone(_ text: String) -> Bool { ["none", "null", "~", ""].contains(text.lowercased()) }

    static func number(_ name: String, _ text: String) throws -> Double {
        switch text.lowercased() {
        case "true": return 1
        case "false": return 0
        case "inf", "infinity", ".inf", "+inf": return .infinity
        case "-inf", "-infinity", "-.inf": return -.infinity
        default:
            guard let v = Double(text) else {
                throw AgentError.invalidHyperparameter(name: name, reason: "'\(text)' is not a number")
            }
            return v
        }
    }

    static func integer(_ name: String, _ text: String) throws -> Int {
        let value = try number(name, text)
        guard value.isFinite, value == value.rounded(), abs(value) < 1e15 else {
            throw AgentError.invalidHyperparameter(name: name, reason: "must be an integer, got \(text)")
        }
        return Int(value)
    }

    static func float(_ name: String, _ text: String) throws -> Float {
        let value = try number(name, text)
        guard !value.isNaN else { throw AgentError.invalidHyperparameter(name: name, reason: "must not be NaN") }
        guard value.isInfinite || Limits.fitsFloat32(value) else {
            throw AgentError.invalidHyperparameter(
                name: name, reason: "\(text) is outside float32's finite range (magnitude at most 3.4028235e+38; write inf for infinity)")
        }
        return Float(value)
    }

    static func boolean(_ name: String, _ text: String) throws -> Bool {
        switch text.lowercased() {
        case "true", "1", "1.0": return true
        case "false", "0", "0.0": return false
        default: throw AgentError.invalidHyperparameter(name: name, reason: "must be 0 or 1 (a boolean), got \(text)")
        }
    }

    static func activation(_ name: String, _ text: String) throws -> Activation {
        guard let a = Activation(rawValue: text) else {
            throw AgentError.invalidHyperparameter(
                name: name, reason: "unknown activation '\(text)'; known: \(Activation.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return a
    }

    static func sizes(_ name: String, _ text: String) throws -> [Int] {
        let parts = text.split(whereSeparator: { ",x ()[]".contains($0) }).map { Int($0) }
        guard !parts.isEmpty, parts.allSatisfy({ ($0 ?? 0) >= 1 }) else {
            throw AgentError.invalidHyperparameter(name: name, reason: "must be positive integers like 64,64, got '\(text)'")
        }
        return parts.map { $0! }
    }

    static func format(_ x: Float) -> String { x.isInfinite ? (x > 0 ? "inf" : "-inf") : "\(x)" }
    static func format(_ x: Double) -> String { x.isInfinite ? (x > 0 ? "inf" : "-inf") : "\(x)" }
}

/// Checks shared by the configurations' `validate`.
enum HyperparameterCheck {
    static func require(_ ok: Bool, _ name: String, _ reason: @autoclosure () -> String) throws {
        if !ok { throw AgentError.invalidHyperparameter(name: name, reason: reason()) }
    }
    static func atLeast(_ value: Int, _ minimum: Int, _ name: String) throws {
        try require(value >= minimum, name, "must be at least \(minimum), got \(value)")
    }
    static func nonNegative(_ value: Float, _ name: String) throws {
        try require(value.isFinite && value >= 0, name, "must be finite and >= 0, got \(value)")
    }
    static func unit(_ value: Float, _ name: String) throws {
        try require((0...1).contains(value), name, "must be in [0, 1], got \(value)")
    }
    static func gradientNorm(_ value: Float) throws {
        try require(value > 0, "max_grad_norm", "must be > 0 (infinity disables clipping), got \(value)")
    }
    static func sizes(_ value: [Int], _ name: String) throws {
        try require(!value.isEmpty && value.allSatisfy { $0 >= 1 }, name, "must be one or more positive sizes, got \(value)")
        try require(value.count <= Limits.layers, name, "\(value.count) layers exceed the bound of \(Limits.layers)")
        if let w = value.first(where: { $0 > Limits.layerWidth }) {
            throw AgentError.invalidHyperparameter(
                name: name, reason: "a layer of width \(w) exceeds the bound of \(Limits.layerWidth) (SGX_MAX_LAYER_WIDTH)")
        }
    }
    /// At most `Limits.environments` environments.
    static func environments(_ value: Int, _ name: String = "num_envs") throws {
        try atLeast(value, 1, name)
        try require(value <= Limits.environments, name,
                    "must be at most \(Limits.environments) (SGX_MAX_NUM_ENVS), got \(value)")
    }
    /// A transition count (buffer, batch, rollout) of at most `Limits.batch`.
    static func transitions(_ value: Int, _ name: String, minimum: Int = 1) throws {
        try atLeast(value, minimum, name)
        try require(value <= Limits.batch, name, "must be at most \(Limits.batch) (SGX_MAX_BATCH), got \(value)")
    }
    /// A loop count reported in int32 (gradient steps, delays, epochs).
    static func count(_ value: Int, _ name: String, minimum: Int = 1) throws {
        try atLeast(value, minimum, name)
        try require(value <= Limits.int32, name, "must be at most \(Limits.int32), got \(value)")
    }
}

/// What a configuration allocates, checked against the bounds before a
/// training run allocates anything.
protocol TrainingFootprint {
    var hiddenLayerSizes: [Int] { get }
    /// Transitions held at once: the replay buffer, or PPO's rollout.
    var storedTransitions: Int { get }
    /// The hyperparameter(s) that set `storedTransitions`, for errors.
    var storedTransitionsName: String { get }
}

extension TrainingFootprint {
    /// Throws when the networks for `env` would exceed
    /// `Limits.networkParameters`, or the stored transitions
    /// `Limits.bufferFloats` floats.
    func checkFootprint(on env: AnyEnvironment) throws {
        let obs = env.observationSize, actions = env.actionSpace.numActions
        // The widest network any agent builds: [obs, actions] in, 2 actions + 1 out.
        if let problem = Limits.networkProblem([obs + actions] + hiddenLayerSizes + [2 * actions + 1]) {
            throw AgentError.invalidHyperparameter(name: "hidden_layer_sizes", reason: "\(problem) on \(env.name)")
        }
        let perTransition = 2 * obs + actions + 8
        guard let floats = Limits.product(storedTransitions, perTransition), floats <= Limits.bufferFloats else {
            throw AgentError.invalidHyperparameter(
                name: storedTransitionsName,
                reason: "\(storedTransitions) transitions of \(perTransition) floats on \(env.name) exceed the bound of "
                    + "\(Limits.bufferFloats) floats (4 GiB, SGX_MAX_BUFFER_FLOATS)")
        }
    }
}

/// rejax's evaluation-interval rounding of the number of training
/// iterations: ceil(total / eval_freq) intervals of ceil(eval_freq / steps
/// per iteration) iterations (eval_freq defaults to total_timesteps).
func trainingIterations(totalTimesteps: Int, evalFreq: Int?, stepsPerIteration: Int) -> Int {
    let interval = evalFreq ?? totalTimesteps
    let intervals = (totalTimesteps + interval - 1) / interval
    return intervals * ((interval + stepsPerIteration - 1) / stepsPerIteration)
}
