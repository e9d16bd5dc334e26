import SGXSupport
import SGXNN
import Foundation

/// Checkpoint files of synthetic environments: safetensors with tensors named
/// `<network>.Dense_<k>.kernel` ([input, output]) and `.bias` ([output]) for
/// the networks `initial_state`, `reward` (and `next_state_delta`, `done`
/// when episodes last more than one step), and the configuration in the
/// metadata. Every shape is checked against the real environment on load.
extension SyntheticEnvironment {
    /// The value of the metadata key "format".
    public static let checkpointFormat = "synthetic-gymnax-swift/1"
    /// The metadata keys that hold the configuration.
    static let configurationKeys: Set<String> = [
        "format", "env_id", "features", "activation", "latent_dist", "latent_size", "max_steps_in_episode",
    ]

    /// Loads a checkpoint; `maxStepsInEpisode` overrides the stored episode length.
    public init(checkpoint path: String, maxStepsInEpisode: Int? = nil) throws {
        try self.init(contents: try Safetensors.read(path: path), path: path, maxStepsInEpisode: maxStepsInEpisode)
    }

    /// A checkpoint from the bytes of its file (checked as a file is; at
    /// most `Limits.fileBytes`); `name` stands for the file in messages.
    public init(checkpointData data: Data, name: String, maxStepsInEpisode: Int? = nil) throws {
        guard data.count <= Limits.fileBytes else {
            throw Safetensors.FormatError(path: name, problem: "the file has \(data.count) bytes, more than the bound of \(Limits.fileBytes) (1 GiB)")
        }
        try self.init(contents: try Safetensors.parse(data, path: name), path: name, maxStepsInEpisode: maxStepsInEpisode)
    }

    private init(contents: (tensors: [String: Safetensors.Tensor], metadata: [String: String]), path: String,
                 maxStepsInEpisode: Int?) throws {
        let (tensors, metadata) = contents
        func fail(_ problem: String) -> Safetensors.FormatError {
            Safetensors.FormatError(path: path, problem: problem)
        }
        func field(_ key: String) throws -> String {
            guard let value = metadata[key] else { throw fail("metadata lacks '\(key)'") }
            return value
        }
        func positive(_ key: String, _ text: String) throws -> Int {
            // Decimal digits only (no sign, no spaces), as this project writes them.
            guard !text.isEmpty, text.utf8.allSatisfy({ (48...57).contains($0) }), let n = Int(text), n >= 1 else {
                throw fail("metadata '\(key)' must be a positive integer, got '\(text)'")
            }
            return n
        }
        let format = try field("format")
        guard format == Self.checkpointFormat else {
            throw fail("format '\(format)' is not '\(Self.checkpointFormat)'")
        }
        // Comma-separated positive integers, every piece present ("" is no hidden layer).
        let featureText = try field("features")
        let features = featureText.isEmpty ? [] : try featureText.split(separator: ",", omittingEmptySubsequences: false)
            .map { piece -> Int in
                guard !piece.isEmpty else {
                    throw fail("metadata 'features' must be comma-separated positive integers, got '\(featureText)'")
                }
                return try positive("features", String(piece))
            }
        let activationName = try field("activation")
        guard let activation = Activation(rawValue: activationName) else {
            throw fail("unknown activation '\(activationName)'; known: \(Activation.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let latentName = try field("latent_dist")
        guard let latent = LatentDistribution(rawValue: latentName) else {
            throw fail("unknown latent_dist '\(latentName)'; known: \(LatentDistribution.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let storedSteps = try positive("max_steps_in_episode", try field("max_steps_in_episode"))
        let latentSize = try positive("latent_size", try field("latent_size"))
        var configuration: Configuration
        do {
            configuration = try Configuration(
                environmentID: try field("env_id"), features: features, activation: activation,
                latentDistribution: latent, latentSize: latentSize, maxStepsInEpisode: storedSteps)
        } catch EnvironmentError.invalidParameter(let name, let reason) {
            // A number of the file out of range: the file is at fault.
            throw fail("metadata '\(name)' \(reason)")
        }
        configuration.extraMetadata = metadata.filter { !Self.configurationKeys.contains($0.key) }

        let spaces = try Self.realSpaces(configuration.environmentID)
        let shapes = Self.networkShapes(configuration, observationSize: spaces.observation.size,
                                        actionInputSize: spaces.action.numActions)
        var used = Set<String>()
        var networks: [MLP] = []
        for (name, input, output) in shapes {
            let widths = [input] + features + [output]
            var layers: [DenseLayer] = []
            for k in 0..<(widths.count - 1) {
                let prefix = "\(name).Dense_\(k)"
                for (suffix, shape) in [("kernel", [widths[k], widths[k + 1]]), ("bias", [widths[k + 1]])] {
                    let tensorName = "\(prefix).\(suffix)"
                    guard let t = tensors[tensorName] else {
                        throw fail("missing tensor '\(tensorName)' (\(configuration.environmentID), features \(features))")
                    }
                    guard t.shape == shape else {
                        throw fail("tensor '\(tensorName)' has shape \(t.shape), expected \(shape) for \(configuration.environmentID) (observation size \(spaces.observation.size), action input \(spaces.action.numActions), latent \(configuration.latentSize), features \(features))")
                    }
                    guard t.values.allSatisfy(\.isFinite) else { throw fail("tensor '\(tensorName)' has non-finite values") }
                    used.insert(tensorName)
                }
                layers.append(DenseLayer(kernel: tensors["\(prefix).kernel"]!.values,
                                         bias: tensors["\(prefix).bias"]!.values,
                                         inputSize: widths[k], outputSize: widths[k + 1]))
            }
            networks.append(MLP(layers: layers, activation: activation))
        }
        if let extra = Set(tensors.keys).subtracting(used).sorted().first {
            throw fail("unexpected tensor '\(extra)' for a checkpoint with max_steps_in_episode \(storedSteps)")
        }
        if let steps = maxStepsInEpisode {
            guard steps >= 1 else {
                throw EnvironmentError.invalidParameter(name: "max_steps_in_episode", reason: "must be at least 1, got \(steps)")
            }
            if steps > 1 && configuration.onlyReward {
                throw EnvironmentError.invalidParameter(
                    name: "max_steps_in_episode",
                    reason: "\(path) holds only the reward network (one-step episodes); \(steps) steps need next_state_delta and done")
            }
            configuration.maxStepsInEpisode = steps
        }
        try self.init(configuration: configuration, initialState: networks[0], reward: networks[1],
                      nextStateDelta: networks.count > 2 ? networks[2] : nil,
                      done: networks.count > 3 ? networks[3] : nil)
    }

    /// The tensors and metadata of this environment's checkpoint.
    public var checkpointContents: (tensors: [String: Safetensors.Tensor], metadata: [String: String]) {
        var tensors: [String: Safetensors.Tensor] = [:]
        let networks = [("initial_state", initialState), ("reward", reward), ("next_state_delta", nextStateDelta),
                        ("done", done)]
        for case let (name, net?) in networks {
            for (k, layer) in net.layers.enumerated() {
                tensors["\(name).Dense_\(k).kernel"] = .init(shape: [layer.inputSize, layer.outputSize], values: layer.kernel)
                tensors["\(name).Dense_\(k).bias"] = .init(shape: [layer.outputSize], values: layer.bias)
            }
        }
        let c = configuration
        let metadata = c.extraMetadata.merging([
            "format": Self.checkpointFormat, "env_id": c.environmentID,
            "features": c.features.map(String.init).joined(separator: ","), "activation": c.activation.rawValue,
            "latent_dist": c.latentDistribution.rawValue, "latent_size": String(c.latentSize),
            "max_steps_in_episode": String(c.maxStepsInEpisode),
        ]) { _, ours in ours }
        return (tensors, metadata)
    }

    /// Writes this environment as a checkpoint file.
    public func save(to path: String) throws {
        let (tensors, metadata) = checkpointContents
        try Safetensors.write(path: path, tensors: tensors, metadata: metadata)
    }
}
