import SGXSupport

/// A named environment parameter with its current value, as a field of
/// gymnax's `EnvParams`. Integer parameters hold integral values.
public struct ParameterValue: Sendable, Equatable {
    public var name: String
    public var value: Double
    public var isInteger: Bool

    public init(name: String, value: Double, isInteger: Bool) {
        self.name = name
        self.value = value
        self.isInteger = isInteger
    }
}

/// How one parameter is read from and written to an environment's `Params`.
public struct ParameterSpec<Params>: @unchecked Sendable {
    public let name: String
    public let isInteger: Bool
    /// An unbounded range's end (Hopper's healthy_z_range[1] is +inf):
    /// infinities are allowed, NaN is not.
    public let allowsInfinity: Bool
    let get: (Params) -> Double
    let set: (inout Params, Double) -> Void

    public init(_ name: String, _ keyPath: WritableKeyPath<Params, Double>, allowsInfinity: Bool = false) {
        self.name = name
        self.isInteger = false
        self.allowsInfinity = allowsInfinity
        self.get = { $0[keyPath: keyPath] }
        self.set = { $0[keyPath: keyPath] = $1 }
    }

    public init(_ name: String, integer keyPath: WritableKeyPath<Params, Int>) {
        self.name = name
        self.isInteger = true
        self.allowsInfinity = false
        self.get = { Double($0[keyPath: keyPath]) }
        self.set = { $0[keyPath: keyPath] = Int($1) }
    }
}

/// Parameters settable by name, in gymnax field order.
public protocol NamedParameters: Sendable {
    init()
    static var specs: [ParameterSpec<Self>] { get }
}

extension NamedParameters {
    /// The defaults with `overrides` applied. Names are gymnax's; every value
    /// must be finite in float32 (or infinite where the spec allows it), integer parameters int32 integers, and
    /// `max_steps_in_episode` at least 1. A name may be given once, and an
    /// array parameter (Acrobot's "available_torque[0]", "[1]", "[2]") whole
    /// or not at all.
    public init(overrides: [(name: String, value: Double)], environment: String) throws {
        self.init()
        try Self.checkNames(overrides.map(\.name), known: Self.specs.map(\.name))
        for (name, value) in overrides {
            guard let spec = Self.specs.first(where: { $0.name == name }) else {
                throw EnvironmentError.unknownParameter(
                    name: name, environment: environment, known: Self.specs.map(\.name))
            }
            guard value.isFinite || (spec.allowsInfinity && value.isInfinite) else {
                throw EnvironmentError.invalidParameter(name: name, reason: "\(value) is not finite")
            }
            if spec.isInteger {
                guard value == value.rounded(), abs(value) <= Double(Int32.max) else {
                    throw EnvironmentError.invalidParameter(
                        name: name, reason: "\(value) is not an int32 integer")
                }
                if name == "max_steps_in_episode" && value < 1 {
                    throw EnvironmentError.invalidParameter(name: name, reason: "must be at least 1, got \(Int(value))")
                }
            } else {
                guard Limits.fitsFloat32(value) || value.isInfinite else {
                    throw EnvironmentError.invalidParameter(
                        name: name, reason: "\(value) is outside float32's finite range (magnitude at most 3.4028235e+38)")
                }
            }
            spec.set(&self, value)
        }
    }

    /// Throws for a name given twice, and for an array parameter given in
    /// part (some of "name[0]", "name[1]", ... but not all of them).
    static func checkNames(_ names: [String], known: [String]) throws {
        var seen = Set<String>()
        for name in names where !seen.insert(name).inserted {
            throw EnvironmentError.invalidParameter(name: name, reason: "is given twice")
        }
        for array in Set(known.compactMap(arrayName)).sorted() {
            let elements = known.filter { arrayName($0) == array }
            let given = elements.filter(seen.contains)
            if !given.isEmpty && given.count < elements.count {
                throw EnvironmentError.invalidParameter(
                    name: array,
                    reason: "has \(elements.count) elements (\(elements.joined(separator: ", "))), but \(given.count) "
                        + "\(given.count == 1 ? "was" : "were") given (\(given.joined(separator: ", "))); give all \(elements.count)")
            }
        }
    }

    /// "available_torque" for "available_torque[2]", nil for a scalar's name.
    private static func arrayName(_ name: String) -> String? {
        guard name.hasSuffix("]"), let open = name.lastIndex(of: "[") else { return nil }
        return String(name[..<open])
    }

    /// Current values, in gymnax field order.
    public var values: [ParameterValue] {
        Self.specs.map { ParameterValue(name: $0.name, value: $0.get(self), isInteger: $0.isInteger) }
    }
}

/// Errors from creating or using an environment, with messages that name the problem.
public enum EnvironmentError: Error, Equatable, CustomStringConvertible {
    case unknownID(String, known: [String])
    case unknownParameter(name: String, environment: String, known: [String])
    case invalidParameter(name: String, reason: String)
    /// A file that cannot be read or written.
    case io(path: String, reason: String)
    /// A synthetic environment id for which this project has no checkpoint yet.
    case noCheckpoint(id: String)

    public var description: String {
        switch self {
        case .unknownID(let id, let known):
            return "unknown environment id '\(id)'; registered ids: \(known.joined(separator: ", "))"
        case .unknownParameter(let name, let env, let known):
            return "\(env) has no parameter '\(name)'; its parameters: \(known.joined(separator: ", "))"
        case .invalidParameter(let name, let reason):
            return "invalid value for parameter '\(name)': \(reason)"
        case .io(let path, let reason):
            return "\(path): \(reason)"
        case .noCheckpoint(let id):
            return "\(id) is synthetic: create it from a checkpoint file (this project's "
                + "Checkpoints/\(id.dropFirst("Synthetic-".count))/checkpoint.safetensors where it exists, "
                + "or a paper checkpoint converted from synthetic-gymnax)"
        }
    }
}
