import XCTest
@testable import SyntheticGymnax
@testable import SGXRandom
@testable import SGXNN
@testable import SGXEnvironments
@testable import SGXAgents
@testable import SGXMetaLearning

/// Meta-training for transfer (issue 18): the inner loop can vary what a
/// synthetic environment should generalise over, the agents' activation,
/// widths and initialisation, by giving lists (`agent_kwargs.activation`,
/// `agent_kwargs.hidden_layer_sizes`, `initializer`) like any other
/// hyperparameter; each inner-loop training draws one.
final class TransferSamplingTests: XCTestCase {
    static let yaml = """
        agent_kwargs: {activation: [tanh, relu], hidden_layer_sizes: [[64, 64], [32, 32], [128, 128]]}
        initializer: [lecun_normal, orthogonal]
        learning_rate: [0.001, 0.0001]
        num_envs: 5
        num_steps: 100
        num_minibatches: 10
        total_timesteps: 10000
        """

    func testArchitecturesAreSampledPerTraining() throws {
        let space = try HyperparameterSpace(yaml: Self.yaml)
        XCTAssertEqual(Set(space.sampledPaths), ["agent_kwargs.activation", "agent_kwargs.hidden_layer_sizes",
                                                 "initializer", "learning_rate"])
        var activations: Set<Activation> = []
        var widths: Set<[Int]> = []
        var initializers: Set<String> = []
        for i in 0..<64 {
            let sample = space.sample(key: PRNGKey(seed: Int64(i)))
            let c = try PPO.Configuration(sample)
            activations.insert(c.activation)
            widths.insert(c.hiddenLayerSizes)
            initializers.insert(c.initializer.rawValue)
            // The configuration is the one the sample names.
            XCTAssertEqual(c.activation.rawValue, sample["agent_kwargs.activation"])
        }
        XCTAssertEqual(activations, [.tanh, .relu])
        XCTAssertEqual(widths, [[64, 64], [32, 32], [128, 128]])
        XCTAssertEqual(initializers, ["lecun_normal", "orthogonal"])
    }

    func testSampledArchitecturesChangeTheNetwork() throws {
        // Two draws with different widths give policies of different sizes,
        // so the sampled value reaches the agent and is not dropped.
        let space = try HyperparameterSpace(yaml: Self.yaml)
        var bySize: [[Int]: PPO.Configuration] = [:]
        for i in 0..<64 {
            let c = try PPO.Configuration(space.sample(key: PRNGKey(seed: Int64(i))))
            bySize[c.hiddenLayerSizes] = c
        }
        let env = try AnyEnvironment(id: "CartPole-v1")
        var small = try XCTUnwrap(bySize[[32, 32]]), large = try XCTUnwrap(bySize[[128, 128]])
        small.totalTimesteps = 500
        large.totalTimesteps = 500
        let a = try PPO.train(on: env, configuration: small, key: PRNGKey(seed: 0))
        let b = try PPO.train(on: env, configuration: large, key: PRNGKey(seed: 0))
        XCTAssertLessThan(a.policy.parameters.count, b.policy.parameters.count)
    }
}
