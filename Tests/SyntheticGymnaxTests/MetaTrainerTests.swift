import Foundation
import XCTest
@testable import SyntheticGymnax
@testable import SGXSupport
@testable import SGXRandom
@testable import SGXNN
@testable import SGXEnvironments
@testable import SGXAgents
@testable import SGXMetaLearning

/// The meta-training loop: parameter vectors, its files, resume and
/// determinism, stopping, errors, that it improves a synthetic CartPole,
/// and the paper's evaluation protocol (IQM).
final class MetaTrainerTests: XCTestCase {
    /// A small CartPole meta-training config in the upstream schema.
    /// (inner_config.ppo has the upstream cartpole.yaml's lists.)
    static func config(generations: Int = 2, popsize: Int = 4, algorithms: String = "[ppo]", steps: Int = 500,
                       meanRollouts: Int = 2, episodes: Int = 8, seed: Int = 3) -> String {
        """
        env_name: CartPole-v1
        seed_id: \(seed)
        eval_config: {num_eval_envs: \(episodes), init_value: 500, end_value: 500, transition_begin: 0, transition_steps: 1}
        inner_loop_algorithm: \(algorithms)
        inner_config:
          ppo:
            agent_kwargs: {activation: tanh}
            env: CartPole-v1
            num_envs: 5
            num_steps: 100
            num_epochs: 10
            num_minibatches: 10
            max_grad_norm: 10
            total_timesteps: \(steps)
            eval_freq: \(steps)
            learning_rate: [0.01, 0.005, 0.001, 0.0005, 0.0001]
            gamma: [1.0, 0.99, 0.95, 0.9, 0.8]
            clip_eps: [0.1, 0.2, 0.3, 0.4, 0.5]
            ent_coef: [0.0, 0.01, 0.05, 0.1, 0.5]
            gae_lambda: [1.0, 0.95, 0.9, 0.8, 0.5]
            vf_coef: [0.0, 0.5, 1.0, 1.5, 2.0]
          dqn:
            agent: DuelingQNetwork
            agent_kwargs: {activation: tanh}
            num_envs: 10
            buffer_size: 2000
            fill_buffer: 200
            batch_size: 32
            total_timesteps: \(steps)
            learning_rate: [0.005, 0.001]
            target_update_freq: 50
        meta_config: {num_generations: \(generations), num_rollouts: 1, num_rollouts_mean: \(meanRollouts), mean_eval_freq: 1}
        strategy_name: SNES
        strategy_params: {popsize: \(popsize), sigma_init: 0.05, temperature: 0}
        synth_env_kwargs: {max_steps_in_episode: 1, network_kwargs: {features: [32], latent_dist: normal}}
        """
    }

    static func directory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sgx-meta-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    func trainer(_ text: String, _ dir: URL, workers: Int = 2) throws -> MetaTrainer {
        try MetaTrainer(config: try MetaConfig(yaml: text), configText: text, directory: dir.path, workers: workers)
    }

    /// A log without the wall times.
    static func timeless(_ log: [MetaTrainer.GenerationRecord]) -> [MetaTrainer.GenerationRecord] {
        log.map { var r = $0; r.seconds = 0; return r }
    }

    // MARK: Parameter vectors

    func testParameterVectorRoundTripsInUpstreamOrder() throws {
        let c = try SyntheticEnvironment.Configuration(environmentID: "CartPole-v1")
        let p = try SyntheticParameters(configuration: c)
        // initial_state 4→32→4 and reward (4+2)→32→1: 160 + 132 + 224 + 33.
        XCTAssertEqual(p.count, 549)
        XCTAssertEqual(p.networks.map(\.name), ["initial_state", "reward"])
        let v = NNTests.values(p.count, seed: 11)
        let env = try p.environment(v)
        XCTAssertEqual(p.vector(of: env), v)
        // Each layer holds its bias first: initial_state.Dense_0's bias is v[0..<32].
        XCTAssertEqual(env.initialState.layers[0].bias, Array(v[0..<32]))
        XCTAssertEqual(env.initialState.layers[0].kernel, Array(v[32..<160]))
        // Multi-step environments evolve all four networks, sorted by name.
        let multi = try SyntheticEnvironment.Configuration(environmentID: "Pendulum-v1", features: [16], maxStepsInEpisode: 200)
        let q = try SyntheticParameters(configuration: multi)
        XCTAssertEqual(q.networks.map(\.name), ["done", "initial_state", "next_state_delta", "reward"])
        let w = NNTests.values(q.count, seed: 12)
        XCTAssertEqual(q.vector(of: try q.environment(w)), w)
        XCTAssertThrowsError(try p.environment([1, 2, 3])) { XCTAssertTrue("\($0)".contains("expected 549")) }
        // The initial vector: zero biases, lecun-normal kernels (variance 1/fan_in).
        let initial = p.initialVector(key: PRNGKey(seed: 0))
        let first = try p.environment(initial).initialState.layers[0]
        XCTAssertEqual(first.bias, [Float](repeating: 0, count: 32))
        let variance = first.kernel.reduce(0) { $0 + $1 * $1 } / Float(first.kernel.count)
        XCTAssertEqual(variance, 0.25, accuracy: 0.1)
    }

    // MARK: The loop

    func testFilesResumeAndDeterminismWhateverTheWorkers() throws {
        let text = Self.config()
        let straight = try Self.directory(), resumed = try Self.directory()
        defer { try? FileManager.default.removeItem(at: straight); try? FileManager.default.removeItem(at: resumed) }
        let a = try trainer(text, straight, workers: 2)
        try a.run()
        XCTAssertEqual(a.completedGenerations, 2)
        for name in ["state.json", "log.csv", "mean.safetensors", "best_member.safetensors", "best_mean.safetensors"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: straight.appendingPathComponent(name).path), name)
        }
        let csv = try String(contentsOf: straight.appendingPathComponent("log.csv"), encoding: .utf8)
        XCTAssertTrue(csv.hasPrefix("num_gens,time_gen,eval_steps,best_fitness,population_fitness,"))
        XCTAssertEqual(csv.split(separator: "\n").count, 3)
        // The mean checkpoint is a synthetic environment that loads.
        let mean = try SyntheticEnvironment(checkpoint: straight.appendingPathComponent("mean.safetensors").path)
        XCTAssertEqual(a.parameters.vector(of: mean), a.strategy.mean)
        XCTAssertNotNil(mean.configuration.extraMetadata["meta_training"])

        // One generation, a new trainer on the same directory (one worker), the second: the same run.
        try trainer(text, resumed, workers: 1).run(generations: 1)
        let b = try trainer(text, resumed, workers: 1)
        XCTAssertEqual(b.completedGenerations, 1)
        try b.run()
        XCTAssertEqual(Self.timeless(b.log), Self.timeless(a.log))
        XCTAssertEqual(b.strategy, a.strategy)
        // The log's fitness is real: every run finished and returned something.
        for r in a.log {
            XCTAssertEqual(r.algorithms["ppo"]?.failedRuns, 0)
            XCTAssertGreaterThan(r.populationFitness, 0)
            XCTAssertNotNil(r.meanFitness)
        }
        // Another config's state is refused by name of the problem.
        XCTAssertThrowsError(try trainer(Self.config(popsize: 6), straight)) {
            XCTAssertTrue("\($0)".contains("another config"), "\($0)")
        }
        // A corrupt state is refused too.
        try Data("{not json".utf8).write(to: resumed.appendingPathComponent("state.json"))
        XCTAssertThrowsError(try trainer(text, resumed)) { XCTAssertTrue("\($0)".contains("state.json"), "\($0)") }
    }

    func testStoppingKeepsTheLastCompletedGeneration() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let t = try trainer(Self.config(generations: 5), dir)
        var calls = 0
        try t.run { p in
            if p.record != nil { calls += 1 }
            return p.record == nil || calls < 2  // stop after the second generation
        }
        XCTAssertEqual(t.completedGenerations, 2)
        XCTAssertEqual(try trainer(Self.config(generations: 5), dir).completedGenerations, 2)
    }

    func testBadConfigsAreRefusedByName() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // An algorithm without its inner_config block.
        let noBlock = Self.config().replacingOccurrences(of: "inner_loop_algorithm: [ppo]", with: "inner_loop_algorithm: [ppo, sac]")
        XCTAssertThrowsError(try trainer(noBlock, dir)) { XCTAssertTrue("\($0)".contains("inner_config.sac"), "\($0)") }
        // DQN cannot train on a continuous environment.
        let continuous = Self.config(algorithms: "[dqn]").replacingOccurrences(of: "env_name: CartPole-v1", with: "env_name: Pendulum-v1")
        XCTAssertThrowsError(try trainer(continuous, dir)) { XCTAssertTrue("\($0)".contains("dqn"), "\($0)") }
    }

    /// Successive halving (`halving_keep`): every member's first rollout,
    /// the rest only for the best share; the same numbers on any number of
    /// workers, and a member's fitness is the mean of the rollouts it ran.
    func testSuccessiveHalvingRunsFewerRollouts() throws {
        let text = Self.config(generations: 2, popsize: 6).replacingOccurrences(
            of: "num_rollouts: 1,", with: "num_rollouts: 3, halving_keep: 0.34,")
        XCTAssertEqual(try MetaConfig(yaml: text).metaConfig.halvingKeep, 0.34)
        var logs: [[MetaTrainer.GenerationRecord]] = []
        for workers in [1, 2] {
            let dir = try Self.directory()
            defer { try? FileManager.default.removeItem(at: dir) }
            let t = try trainer(text, dir, workers: workers)
            var populationRuns: [Int] = []
            try t.run { p in
                if let record = p.record { XCTAssertEqual(record.generation, populationRuns.count + 1) }
                if p.record != nil { populationRuns.append(p.runsTotal) }
                return true
            }
            // 6 first rollouts, then 2 more for the best ceil(0.34 * 6) = 3: 12 of 18 runs.
            XCTAssertEqual(populationRuns, [12, 12])
            logs.append(Self.timeless(t.log))
        }
        XCTAssertEqual(logs[0], logs[1])
        // Without halving the same config runs all 18 and ranks by other means.
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let plain = try trainer(text.replacingOccurrences(of: " halving_keep: 0.34,", with: ""), dir)
        var runs = 0
        try plain.run(generations: 1) { p in
            if p.record != nil { runs = p.runsTotal }
            return true
        }
        XCTAssertEqual(runs, 18)
    }

    /// `target_returns` stops the run after the first search-mean
    /// evaluation that meets every target; bad values are refused by name.
    func testTargetReturnsStopTheRun() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let reachable = Self.config(generations: 5).replacingOccurrences(
            of: "mean_eval_freq: 1}", with: "mean_eval_freq: 1, target_returns: {ppo: 1.0}}")
        let t = try trainer(reachable, dir)
        try t.run()
        XCTAssertEqual(t.completedGenerations, 1)
        XCTAssertTrue(t.reachedTargets)
        let unreachable = Self.config(generations: 2).replacingOccurrences(
            of: "mean_eval_freq: 1}", with: "mean_eval_freq: 1, target_returns: {ppo: 501}}")
        let other = try Self.directory()
        defer { try? FileManager.default.removeItem(at: other) }
        let u = try trainer(unreachable, other)
        try u.run()
        XCTAssertEqual(u.completedGenerations, 2)
        XCTAssertFalse(u.reachedTargets)
        for (replacement, key) in [("target_returns: {dqn: 1}", "meta_config.target_returns.dqn"),
                                   ("target_returns: {a2c: 1}", "meta_config.target_returns.a2c"),
                                   ("target_returns: {ppo: high}", "meta_config.target_returns.ppo"),
                                   ("halving_keep: 1", "meta_config.halving_keep"),
                                   ("halving_keep: 0", "meta_config.halving_keep")] {
            let text = Self.config().replacingOccurrences(of: "mean_eval_freq: 1}", with: "mean_eval_freq: 1, \(replacement)}")
            XCTAssertThrowsError(try MetaConfig(yaml: text), replacement) {
                XCTAssertEqual(($0 as? MetaConfigError)?.key, key, "\($0)")
            }
        }
    }

    /// Eight generations of 32 members training PPO for 10,000 steps (the
    /// upstream CartPole lists) lift the search mean's transfer to the real
    /// CartPole from where fresh networks start (about 10) to more than 60
    /// (seeds 0 to 3 reach 90, 165, 108 and 90 here).
    func testMetaTrainingImprovesTheSyntheticCartPole() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let t = try trainer(Self.config(generations: 8, popsize: 32, steps: 10_000, meanRollouts: 4, episodes: 50, seed: 0), dir)
        let log = try t.run()
        let means = log.compactMap(\.meanFitness)
        XCTAssertLessThan(means[0], 30)
        XCTAssertGreaterThan(means.max()!, 60, "mean fitness per generation: \(means)")
    }

    // MARK: The paper's protocol

    func testInterquartileMeanAsScipyTrimMean() {
        // scipy.stats.trim_mean(range(1, 21), 0.25) = 10.5; trim_mean([1, 2, 3, 4, 100, 7, 5], 0.25) = 4.2
        XCTAssertEqual(TransferEvaluation.interquartileMean((1...20).map(Float.init)), 10.5)
        XCTAssertEqual(TransferEvaluation.interquartileMean([1, 2, 3, 4, 100, 7, 5]), 4.2, accuracy: 1e-6)
        XCTAssertEqual(TransferEvaluation.interquartileMean([3]), 3)
        XCTAssertTrue(TransferEvaluation.interquartileMean([]).isNaN)
    }

    func testTransferEvaluationRunsEveryAlgorithmAndChecksItsInputs() throws {
        let config = try MetaConfig(yaml: Self.config(algorithms: "[ppo, dqn]"))
        let c = try SyntheticEnvironment.Configuration(environmentID: "CartPole-v1")
        let p = try SyntheticParameters(configuration: c)
        let synthetic = AnyEnvironment(try p.environment(p.initialVector(key: PRNGKey(seed: 1))))
        let real = try AnyEnvironment(id: "CartPole-v1")
        let spaces: [Algorithm: HyperparameterSpace] = [.ppo: config.innerConfig["ppo"]!, .dqn: config.innerConfig["dqn"]!]
        let results = try TransferEvaluation.run(synthetic: synthetic, real: real, algorithms: [.ppo, .dqn], spaces: spaces,
                                                 runs: 3, episodes: 4, seed: 0)
        XCTAssertEqual(results.map(\.algorithm), [.ppo, .dqn])
        for r in results {
            XCTAssertEqual(r.returns.count, 3)
            XCTAssertTrue(r.returns.allSatisfy { $0 >= 1 && $0 <= 500 })
            XCTAssertTrue(r.failures.isEmpty)
            let allowed: Set<String> = r.algorithm == .ppo ? ["0.01", "0.005", "0.001", "0.0005", "0.0001"] : ["0.005", "0.001"]
            XCTAssertTrue(Set(r.hyperparameters.map { $0["learning_rate"]! }).isSubset(of: allowed), "\(r.hyperparameters)")
        }
        // The same seed gives the same returns, whatever the workers.
        let again = try TransferEvaluation.run(synthetic: synthetic, real: real, algorithms: [.ppo, .dqn], spaces: spaces,
                                               runs: 3, episodes: 4, seed: 0, workers: 1)
        XCTAssertEqual(again.map(\.returns), results.map(\.returns))
        XCTAssertThrowsError(try TransferEvaluation.run(synthetic: synthetic, real: real, algorithms: [.sac], spaces: spaces,
                                                        runs: 3, episodes: 4, seed: 0)) {
            XCTAssertTrue("\($0)".contains("inner_config.sac"), "\($0)")
        }
        XCTAssertThrowsError(try TransferEvaluation.run(synthetic: synthetic, real: real, algorithms: [.ppo], spaces: spaces,
                                                        runs: 0, episodes: 4, seed: 0))
        XCTAssertThrowsError(try TransferEvaluation.run(synthetic: synthetic, real: try AnyEnvironment(id: "Acrobot-v1"),
                                                        algorithms: [.ppo], spaces: spaces, runs: 1, episodes: 4, seed: 0)) {
            XCTAssertTrue("\($0)".contains("does not share"), "\($0)")
        }
    }
}
