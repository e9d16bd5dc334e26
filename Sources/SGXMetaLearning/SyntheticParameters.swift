import SGXRandom
import SGXNN
import SGXEnvironments

/// A synthetic environment's networks as one flat parameter vector, the
/// search space of the evolution strategy.
///
/// The order is upstream's `ravel_pytree` of the Flax parameter tree: keys
/// sorted, so networks alphabetically (`done`, `initial_state`,
/// `next_state_delta`, `reward`; one-step environments have only
/// `initial_state` and `reward`), their layers `Dense_0`, `Dense_1`, ...,
/// and in each layer the `bias` before the `kernel` ([input, output]
/// row-major).
public struct SyntheticParameters: Sendable {
    public let configuration: SyntheticEnvironment.Configuration
    /// (network, layer widths from input to output), in vector order.
    public let networks: [(name: String, widths: [Int])]
    public let count: Int

    public init(configuration: SyntheticEnvironment.Configuration) throws {
        self.configuration = configuration
        let spaces = try SyntheticEnvironment.realSpaces(configuration.environmentID)
        let shapes = SyntheticEnvironment.networkShapes(configuration, observationSize: spaces.observation.size,
                                                        actionInputSize: spaces.action.numActions)
        networks = shapes.sorted { $0.name < $1.name }.map { ($0.name, [$0.input] + configuration.features + [$0.output]) }
        count = networks.reduce(0) { total, net in
            total + (0..<(net.widths.count - 1)).reduce(0) { $0 + net.widths[$1] * net.widths[$1 + 1] + net.widths[$1 + 1] }
        }
    }

    /// The environment whose networks hold `vector` (`count` floats).
    public func environment(_ vector: [Float]) throws -> SyntheticEnvironment {
        guard vector.count == count else {
            throw EnvironmentError.invalidParameter(
                name: "synthetic parameters", reason: "expected \(count) values for \(configuration.environmentID), got \(vector.count)")
        }
        var offset = 0
        var mlps: [String: MLP] = [:]
        for (name, widths) in networks {
            var layers: [DenseLayer] = []
            for l in 0..<(widths.count - 1) {
                let (n, m) = (widths[l], widths[l + 1])
                let bias = Array(vector[offset..<(offset + m)])
                let kernel = Array(vector[(offset + m)..<(offset + m + n * m)])
                offset += m + n * m
                layers.append(DenseLayer(kernel: kernel, bias: bias, inputSize: n, outputSize: m))
            }
            mlps[name] = MLP(layers: layers, activation: configuration.activation)
        }
        return try SyntheticEnvironment(configuration: configuration, initialState: mlps["initial_state"]!,
                                        reward: mlps["reward"]!, nextStateDelta: mlps["next_state_delta"],
                                        done: mlps["done"])
    }

    /// The vector of an environment with this configuration's shapes.
    public func vector(of env: SyntheticEnvironment) -> [Float] {
        let nets: [String: MLP?] = ["initial_state": env.initialState, "reward": env.reward,
                                    "next_state_delta": env.nextStateDelta, "done": env.done]
        var out: [Float] = []
        out.reserveCapacity(count)
        for (name, _) in networks {
            for layer in nets[name]!!.layers { out += layer.bias + layer.kernel }
        }
        return out
    }

    /// Freshly initialised networks, as Flax's `nn.Dense` defaults (the
    /// upstream search starts from `SynthEnv.default_params`): kernels
    /// lecun-normal, biases zero. Layer l of network k draws from
    /// `key.foldIn(k).foldIn(l)` (not Flax's own key derivation).
    public func initialVector(key: PRNGKey) -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(count)
        for (k, (_, widths)) in networks.enumerated() {
            for l in 0..<(widths.count - 1) {
                let (n, m) = (widths[l], widths[l + 1])
                out += [Float](repeating: 0, count: m)
                var kernel = [Float](repeating: 0, count: n * m)
                kernel.withUnsafeMutableBufferPointer {
                    WeightInitializer.lecunNormal.fill($0.baseAddress!, fanIn: n, fanOut: m,
                                                      key: key.foldIn(UInt32(k)).foldIn(UInt32(l)))
                }
                out += kernel
            }
        }
        return out
    }
}
