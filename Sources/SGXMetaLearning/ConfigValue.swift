import SGXSupport
import CYaml  // libyaml, as Yams bundles it: its event parser, for the nesting check
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

    /// A YAML node as a config value; `path` names it in errors. `budget`
    /// counts the values made (aliases expanded) down from `Limits.configNodes`.
    init(node: Node, path: String, budget: inout Int) throws {
        budget -= 1
        guard budget >= 0 else {
            throw MetaConfigError.yaml(
                message: "the config expands to more than \(Limits.configNodes) values (aliases included), the bound (SGX_MAX_CONFIG_NODES)")
        }
        switch node {
        case .scalar:
            self = .scalar(ConfigScalar(node: node))
        case let .sequence(seq):
            var items: [ConfigValue] = []
            for (i, item) in seq.enumerated() {
                items.append(try ConfigValue(node: item, path: "\(path)[\(i)]", budget: &budget))
            }
            self = .list(items)
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
                entries.append(ConfigEntry(key: key, value: try ConfigValue(node: v, path: childPath, budget: &budget)))
            }
            self = .mapping(entries)
        }
    }

    /// The first YAML document of `yaml` (a mapping for a config). The text
    /// is checked first against the bounds: at most `Limits.configBytes`
    /// bytes, lists and mappings nested at most `Limits.configDepth` deep
    /// (by libyaml's event parser, which keeps its own stack, before the
    /// recursive composer sees it), at most `Limits.configNodes` values once
    /// aliases are expanded.
    public static func parse(yaml: String) throws -> ConfigValue {
        let size = yaml.utf8.count
        guard size <= Limits.configBytes else {
            throw MetaConfigError.yaml(message: "the config has \(size) bytes, more than the bound of \(Limits.configBytes) (1 MiB, SGX_MAX_CONFIG_BYTES)")
        }
        try checkNesting(yaml)
        let node: Node?
        do {
            node = try Yams.compose(yaml: yaml)
        } catch {
            throw MetaConfigError.yaml(message: "\(error)")
        }
        guard let node else { return .mapping([]) }
        var budget = Limits.configNodes
        return try ConfigValue(node: node, path: "", budget: &budget)
    }

    /// Throws when lists and mappings nest deeper than `Limits.configDepth`.
    /// Malformed YAML is left to the composer, which reports it with its position.
    static func checkNesting(_ yaml: String) throws {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { throw MetaConfigError.yaml(message: "out of memory") }
        defer { yaml_parser_delete(&parser) }
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
        var bytes = Array(yaml.utf8)
        try bytes.withUnsafeMutableBufferPointer { buffer in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var depth = 0
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else { return }
                defer { yaml_event_delete(&event) }
                switch event.type {
                case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                    depth += 1
                    if depth > Limits.configDepth {
                        throw MetaConfigError.yaml(
                            message: "lists and mappings nest deeper than \(Limits.configDepth) levels (line \(event.start_mark.line + 1)), the bound (SGX_MAX_CONFIG_DEPTH)")
                    }
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    depth -= 1
                case YAML_STREAM_END_EVENT:
                    return
                default:
                    break
                }
            }
        }
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
