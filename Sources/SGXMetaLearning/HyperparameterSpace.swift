import SGXSupport
import SGXRandom

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One algorithm's `inner_config`: hyperparameters that are either fixed
/// values or lists to sample from, possibly nested (`agent_kwargs`,
/// `actor_kwargs`, `critic_kwargs`).
///
/// `sample(key:)` is upstream's `make_sample_config`
/// (`examples/metalearn_synthenv.py`) with JAX's exact semantics:
/// `leaves = tree_flatten(config)` — mapping keys in sorted (code point)
/// order, recursing into nested mappings, lists being leaves — then
/// `rngs = split(key, len(leaves))` and each list leaf i replaced by
/// `jax.random.choice(rngs[i], array(list))`, which for a 1-D array without
/// probabilities is `list[randint(rngs[i], (), 0, len(list))]`. The same key
/// gives the same configuration as upstream.
public struct HyperparameterSpace: Sendable, Equatable {
    /// A leaf of the flattened config: its dotted path
    /// ("agent_kwargs.activation"), and either a fixed value or choices.
    public struct Leaf: Sendable, Equatable {
        public var path: String
        public var value: ConfigValue
        /// The elements to choose from when `value` is a list.
        public var choices: [ConfigValue]? {
            if case let .list(items) = value { return items }
            return nil
        }
    }

    /// The mapping as written.
    public let value: ConfigValue
    /// The leaves in `jax.tree_util.tree_flatten` order.
    public let leaves: [Leaf]

    /// A space from a mapping; `path` names it in errors ("inner_config.ppo").
    public init(_ value: ConfigValue, path: String = "") throws {
        guard case .mapping = value else {
            throw MetaConfigError.wrongType(key: path.isEmpty ? "the hyperparameters" : path,
                                            expected: "a mapping of hyperparameters", found: value.kindDescription)
        }
        self.value = value
        var leaves: [Leaf] = []
        try Self.flatten(value, prefix: "", errorPath: path, into: &leaves)
        self.leaves = leaves
    }

    /// A space from YAML text (a mapping).
    public init(yaml: String) throws {
        try self.init(try ConfigValue.parse(yaml: yaml))
    }

    private static func flatten(_ value: ConfigValue, prefix: String, errorPath: String, into leaves: inout [Leaf]) throws {
        guard case let .mapping(entries) = value else { return }
        for entry in entries.sorted(by: { codePointLess($0.key, $1.key) }) {
            let path = prefix + entry.key
            let errorKey = errorPath.isEmpty ? path : "\(errorPath).\(path)"
            switch entry.value {
            case .mapping:
                try flatten(entry.value, prefix: path + ".", errorPath: errorPath, into: &leaves)
            case let .list(items):
                try checkChoices(items, key: errorKey)
                leaves.append(Leaf(path: path, value: entry.value))
            case .scalar:
                leaves.append(Leaf(path: path, value: entry.value))
            }
        }
    }

    /// A list leaf must be something `jnp.array` accepts: non-empty, of
    /// scalars, or of lists of scalars of one length (a choice of rows).
    private static func checkChoices(_ items: [ConfigValue], key: String) throws {
        guard !items.isEmpty else {
            throw MetaConfigError.invalidValue(key: key, reason: "an empty list has nothing to sample from")
        }
        let rows = items.compactMap { item -> [ConfigValue]? in
            if case let .list(row) = item { return row }
            return nil
        }
        for (i, item) in items.enumerated() {
            let ok: Bool
            switch item {
            case .scalar: ok = rows.isEmpty
            case let .list(row):
                ok = rows.count == items.count && row.allSatisfy { if case .scalar = $0 { return true } else { return false } }
            case .mapping: ok = false
            }
            guard ok else {
                throw MetaConfigError.wrongType(key: "\(key)[\(i)]",
                                                expected: rows.isEmpty ? "a scalar" : "a list of scalars like the others",
                                                found: item.kindDescription)
            }
        }
        if let first = rows.first, let i = rows.firstIndex(where: { $0.count != first.count }) {
            throw MetaConfigError.invalidValue(key: "\(key)[\(i)]", reason: "lists to choose from must have one length")
        }
    }

    /// The chosen element of every list leaf for `key`, by path.
    public func sampleIndices(key: PRNGKey) -> [String: Int] {
        guard !leaves.isEmpty else { return [:] }
        let keys = key.split(leaves.count)
        var out: [String: Int] = [:]
        for (leaf, k) in zip(leaves, keys) {
            if let choices = leaf.choices {
                out[leaf.path] = Int(k.randint(count: 1, minval: 0, maxval: Int32(choices.count))[0])
            }
        }
        return out
    }

    /// A configuration drawn with `key`: every leaf by dotted path, lists
    /// replaced by their chosen element, as the text the agents read
    /// ("0.001", "tanh", "[64, 64]" for a chosen row).
    public func sample(key: PRNGKey) -> [String: String] {
        let indices = sampleIndices(key: key)
        var out: [String: String] = [:]
        for leaf in leaves {
            if let choices = leaf.choices, let i = indices[leaf.path] {
                out[leaf.path] = choices[i].text
            } else {
                out[leaf.path] = leaf.value.text
            }
        }
        return out
    }

    /// The hyperparameters that are sampled (list leaves), by path.
    public var sampledPaths: [String] { leaves.filter { $0.choices != nil }.map(\.path) }
}

/// Python's `str` ordering: lexicographic by Unicode code point.
func codePointLess(_ a: String, _ b: String) -> Bool {
    a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars) { $0.value < $1.value }
}

/// `eval_config`: how many real-environment steps the agents are evaluated
/// for in each generation, and on how many environments.
///
/// Upstream builds `getattr(optax, schedule_fn)(**rest)` (default
/// `linear_schedule`) and takes `schedule(gen).astype(int)`: the
/// evaluation length grows or shrinks from `init_value` to `end_value`
/// between generations `transition_begin` and
/// `transition_begin + transition_steps`, computed in float32 and truncated.
/// `init_length` / `end_length` (the brax configs' spelling) are accepted for
/// `init_value` / `end_value`.
public struct EvalSchedule: Sendable, Equatable {
    public enum Function: String, Sendable, CaseIterable {
        case linear = "linear_schedule"
        case polynomial = "polynomial_schedule"
        case constant = "constant_schedule"
    }

    public var numEvalEnvs: Int
    public var function: Function
    public var initValue: Double
    public var endValue: Double
    /// The polynomial's power (1 for linear); `powerIsInteger` as optax
    /// distinguishes `x ** 2` (repeated multiplication) from `x ** 2.0`.
    public var power: Double
    public var powerIsInteger: Bool
    public var transitionSteps: Int
    public var transitionBegin: Int

    /// A linear schedule (or a constant one with `initValue == endValue`).
    public init(numEvalEnvs: Int, initValue: Double, endValue: Double, transitionSteps: Int, transitionBegin: Int = 0) {
        (self.numEvalEnvs, self.function, self.initValue, self.endValue) = (numEvalEnvs, .linear, initValue, endValue)
        (self.power, self.powerIsInteger, self.transitionSteps, self.transitionBegin) = (1, true, transitionSteps, transitionBegin)
    }

    init(_ value: ConfigValue) throws {
        var f = try Fields(value, path: "eval_config")
        let name = try f.optionalString("schedule_fn") ?? Function.linear.rawValue
        guard let function = Function(rawValue: name) else {
            throw MetaConfigError.invalidValue(
                key: "eval_config.schedule_fn",
                reason: "unsupported schedule '\(name)'; supported: \(Function.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self.function = function
        var known = ["num_eval_envs", "schedule_fn"]
        switch function {
        case .linear: known += ["init_value", "end_value", "init_length", "end_length", "transition_steps", "transition_begin"]
        case .polynomial: known += ["init_value", "end_value", "init_length", "end_length", "transition_steps",
                                    "transition_begin", "power"]
        case .constant: known += ["value"]
        }
        f.rejectUnknown(known)
        try f.throwIfUnknown()
        numEvalEnvs = try f.int("num_eval_envs", min: 1, max: Limits.environments)
        func either(_ a: String, _ b: String) throws -> Double {
            let x = try f.optionalNumber(a), y = try f.optionalNumber(b)
            if x != nil && y != nil { throw MetaConfigError.invalidValue(key: f.key(b), reason: "give either \(a) or \(b)") }
            guard let v = x ?? y else { throw MetaConfigError.missingKey(key: f.key(a)) }
            return v
        }
        if function == .constant {
            let v = try f.optionalNumber("value")
            guard let v else { throw MetaConfigError.missingKey(key: f.key("value")) }
            (initValue, endValue, transitionSteps, transitionBegin) = (v, v, 0, 0)
            (power, powerIsInteger) = (1, true)
        } else {
            initValue = try either("init_value", "init_length")
            endValue = try either("end_value", "end_length")
            transitionSteps = try f.int("transition_steps")
            transitionBegin = try f.optionalInt("transition_begin") ?? 0
            if function == .polynomial {
                guard case let .scalar(s)? = f.optional("power"), let p = s.number, p.isFinite else {
                    if f.optional("power") == nil { throw MetaConfigError.missingKey(key: f.key("power")) }
                    throw MetaConfigError.wrongType(key: f.key("power"), expected: "a number",
                                                    found: f.optional("power")!.kindDescription)
                }
                (power, powerIsInteger) = (p, s.kind == .int)
            } else {
                (power, powerIsInteger) = (1, true)
            }
        }
        for (k, v) in [("init_value", initValue), ("end_value", endValue)] where v < 0 || v > Double(Limits.int32) {
            throw MetaConfigError.invalidValue(key: f.key(k), reason: "an evaluation length must be in 0...\(Limits.int32), got \(v)")
        }
        if power < 0 {
            throw MetaConfigError.invalidValue(key: f.key("power"), reason: "must be >= 0 (a negative power makes the length infinite), got \(power)")
        }
    }

    /// The schedule's float32 value at `generation` (optax's arithmetic).
    public func value(generation: Int) -> Float {
        guard transitionSteps > 0 else { return Float(initValue) }
        let begin = Swift.max(transitionBegin, 0)
        let count = Swift.min(Swift.max(generation - begin, 0), transitionSteps)
        // As XLA compiles it: the division by a constant becomes a
        // multiplication by its reciprocal, and both steps fused multiply-adds.
        let frac = Float(1).addingProduct(-Float(count), 1 / Float(transitionSteps))
        let shaped: Float
        if power == 1 {
            shaped = frac
        } else if powerIsInteger, abs(power) < 64 {
            shaped = Self.integerPower(frac, Int(power))
        } else {
            shaped = powf(frac, Float(power))
        }
        return Float(endValue).addingProduct(shaped, Float(initValue - endValue))
    }

    /// The number of evaluation steps in `generation` (0-based):
    /// `schedule(gen).astype(int)`, truncated toward zero.
    public func evaluationSteps(generation: Int) -> Int {
        let v = value(generation: generation)
        // Bounded by the checked init and end values; NaN (0^0-like edge
        // cases of the float arithmetic) or beyond int32 saturate, as no
        // evaluation length may trap.
        guard v.isFinite else { return v.isNaN ? 0 : (v > 0 ? Limits.int32 : 0) }
        return Swift.min(Swift.max(Int(v.rounded(.towardZero)), Int(Int32.min)), Limits.int32)
    }

    /// `lax.integer_pow`: binary exponentiation, as JAX lowers `x ** n`.
    static func integerPower(_ x: Float, _ n: Int) -> Float {
        if n == 0 { return 1 }
        var (base, e, acc): (Float, Int, Float?) = (x, abs(n), nil)
        while e > 0 {
            if e & 1 == 1 { acc = acc.map { $0 * base } ?? base }
            e >>= 1
            if e > 0 { base = base * base }
        }
        return n < 0 ? 1 / acc! : acc!
    }
}
