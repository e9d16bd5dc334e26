import Yams

/// A YAML scalar of a meta-training config as written: its text and the
/// type YAML resolves it to. The text is kept so that a hyperparameter
/// reaches the agents exactly as the user wrote it ("0.0005", "tanh").
public struct ConfigScalar: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, Codable {
        case null, bool, int, float, string
    }

    public var kind: Kind
    public var text: String

    public init(kind: Kind, text: String) { (self.kind, self.text) = (kind, text) }

    /// A scalar from YAML source text (e.g. "0.01", "true", "tanh"), typed as YAML would.
    public init(yaml text: String) {
        let node = Node.scalar(.init(text))
        self.init(node: node)
    }

    init(node: Node) {
        let text = node.scalar?.string ?? ""
        switch node.tag.description {
        case Tag.Name.null.rawValue: self.init(kind: .null, text: text)
        case Tag.Name.bool.rawValue: self.init(kind: .bool, text: text)
        case Tag.Name.int.rawValue: self.init(kind: .int, text: text)
        case Tag.Name.float.rawValue: self.init(kind: .float, text: text)
        default: self.init(kind: .string, text: text)
        }
    }

    /// The numeric value of an int or float (YAML 1.1 spellings: 1_000, 0x1F, .inf).
    public var number: Double? {
        switch kind {
        case .int: return Int.construct(from: Node.Scalar(text)).map(Double.init)
        case .float: return Double.construct(from: Node.Scalar(text))
        default: return nil
        }
    }

    /// The value of a bool (true/false, yes/no, on/off).
    public var bool: Bool? { kind == .bool ? Bool.construct(from: Node.Scalar(text)) : nil }

    public var description: String { text }
}

/// A value of a meta-training config: a scalar, a list or a mapping (with
/// string keys, in the order written).
public indirect enum ConfigValue: Sendable, Hashable, Codable {
    case scalar(ConfigScalar)
    case list([ConfigValue])
    case mapping([ConfigEntry])

    /// The value of `key` in a mapping.
    public subscript(key: String) -> ConfigValue? {
        guard case let .mapping(entries) = self else { return nil }
        return entries.first { $0.key == key }?.value
    }

    /// Text for the agents: a scalar's own text; a list as "[a, b]".
    public var text: String {
        switch self {
        case let .scalar(s): return s.text
        case let .list(items): return "[" + items.map(\.text).joined(separator: ", ") + "]"
        case let .mapping(entries): return "{" + entries.map { "\($0.key): \($0.value.text)" }.joined(separator: ", ") + "}"
        }
    }

    /// A YAML node as a config value; `path` names it in errors.
    init(node: Node, path: String) throws {
        switch node {
        case .scalar:
            self = .scalar(ConfigScalar(node: node))
        case let .sequence(seq):
            self = .list(try seq.enumerated().map { try ConfigValue(node: $1, path: "\(path)[\($0)]") })
        case let .mapping(map):
            var entries: [ConfigEntry] = []
            for (k, v) in map {
                guard case .scalar = k, let key = k.string else {
                    throw MetaConfigError.wrongType(key: path, expected: "a mapping with string keys", found: "a complex key")
                }
                let childPath = path.isEmpty ? key : "\(path).\(key)"
                if entries.contains(where: { $0.key == key }) {
                    throw MetaConfigError.invalidValue(key: childPath, reason: "appears twice")
                }
                entries.append(ConfigEntry(key: key, value: try ConfigValue(node: v, path: childPath)))
            }
            self = .mapping(entries)
        }
    }

    /// The first YAML document of `yaml` (a mapping for a config).
    public static func parse(yaml: String) throws -> ConfigValue {
        let node: Node?
        do {
            node = try Yams.compose(yaml: yaml)
        } catch {
            throw MetaConfigError.yaml(message: "\(error)")
        }
        guard let node else { return .mapping([]) }
        return try ConfigValue(node: node, path: "")
    }

    /// A short description of the kind of value, for errors.
    var kindDescription: String {
        switch self {
        case let .scalar(s): return s.kind == .string ? "'\(s.text)'" : "\(s.kind.rawValue) \(s.text)"
        case .list: return "a list"
        case .mapping: return "a mapping"
        }
    }
}

/// One key and value of a config mapping.
public struct ConfigEntry: Sendable, Hashable, Codable {
    public var key: String
    public var value: ConfigValue
    public init(key: String, value: ConfigValue) { (self.key, self.value) = (key, value) }
}
