import SGXRandom

/// The evolution strategies that meta-learn synthetic environments (SNES,
/// OpenES), following evosax 0.1.6, the version the paper used.
///
/// A strategy is a value: its options and its explicit state (mean, sigma,
/// best member, generation counter, optimiser moments), all `Codable`, so a
/// meta-training run can save it after every generation and resume it bit
/// for bit. `ask(key:)` draws a population with the project's JAX-exact PRNG,
/// so that the noise equals evosax's `jax.random.normal(key, (popsize, dims))`;
/// `tell(_:fitness:)` shapes the fitness and updates the state.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A population of candidate parameter vectors: `size` members of
/// `dimensions` float32 values each, row-major (member i is
/// `values[i * dimensions ..< (i + 1) * dimensions]`), as evosax's
/// `(popsize, num_dims)` array.
public struct Population: Sendable, Equatable, Codable {
    public let size: Int
    public let dimensions: Int
    public var values: [Float]

    /// A population from row-major values; `values.count` must be `size * dimensions`.
    public init(size: Int, dimensions: Int, values: [Float]) throws {
        guard size >= 1, dimensions >= 1, values.count == size * dimensions else {
            throw EvolutionStrategyError.wrongPopulationShape(
                expected: "\(size) × \(dimensions) = \(max(0, size * dimensions)) values", got: values.count)
        }
        (self.size, self.dimensions, self.values) = (size, dimensions, values)
    }

    /// For the strategies' own `ask`, whose shape is right by construction.
    init(unchecked size: Int, _ dimensions: Int, _ values: [Float]) {
        (self.size, self.dimensions, self.values) = (size, dimensions, values)
    }

    /// A population from its members (all of one length).
    public init(members: [[Float]]) throws {
        guard let d = members.first?.count, d >= 1, members.allSatisfy({ $0.count == d }) else {
            throw EvolutionStrategyError.wrongPopulationShape(
                expected: "members of one non-zero length", got: members.count)
        }
        try self.init(size: members.count, dimensions: d, values: members.flatMap { $0 })
    }

    private enum CodingKeys: String, CodingKey { case size, dimensions, values }

    /// Decodes and checks the shape, as `init(size:dimensions:values:)`.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(size: try c.decode(Int.self, forKey: .size), dimensions: try c.decode(Int.self, forKey: .dimensions),
                      values: try c.decode([Float].self, forKey: .values))
    }

    /// Member `i` (a copy).
    public func member(_ i: Int) -> [Float] {
        Array(values[i * dimensions ..< (i + 1) * dimensions])
    }

    /// Every member (copies).
    public var members: [[Float]] { (0..<size).map(member) }
}

/// What can go wrong when configuring or driving a strategy. Every case names
/// the option or input at fault.
public enum EvolutionStrategyError: Error, Equatable, CustomStringConvertible {
    /// An option is out of range (e.g. popsize < 2, sigma_init <= 0).
    case invalidOption(name: String, reason: String)
    /// A population passed to `tell` does not have popsize × num_dims values.
    case wrongPopulationShape(expected: String, got: Int)
    /// `tell` got a fitness array of the wrong length.
    case wrongFitnessCount(expected: Int, got: Int)
    /// A fitness value is NaN or infinite (a failed inner-loop run should be
    /// given a finite worst value by the caller).
    case nonFiniteFitness(index: Int, value: Float)
    /// A population or mean value is NaN or infinite.
    case nonFiniteParameter(name: String, index: Int)
    /// A vector (mean, sigma, saved state) has the wrong length.
    case wrongLength(name: String, expected: Int, got: Int)
    /// A strategy name that is neither SNES nor OpenES.
    case unknownStrategy(name: String)

    public var description: String {
        switch self {
        case let .invalidOption(name, reason): return "invalid strategy option \(name): \(reason)"
        case let .wrongPopulationShape(expected, got): return "population has \(got) values, expected \(expected)"
        case let .wrongFitnessCount(expected, got): return "fitness has \(got) values, expected popsize = \(expected)"
        case let .nonFiniteFitness(index, value): return "fitness[\(index)] is \(value); fitness must be finite"
        case let .nonFiniteParameter(name, index): return "\(name)[\(index)] is not finite"
        case let .wrongLength(name, expected, got): return "\(name) has \(got) values, expected \(expected)"
        case let .unknownStrategy(name):
            return "unknown strategy '\(name)'; known: \(EvolutionStrategyName.allCases.map(\.rawValue).joined(separator: ", "))"
        }
    }
}

/// The strategies by their evosax names (`strategy_name` of the configs).
public enum EvolutionStrategyName: String, Sendable, Codable, CaseIterable {
    case snes = "SNES"
    case openES = "OpenES"
}

/// What a meta-training loop needs of a strategy.
public protocol EvolutionStrategy: Sendable, Codable, Equatable {
    var popsize: Int { get }
    var numDims: Int { get }
    /// The search distribution's mean (evosax `state.mean`; `get_eval_params`).
    var mean: [Float] { get }
    /// Its per-dimension standard deviation (`state.sigma`).
    var sigma: [Float] { get }
    /// The best member seen so far and its raw (unshaped) fitness.
    var bestMember: [Float] { get }
    var bestFitness: Float { get }
    /// Number of `tell`s so far (`state.gen_counter`).
    var generation: Int { get }
    /// New candidates (evosax `ask`): deterministic in the key and the state.
    func ask(key: PRNGKey) -> Population
    /// Updates the state with the fitness of `population` (evosax `tell`).
    mutating func tell(_ population: Population, fitness: [Float]) throws
    /// Replaces the mean (evosax `set_mean`; upstream starts from the networks' initialisation).
    mutating func setMean(_ mean: [Float]) throws
}

// MARK: - Shared pieces

/// Checks shared by the strategies' options.
enum OptionCheck {
    static func require(_ ok: Bool, _ name: String, _ reason: @autoclosure () -> String) throws {
        if !ok { throw EvolutionStrategyError.invalidOption(name: name, reason: reason()) }
    }

    static func finite(_ x: Float, _ name: String) throws {
        try require(x.isFinite, name, "must be finite, got \(x)")
    }

    static func vector(_ v: [Float], _ name: String, count: Int) throws {
        guard v.count == count else { throw EvolutionStrategyError.wrongLength(name: name, expected: count, got: v.count) }
        if let i = v.firstIndex(where: { !$0.isFinite }) {
            throw EvolutionStrategyError.nonFiniteParameter(name: name, index: i)
        }
    }
}

/// Validation of `tell`'s inputs, shared by the strategies.
func checkTellInputs(_ population: Population, _ fitness: [Float], popsize: Int, numDims: Int) throws {
    guard population.size == popsize, population.dimensions == numDims,
          population.values.count == popsize * numDims else {
        throw EvolutionStrategyError.wrongPopulationShape(
            expected: "popsize \(popsize) × num_dims \(numDims)", got: population.values.count)
    }
    guard fitness.count == popsize else {
        throw EvolutionStrategyError.wrongFitnessCount(expected: popsize, got: fitness.count)
    }
    if let i = fitness.firstIndex(where: { !$0.isFinite }) {
        throw EvolutionStrategyError.nonFiniteFitness(index: i, value: fitness[i])
    }
    if let i = population.values.firstIndex(where: { !$0.isFinite }) {
        throw EvolutionStrategyError.nonFiniteParameter(name: "population", index: i)
    }
}

/// evosax `utils.get_best_fitness_member`: keeps the best member by raw
/// fitness (largest when maximising), replacing it only on strict
/// improvement, first member on ties. As in evosax, before the first
/// generation the stored best fitness is float32's max (a minimisation
/// sentinel) whatever the direction.
func updateBest(population: Population, fitness: [Float], maximize: Bool, generation: Int,
                bestMember: inout [Float], bestFitness: inout Float) {
    var bestIndex = 0
    var bestValue = maximize ? -fitness[0] : fitness[0]
    for i in 1..<fitness.count {
        let v = maximize ? -fitness[i] : fitness[i]
        if v < bestValue { (bestIndex, bestValue) = (i, v) }
    }
    var stored = (maximize && generation > 0) ? -bestFitness : bestFitness
    if bestValue < stored {
        stored = bestValue
        bestMember = population.member(bestIndex)
    }
    bestFitness = maximize ? -stored : stored
}

/// The initial mean: `jax.random.uniform(key, (num_dims,), minval, maxval)`
/// (zeros with evosax's default init_min = init_max = 0).
func initialMean(key: PRNGKey, count: Int, minval: Float, maxval: Float) -> [Float] {
    key.uniform(count: count, minval: minval, maxval: maxval)
}

/// Indices that sort `values` ascending, stable (as `jnp.argsort`).
func stableArgsort(_ values: [Float]) -> [Int] {
    values.indices.sorted { a, b in values[a] < values[b] || (values[a] == values[b] && a < b) }
}

// MARK: - A strategy of either kind

/// A strategy chosen by name at run time (a config's `strategy_name`), for
/// a meta-training loop that should not care which one it drives. Codable,
/// so the whole strategy is one value to save and resume.
public enum AnyEvolutionStrategy: EvolutionStrategy {
    case snes(SNES)
    case openES(OpenES)

    /// A strategy from its evosax name and constructor keywords
    /// (`strategy_params` of a config: popsize, sigma_init, temperature, ...),
    /// initialised with `key` (upstream: the second key of
    /// `split(PRNGKey(seed_id))`). `maximize` is given separately because
    /// upstream's meta-training always passes `maximize=True`.
    public init(name: String, numDims: Int, parameters: [String: ConfigScalar], maximize: Bool,
                key: PRNGKey) throws {
        guard let kind = EvolutionStrategyName(rawValue: name) else {
            throw EvolutionStrategyError.unknownStrategy(name: name)
        }
        switch kind {
        case .snes:
            self = .snes(try SNES(options: try SNES.Options(numDims: numDims, keywords: parameters, maximize: maximize),
                                  key: key))
        case .openES:
            self = .openES(try OpenES(options: try OpenES.Options(numDims: numDims, keywords: parameters,
                                                                  maximize: maximize), key: key))
        }
    }

    public var name: EvolutionStrategyName {
        switch self { case .snes: return .snes; case .openES: return .openES }
    }

    public var popsize: Int { switch self { case let .snes(s): return s.popsize; case let .openES(s): return s.popsize } }
    public var numDims: Int { switch self { case let .snes(s): return s.numDims; case let .openES(s): return s.numDims } }
    public var mean: [Float] { switch self { case let .snes(s): return s.mean; case let .openES(s): return s.mean } }
    public var sigma: [Float] { switch self { case let .snes(s): return s.sigma; case let .openES(s): return s.sigma } }
    public var bestMember: [Float] {
        switch self { case let .snes(s): return s.bestMember; case let .openES(s): return s.bestMember }
    }
    public var bestFitness: Float {
        switch self { case let .snes(s): return s.bestFitness; case let .openES(s): return s.bestFitness }
    }
    public var generation: Int {
        switch self { case let .snes(s): return s.generation; case let .openES(s): return s.generation }
    }

    public func ask(key: PRNGKey) -> Population {
        switch self { case let .snes(s): return s.ask(key: key); case let .openES(s): return s.ask(key: key) }
    }

    public mutating func tell(_ population: Population, fitness: [Float]) throws {
        switch self {
        case var .snes(s): try s.tell(population, fitness: fitness); self = .snes(s)
        case var .openES(s): try s.tell(population, fitness: fitness); self = .openES(s)
        }
    }

    public mutating func setMean(_ mean: [Float]) throws {
        switch self {
        case var .snes(s): try s.setMean(mean); self = .snes(s)
        case var .openES(s): try s.setMean(mean); self = .openES(s)
        }
    }
}

// MARK: - evosax keyword arguments

/// Reads evosax constructor keywords (`strategy_params`) into options,
/// rejecting unknown names and values of the wrong type, naming the key.
struct StrategyKeywords {
    let values: [String: ConfigScalar]
    let strategy: String
    var used: Set<String> = []

    init(_ values: [String: ConfigScalar], strategy: String) {
        (self.values, self.strategy) = (values, strategy)
    }

    private func key(_ name: String) -> String { "strategy_params.\(name)" }

    mutating func float(_ name: String) throws -> Float? {
        guard let v = values[name] else { return nil }
        used.insert(name)
        guard let d = v.number else {
            throw EvolutionStrategyError.invalidOption(name: key(name), reason: "must be a number, got '\(v.text)'")
        }
        return Float(d)
    }

    mutating func double(_ name: String) throws -> Double? {
        guard let v = values[name] else { return nil }
        used.insert(name)
        guard let d = v.number else {
            throw EvolutionStrategyError.invalidOption(name: key(name), reason: "must be a number, got '\(v.text)'")
        }
        return d
    }

    mutating func int(_ name: String) throws -> Int? {
        guard let v = values[name] else { return nil }
        used.insert(name)
        guard let d = v.number, d == d.rounded(), abs(d) < 1e9 else {
            throw EvolutionStrategyError.invalidOption(name: key(name), reason: "must be an integer, got '\(v.text)'")
        }
        return Int(d)
    }

    mutating func bool(_ name: String) throws -> Bool? {
        guard let v = values[name] else { return nil }
        used.insert(name)
        if let b = v.bool { return b }
        // evosax takes Union[bool, int] and calls bool() on it.
        if let d = v.number, v.kind == .int { return d != 0 }
        throw EvolutionStrategyError.invalidOption(name: key(name), reason: "must be a boolean, got '\(v.text)'")
    }

    mutating func string(_ name: String) throws -> String? {
        guard let v = values[name] else { return nil }
        used.insert(name)
        guard v.kind == .string else {
            throw EvolutionStrategyError.invalidOption(name: key(name), reason: "must be a string, got '\(v.text)'")
        }
        return v.text
    }

    /// The fitness-shaping keywords of evosax's `FitnessShaper`.
    mutating func fitnessShaping(maximize: Bool) throws -> FitnessShaping {
        if values["maximize"] != nil {
            throw EvolutionStrategyError.invalidOption(
                name: key("maximize"), reason: "is set by the meta-trainer (upstream always maximises the return)")
        }
        let centered = try bool("centered_rank") ?? false
        let z = try bool("z_score") ?? false
        let norm = try bool("norm_range") ?? false
        var transform = FitnessShaping.Transform.raw
        if let name = try string("fitness_trafo") {
            guard let t = FitnessShaping.Transform(rawValue: name) else {
                throw EvolutionStrategyError.invalidOption(
                    name: key("fitness_trafo"),
                    reason: "'\(name)' is not one of \(FitnessShaping.Transform.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            transform = t  // evosax: fitness_trafo wins over the flags
        } else {
            let on = [centered, z, norm].filter { $0 }.count
            guard on < 2 else {
                throw EvolutionStrategyError.invalidOption(
                    name: key("centered_rank"), reason: "use only one of centered_rank, z_score, norm_range")
            }
            transform = centered ? .centeredRank : z ? .zScore : norm ? .normRange : .raw
        }
        return FitnessShaping(transform: transform, weightDecay: try float("w_decay") ?? 0, maximize: maximize)
    }

    /// Throws for the first keyword no option read.
    func rejectUnknown(known: [String]) throws {
        for name in values.keys.sorted() where !used.contains(name) {
            throw EvolutionStrategyError.invalidOption(
                name: key(name), reason: "unknown option for \(strategy); known: \(known.joined(separator: ", "))")
        }
    }
}
