import Foundation
import XCTest
@testable import SyntheticGymnax
@testable import SGXSupport
@testable import SGXRandom
@testable import SGXNN
@testable import SGXEnvironments
@testable import SGXAgents
@testable import SGXMetaLearning

/// The `init` block of a meta-training config (the distill warm start): its
/// validation, that it alone already teaches PPO the real CartPole, its
/// determinism, and runs that start warm (files, resume).
final class WarmStartTests: XCTestCase {
    /// PPO on the real CartPole with CleanRL-like settings: an expert that
    /// reaches 450 or more in 100k steps (about 1 s).
    static let cartPoleInit = """
        init:
          method: distill
          expert: ppo
          steps: 100000
          expert_kwargs: {learning_rate: 0.0025, num_envs: 16, num_steps: 128, num_epochs: 8, num_minibatches: 8,
                          gamma: 0.99, gae_lambda: 0.95, clip_eps: 0.2, ent_coef: 0.0, max_grad_norm: 0.5,
                          agent_kwargs: {activation: tanh}}
          episodes: 16
        """

    static func config(generations: Int = 2, initBlock: String = cartPoleInit) -> String {
        MetaTrainerTests.config(generations: generations, steps: 10_000) + "\n" + initBlock
    }

    // MARK: Validation

    func testBadInitBlocksAreRefusedWithTheKeyNamed() throws {
        let base = MetaTrainerTests.config()
        let cases: [(String, String)] = [
            ("init: {expert: ppo, steps: 1000, experts_: 2}", "init.experts_"),
            ("init: {steps: 1000}", "init.expert"),
            ("init: {expert: a2c, steps: 1000}", "init.expert"),
            ("init: {expert: ppo}", "init.steps"),
            ("init: {expert: ppo, steps: 0}", "init.steps"),
            ("init: {expert: ppo, steps: 1e12}", "init.steps"),
            ("init: {method: pretrain, expert: ppo, steps: 1000}", "init.method"),
            ("init: {expert: ppo, steps: 1000, margin: -1}", "init.margin"),
            ("init: {expert: ppo, steps: 1000, reward_scale: .nan}", "init.reward_scale"),
            ("init: {expert: ppo, steps: 1000, reward_shape: cubic}", "init.reward_shape"),
            ("init: {expert: ppo, steps: 1000, episodes: 0}", "init.episodes"),
            ("init: {expert: ppo, steps: 1000, expert_kwargs: {learning_rate: [0.1, 0.2]}}", "init.expert_kwargs.learning_rate"),
            ("init: [ppo]", "init"),
        ]
        for (block, key) in cases {
            XCTAssertThrowsError(try MetaConfig(yaml: base + "\n" + block), block) { error in
                XCTAssertEqual((error as? MetaConfigError)?.key, key, "\(block): \(error)")
            }
        }
        // An expert that cannot act in the real environment, and a bad expert hyperparameter, fail when the run starts.
        let dir = try MetaTrainerTests.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for (block, text) in [("init: {expert: sac, steps: 1000, expert_kwargs: {learning_rat: 0.1}}", "learning_rat"),
                              ("init: {expert: ddpg, steps: 1000}", "ddpg")] {
            let config = base + "\n" + block
            XCTAssertThrowsError(try MetaTrainer(config: try MetaConfig(yaml: config), configText: config,
                                                 directory: dir.path)) { error in
                XCTAssertTrue("\(error)".contains("init.expert") && "\(error)".contains(text), "\(error)")
            }
        }
        // Upstream configs have no init block: nothing changes for them.
        XCTAssertNil(try MetaConfig(yaml: base).warmStart)
        let parsed = try XCTUnwrap(try MetaConfig(yaml: Self.config()).warmStart)
        XCTAssertEqual(parsed.expert, .ppo)
        XCTAssertEqual(parsed.steps, 100_000)
        XCTAssertEqual(parsed.expertHyperparameters["agent_kwargs.activation"], "tanh")
        XCTAssertEqual(parsed.rewardShape, .absolute)
    }

    // MARK: What it builds

    /// The warm start alone (no generation) gives a synthetic CartPole on
    /// which PPO, with hyperparameters drawn from the paper's lists, reaches
    /// 450 or more on the real task.
    func testCartPoleWarmStartAloneTeachesPPO() throws {
        guard AgentTests.heavy else { throw XCTSkip("100k expert steps and 8 trainings: optimised builds only") }
        let config = try MetaConfig(yaml: Self.config())
        let parameters = try SyntheticParameters(configuration: try config.syntheticConfiguration())
        let real = try AnyEnvironment(id: "CartPole-v1")
        let (vector, report) = try WarmStart.distill(config.warmStart!, parameters: parameters, real: real,
                                                     key: config.warmStartKey)
        XCTAssertGreaterThanOrEqual(report.expertReturn, 450)
        XCTAssertGreaterThan(report.rewardAgreement, 0.9)
        XCTAssertLessThan(report.initialStateError, 0.1)
        let synthetic = AnyEnvironment(try parameters.environment(vector))
        let results = try TransferEvaluation.run(synthetic: synthetic, real: real, algorithms: [.ppo],
                                                 spaces: config.innerConfig.mapKeys(), runs: 8, episodes: 20, seed: 0)
        XCTAssertGreaterThanOrEqual(results[0].iqm, 450, "returns \(results[0].returns)")
    }

    /// The same key gives the same vector bit for bit; another key another one.
    func testDistillIsDeterministicForAKey() throws {
        let block = """
            init: {expert: dqn, steps: 3000, episodes: 4, fit_steps: 200,
                   expert_kwargs: {num_envs: 4, buffer_size: 2000, fill_buffer: 200, batch_size: 32}}
            """
        let config = try MetaConfig(yaml: Self.config(initBlock: block))
        let parameters = try SyntheticParameters(configuration: try config.syntheticConfiguration())
        let real = try AnyEnvironment(id: "CartPole-v1")
        let a = try WarmStart.distill(config.warmStart!, parameters: parameters, real: real, key: config.warmStartKey)
        let b = try WarmStart.distill(config.warmStart!, parameters: parameters, real: real, key: config.warmStartKey)
        let c = try WarmStart.distill(config.warmStart!, parameters: parameters, real: real, key: PRNGKey(seed: 99))
        XCTAssertEqual(a.vector, b.vector)
        XCTAssertEqual(a.report.expertReturns, b.report.expertReturns)
        XCTAssertNotEqual(a.vector, c.vector)
        XCTAssertEqual(a.vector.count, parameters.count)
        XCTAssertTrue(a.vector.allSatisfy(\.isFinite))
    }

    /// Continuous actions and a multi-step configuration: the fitted reward
    /// peaks at the expert's action, and the environment is still a bandit.
    func testContinuousAndMultiStepConfigurations() throws {
        let text = """
            env_name: Pendulum-v1
            eval_config: {num_eval_envs: 4, init_value: 200, end_value: 200, transition_begin: 0, transition_steps: 1}
            inner_loop_algorithm: ppo
            inner_config: {ppo: {total_timesteps: 1000, num_envs: 5, num_steps: 100}}
            meta_config: {num_generations: 1}
            strategy_name: SNES
            strategy_params: {popsize: 4}
            synth_env_kwargs: {max_steps_in_episode: 10, network_kwargs: {features: [16]}}
            init: {expert: td3, steps: 2000, episodes: 2, fit_steps: 300, reward_shape: quadratic,
                   expert_kwargs: {fill_buffer: 500, batch_size: 32}}
            """
        let config = try MetaConfig(yaml: text)
        let parameters = try SyntheticParameters(configuration: try config.syntheticConfiguration())
        XCTAssertEqual(parameters.networks.map(\.name), ["done", "initial_state", "next_state_delta", "reward"])
        let real = try AnyEnvironment(id: "Pendulum-v1")
        let (vector, report) = try WarmStart.distill(config.warmStart!, parameters: parameters, real: real,
                                                     key: config.warmStartKey)
        XCTAssertEqual(report.visitedStates, 2 * 200)
        XCTAssertEqual(report.expertReturns.count, 1)
        let env = try parameters.environment(vector)
        // Every step ends the episode: done(next) > 0, next = obs.
        let obs: [Float] = [0.5, -0.2, 1.0]
        XCTAssertGreaterThan(env.done!(obs)[0], 0)
        XCTAssertEqual(env.nextStateDelta!(obs + [0.3]), [0, 0, 0])
    }

    // MARK: Runs that start warm

    /// The warm start is made once, saved (warm_start.safetensors, .json and
    /// the state) before the first generation, is the search's starting
    /// mean, and a resumed run neither redoes it nor changes the numbers.
    func testWarmRunsSaveResumeAndMatchAnUninterruptedRun() throws {
        let block = """
            init: {expert: dqn, steps: 3000, episodes: 4, fit_steps: 200,
                   expert_kwargs: {num_envs: 4, buffer_size: 2000, fill_buffer: 200, batch_size: 32}}
            """
        let text = MetaTrainerTests.config(generations: 3, steps: 500) + "\n" + block
        let config = try MetaConfig(yaml: text)
        let (a, b) = (try MetaTrainerTests.directory(), try MetaTrainerTests.directory())
        defer { try? FileManager.default.removeItem(at: a); try? FileManager.default.removeItem(at: b) }

        let first = try MetaTrainer(config: config, configText: text, directory: a.path)
        let report = try XCTUnwrap(first.warmStart)
        for name in ["warm_start.safetensors", "warm_start.json", "state.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: a.appendingPathComponent(name).path), name)
        }
        let parameters = try SyntheticParameters(configuration: try config.syntheticConfiguration())
        let (vector, _) = try WarmStart.distill(config.warmStart!, parameters: parameters,
                                                real: try AnyEnvironment(id: "CartPole-v1"), key: config.warmStartKey)
        XCTAssertEqual(first.strategy.mean, vector)
        let saved = try JSONDecoder().decode(WarmStart.Report.self,
                                             from: try Data(contentsOf: a.appendingPathComponent("warm_start.json")))
        XCTAssertEqual(saved.expertReturns, report.expertReturns)
        let warm = try AnyEnvironment(checkpoint: a.appendingPathComponent("warm_start.safetensors").path)
        XCTAssertEqual(warm.name, "Synthetic-CartPole-v1")

        // Killed after the set-up: the resumed trainer takes the saved warm start.
        let resumed = try MetaTrainer(config: config, configText: text, directory: a.path)
        XCTAssertEqual(resumed.strategy.mean, vector)
        XCTAssertEqual(resumed.warmStart, report)
        try resumed.run(generations: 1)
        let again = try MetaTrainer(config: config, configText: text, directory: a.path)
        XCTAssertEqual(again.completedGenerations, 1)
        XCTAssertEqual(again.warmStart, report)
        try again.run()

        let straight = try MetaTrainer(config: config, configText: text, directory: b.path)
        try straight.run()
        XCTAssertEqual(MetaTrainerTests.timeless(again.log), MetaTrainerTests.timeless(straight.log))
        XCTAssertEqual(again.strategy.mean, straight.strategy.mean)
        XCTAssertEqual(again.log.count, 3)
    }
}

extension Dictionary where Key == String, Value == HyperparameterSpace {
    /// The config's spaces keyed by algorithm.
    func mapKeys() -> [Algorithm: HyperparameterSpace] {
        reduce(into: [:]) { out, entry in if let a = Algorithm(rawValue: entry.key) { out[a] = entry.value } }
    }
}
