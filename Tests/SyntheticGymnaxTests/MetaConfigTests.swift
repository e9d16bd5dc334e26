import Foundation
import XCTest
@testable import SyntheticGymnax
@testable import SGXSupport
@testable import SGXRandom
@testable import SGXNN
@testable import SGXEnvironments
@testable import SGXAgents
@testable import SGXMetaLearning

/// The meta-training configuration: every upstream config parses, errors
/// name their key, hyperparameter sampling and the evaluation schedule equal
/// upstream's (fixture evosax.json, from real JAX and optax).
final class MetaConfigTests: XCTestCase {
    /// The upstream configs, read from ../shared/upstream-configs when the
    /// project sits beside them (they are reference data, not ours to commit).
    static var upstreamConfigDirectory: URL? {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let dir = root.deletingLastPathComponent().appendingPathComponent("shared/upstream-configs")
        return FileManager.default.fileExists(atPath: dir.path) ? dir : nil
    }

    static let minimal = """
        env_name: CartPole-v1
        inner_loop_algorithm: ppo
        inner_config:
          ppo:
            learning_rate: [0.01, 0.001]
            agent_kwargs: {activation: tanh}
            num_envs: 5
        eval_config: {num_eval_envs: 10, init_value: 500, end_value: 500, transition_begin: 0, transition_steps: 1}
        meta_config: {num_generations: 3}
        strategy_name: SNES
        strategy_params: {popsize: 8, sigma_init: 0.05}
        """

    func testEveryUpstreamConfigParses() throws {
        guard let dir = Self.upstreamConfigDirectory else {
            throw XCTSkip("../shared/upstream-configs not present")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }.sorted()
        XCTAssertGreaterThanOrEqual(files.count, 10)
        for file in files {
            let config = try MetaConfig(contentsOfFile: dir.appendingPathComponent(file).path)
            XCTAssertEqual(config.strategyName, .snes, file)
            XCTAssertFalse(config.innerLoopAlgorithms.isEmpty, file)
            for algo in config.innerLoopAlgorithms {
                let space = try XCTUnwrap(config.innerConfig[algo], file)
                let sample = space.sample(key: PRNGKey(seed: 0))
                XCTAssertEqual(Set(sample.keys), Set(space.leaves.map(\.path)), file)
                XCTAssertNotNil(sample["total_timesteps"], "\(file) \(algo)")
            }
            XCTAssertGreaterThan(config.evalConfig.evaluationSteps(generation: 0), 0, file)
            _ = try config.syntheticConfiguration()
            let strategy = try config.makeStrategy(numDims: 10, key: PRNGKey(seed: 0))
            XCTAssertEqual(strategy.popsize, Int(config.strategyParams["popsize"]!.number!), file)
        }
    }

    func testTheCartPoleConfigInDetail() throws {
        guard let dir = Self.upstreamConfigDirectory else { throw XCTSkip("../shared/upstream-configs not present") }
        let c = try MetaConfig(contentsOfFile: dir.appendingPathComponent("cartpole.yaml").path)
        XCTAssertEqual(c.envName, "CartPole-v1")
        XCTAssertEqual(c.seedID, 0)
        XCTAssertEqual(c.innerLoopAlgorithms, ["ppo", "sac", "dqn"])
        XCTAssertEqual(c.metaConfig, MetaSettings(numGenerations: 300, numRollouts: 1, numRolloutsMean: 64,
                                                  meanEvalFreq: 1, multiAlgoMode: nil))
        XCTAssertEqual(c.evalConfig.numEvalEnvs, 50)
        XCTAssertEqual(c.evalConfig.evaluationSteps(generation: 123), 500)
        XCTAssertEqual(c.strategyParams["popsize"]?.text, "128")
        XCTAssertEqual(c.synthEnvKwargs.features, [32])
        XCTAssertEqual(c.synthEnvKwargs.maxStepsInEpisode, 1)
        XCTAssertEqual(c.synthEnvKwargs.latentDistribution, .normal)
        XCTAssertEqual((0..<4).map(c.algorithm(forGeneration:)), ["ppo", "sac", "dqn", "ppo"])
        let dqn = try XCTUnwrap(c.innerConfig["dqn"])
        XCTAssertEqual(dqn.leaves.map(\.path).prefix(3), ["agent", "agent_kwargs.activation", "batch_size"])
        XCTAssertEqual(dqn.sampledPaths, ["ddqn", "eps_end", "gamma", "learning_rate"])
        let ppo = try XCTUnwrap(c.innerConfig["ppo"]).sample(key: PRNGKey(seed: 3))
        XCTAssertEqual(ppo["agent_kwargs.activation"], "tanh")
        XCTAssertEqual(ppo["num_steps"], "100")
        XCTAssertTrue(["0.01", "0.005", "0.001", "0.0005", "0.0001"].contains(ppo["learning_rate"]!))
        let hopper = try MetaConfig(contentsOfFile: dir.appendingPathComponent("hopper.yaml").path)
        XCTAssertEqual(hopper.realEnvironmentID, "hopper")
        XCTAssertEqual(hopper.metaConfig.multiAlgoMode, "sequential")
        XCTAssertEqual(hopper.evalConfig.evaluationSteps(generation: 0), 100)  // init_length
        XCTAssertEqual(hopper.evalConfig.evaluationSteps(generation: 5000), 1000)
        XCTAssertTrue(hopper.evaluatesMean(afterGeneration: 10))
        XCTAssertFalse(hopper.evaluatesMean(afterGeneration: 11))
        XCTAssertTrue(hopper.evaluatesMean(afterGeneration: 1999))
        let swimmer = try MetaConfig(contentsOfFile: dir.appendingPathComponent("swimmer.yaml").path)
        XCTAssertEqual(swimmer.unusedUpstreamKeys["pretrain_epochs"], .scalar(ConfigScalar(kind: .int, text: "0")))
    }

    func testAMinimalConfigOfOurOwn() throws {
        let c = try MetaConfig(yaml: Self.minimal)
        XCTAssertEqual(c.innerLoopAlgorithms, ["ppo"])
        XCTAssertEqual(c.metaConfig.numRollouts, 1)
        XCTAssertEqual(c.metaConfig.meanEvalFreq, 1)
        XCTAssertEqual(c.synthEnvKwargs.activation, .relu)  // upstream SynthEnvMLP's default
        XCTAssertEqual(c.algorithm(forGeneration: 7), "ppo")
        XCTAssertEqual(c.initialKeys.strategy, PRNGKey(seed: 0).split(2)[1])  // rng, rng_init = split(PRNGKey(seed_id))
        XCTAssertEqual(c.initialKeys.loop, PRNGKey(seed: 0).split(2)[0])
        let s = try c.makeStrategy(numDims: 4, key: PRNGKey(seed: 0))
        guard case let .snes(snes) = s else { return XCTFail("expected SNES") }
        XCTAssertTrue(snes.options.fitnessShaping.maximize)
        XCTAssertEqual(snes.options.sigmaInit, 0.05)
        let synth = try c.syntheticConfiguration()
        XCTAssertEqual(synth.environmentID, "CartPole-v1")
        XCTAssertEqual(synth.latentSize, 4)
    }

    /// Replaces `line` (a prefix of one line of the minimal config) by `with`.
    private func variant(_ line: String, _ with: String) -> String {
        Self.minimal.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix(line) ? with : String($0) }.joined(separator: "\n")
    }

    private func errorKey(_ yaml: String, file: StaticString = #filePath, line: UInt = #line) -> String? {
        do {
            _ = try MetaConfig(yaml: yaml)
            XCTFail("expected an error", file: file, line: line)
            return nil
        } catch let e as MetaConfigError {
            XCTAssertFalse(e.description.isEmpty)
            return e.key ?? e.description
        } catch {
            XCTFail("unexpected \(error)", file: file, line: line)
            return nil
        }
    }

    func testErrorsNameTheKey() {
        XCTAssertEqual(errorKey(Self.minimal + "\nextra_key: 1"), "extra_key")
        XCTAssertEqual(errorKey(variant("env_name", "env_name: Pong-v0")), "env_name")
        XCTAssertEqual(errorKey(variant("env_name", "env_name: [CartPole-v1]")), "env_name")
        XCTAssertEqual(errorKey(variant("env_name", "")), "env_name")
        XCTAssertEqual(errorKey(variant("inner_loop_algorithm", "inner_loop_algorithm: a2c")), "inner_loop_algorithm")
        XCTAssertEqual(errorKey(variant("inner_loop_algorithm", "inner_loop_algorithm: [ppo, a2c]")), "inner_loop_algorithm[1]")
        XCTAssertEqual(errorKey(variant("inner_loop_algorithm", "inner_loop_algorithm: [ppo, sac]")), "inner_config.sac")
        XCTAssertEqual(errorKey(variant("inner_loop_algorithm", "inner_loop_algorithm: []")), "inner_loop_algorithm")
        XCTAssertEqual(errorKey(variant("inner_loop_algorithm", "inner_loop_algorithm: 3")), "inner_loop_algorithm")
        XCTAssertEqual(errorKey(variant("  ppo:", "  a2c:")), "inner_config.a2c")
        XCTAssertEqual(errorKey(variant("    learning_rate", "    learning_rate: []")), "inner_config.ppo.learning_rate")
        XCTAssertEqual(errorKey(variant("    learning_rate", "    learning_rate: [0.1, {a: 1}]")),
                       "inner_config.ppo.learning_rate[1]")
        XCTAssertEqual(errorKey(variant("    learning_rate", "    learning_rate: [0.1, [1, 2]]")),
                       "inner_config.ppo.learning_rate[0]")
        XCTAssertEqual(errorKey(variant("eval_config", "eval_config: {num_eval_envs: 10, init_value: 5}")),
                       "eval_config.end_value")
        XCTAssertEqual(errorKey(variant("eval_config", "eval_config: {num_eval_envs: 0, value: 5, schedule_fn: constant_schedule}")),
                       "eval_config.num_eval_envs")
        XCTAssertEqual(errorKey(variant("eval_config", "eval_config: {num_eval_envs: 1, value: 5, schedule_fn: cosine_decay_schedule}")),
                       "eval_config.schedule_fn")
        XCTAssertEqual(errorKey(variant("eval_config", "eval_config: {num_eval_envs: 1, init_value: 5, init_length: 5, end_value: 1, transition_steps: 3}")),
                       "eval_config.init_length")
        XCTAssertEqual(errorKey(variant("eval_config", "eval_config: {num_eval_envs: 1, init_value: 5, end_value: 1, transition_steps: 3, power: 2}")),
                       "eval_config.power")
        XCTAssertEqual(errorKey(variant("eval_config", "eval_config: {num_eval_envs: 1, init_value: five, end_value: 1, transition_steps: 3}")),
                       "eval_config.init_value")
        XCTAssertEqual(errorKey(variant("meta_config", "meta_config: {num_generations: many}")), "meta_config.num_generations")
        XCTAssertEqual(errorKey(variant("meta_config", "meta_config: {num_generations: 2.5}")), "meta_config.num_generations")
        XCTAssertEqual(errorKey(variant("meta_config", "meta_config: {num_generations: 0}")), "meta_config.num_generations")
        XCTAssertEqual(errorKey(variant("meta_config", "meta_config: {num_generations: 3, popsize: 3}")), "meta_config.popsize")
        XCTAssertEqual(errorKey(variant("meta_config", "meta_config: [1, 2]")), "meta_config")
        XCTAssertEqual(errorKey(variant("strategy_name", "strategy_name: CMA_ES")), "strategy_name")
        XCTAssertEqual(errorKey(variant("strategy_params", "strategy_params: {popsize: 8, sigma_init: 0}")),
                       "strategy_params.sigma_init")
        XCTAssertEqual(errorKey(variant("strategy_params", "strategy_params: {popsize: 8, sigmainit: 0.1}")),
                       "strategy_params.sigmainit")
        XCTAssertEqual(errorKey(variant("strategy_params", "strategy_params: {popsize: 1}")), "strategy_params.popsize")
        XCTAssertEqual(errorKey(variant("strategy_params", "strategy_params: {popsize: [8]}")), "strategy_params.popsize")
        XCTAssertEqual(errorKey(Self.minimal + "\nsynth_env_kwargs: {network_kwargs: {features: [32, x]}}"),
                       "synth_env_kwargs.network_kwargs.features[1]")
        XCTAssertEqual(errorKey(Self.minimal + "\nsynth_env_kwargs: {network_kwargs: {latent_dist: cauchy}}"),
                       "synth_env_kwargs.network_kwargs.latent_dist")
        XCTAssertEqual(errorKey(Self.minimal + "\nsynth_env_kwargs: {network_kwargs: {activation: gelu2}}"),
                       "synth_env_kwargs.network_kwargs.activation")
        XCTAssertEqual(errorKey(Self.minimal + "\nsynth_env_kwargs: {network_kwargs: {depth: 2}}"),
                       "synth_env_kwargs.network_kwargs.depth")
        XCTAssertEqual(errorKey(Self.minimal + "\nsynth_env_kwargs: {max_steps_in_episode: 0}"),
                       "synth_env_kwargs.max_steps_in_episode")
        XCTAssertEqual(errorKey(Self.minimal + "\nseed_id: zero"), "seed_id")
        XCTAssertEqual(errorKey(Self.minimal + "\nseed_id: 1\nseed_id: 2"), "seed_id")
        XCTAssertEqual(errorKey("- just\n- a list"), "the config")
        XCTAssertEqual(errorKey("env_name: [unclosed"), "invalid YAML: " + errorDescription("env_name: [unclosed"))
        XCTAssertThrowsError(try MetaConfig(contentsOfFile: "/nonexistent/config.yaml")) {
            XCTAssert("\($0)".contains("/nonexistent/config.yaml"))
        }
    }

    private func errorDescription(_ yaml: String) -> String {
        do { _ = try ConfigValue.parse(yaml: yaml); return "" } catch let MetaConfigError.yaml(message) { return message } catch { return "" }
    }

    func testOptionalSectionsAndSpellings() throws {
        var yaml = Self.minimal + """

            seed_id: 7
            synth_env_kwargs:
              max_steps_in_episode: 200
              network_kwargs: {features: [64, 64], latent_dist: uniform, latent_size: [3], activation: tanh}
              eval_env_kwargs: {max_steps_in_episode: 200}
            """
        var c = try MetaConfig(yaml: yaml)
        XCTAssertEqual(c.seedID, 7)
        XCTAssertEqual(c.synthEnvKwargs.features, [64, 64])
        XCTAssertEqual(c.synthEnvKwargs.latentSize, 3)
        XCTAssertEqual(c.synthEnvKwargs.activation, .tanh)
        XCTAssertEqual(c.synthEnvKwargs.evalEnvKwargs["max_steps_in_episode"]?.number, 200)
        XCTAssertEqual(try c.syntheticConfiguration().maxStepsInEpisode, 200)
        yaml = variant("strategy_name", "strategy_name: OpenES")
            .replacingOccurrences(of: "strategy_params: {popsize: 8, sigma_init: 0.05}",
                                  with: "strategy_params: {popsize: 8, sigma_init: 0.05, opt_name: adam, centered_rank: 1}")
        c = try MetaConfig(yaml: yaml)
        XCTAssertEqual(c.strategyName, .openES)
        guard case let .openES(o) = try c.makeStrategy(numDims: 3, key: PRNGKey(seed: 0)) else { return XCTFail() }
        XCTAssertEqual(o.options.fitnessShaping.transform, .centeredRank)
        yaml = variant("eval_config", "eval_config: {num_eval_envs: 4, schedule_fn: constant_schedule, value: 321}")
        c = try MetaConfig(yaml: yaml)
        XCTAssertEqual(c.evalConfig.evaluationSteps(generation: 99), 321)
        // YAML types: a quoted number is a string, 1e-4 a float, yes a bool.
        let v = try ConfigValue.parse(yaml: "a: '0.01'\nb: 1e-4\nc: yes\nd: ~")
        XCTAssertEqual(v["a"], .scalar(ConfigScalar(kind: .string, text: "0.01")))
        XCTAssertEqual(v["b"], .scalar(ConfigScalar(kind: .float, text: "1e-4")))
        XCTAssertEqual(v["c"], .scalar(ConfigScalar(kind: .bool, text: "yes")))
        XCTAssertEqual(v["d"], .scalar(ConfigScalar(kind: .null, text: "~")))
        XCTAssertEqual(ConfigScalar(yaml: "1_000").number, 1000)
        yaml = variant("env_name", "env_name: brax/halfcheetah")
        XCTAssertEqual(try MetaConfig(yaml: yaml).realEnvironmentID, "halfcheetah")
    }

    // MARK: - Against upstream (fixture)

    func testChoiceEqualsJax() throws {
        let fixture = try Fixture.load("evosax")
        let records = fixture.records("choice")
        XCTAssertFalse(records.isEmpty)
        for r in records {
            let k = r.uint32s("key")
            let space = try HyperparameterSpace(.mapping([ConfigEntry(
                key: "x", value: .list((0..<r.int("n")).map { .scalar(ConfigScalar(kind: .int, text: "\($0)")) }))]))
            // A one-leaf config: split(key, 1)[0] is the choice's key.
            let leafKey = PRNGKey(k[0], k[1]).split(1)[0]
            XCTAssertEqual(Int(leafKey.randint(count: 1, minval: 0, maxval: Int32(r.int("n")))[0]),
                           space.sampleIndices(key: PRNGKey(k[0], k[1]))["x"])
            XCTAssertEqual(Int(PRNGKey(k[0], k[1]).randint(count: 1, minval: 0, maxval: Int32(r.int("n")))[0]),
                           r.int("index"), "choice(key, arange(\(r.int("n"))))")
        }
    }

    func testSamplingEqualsUpstreamMakeSampleConfig() throws {
        let fixture = try Fixture.load("evosax")
        let records = fixture.records("sampling")
        XCTAssertFalse(records.isEmpty)
        var sampled = 0
        for r in records {
            let space = try HyperparameterSpace(yaml: r["yaml"] as! String)
            XCTAssertEqual(space.leaves.map(\.path), r["leaves"] as! [String])
            let k = r.uint32s("key")
            let indices = space.sampleIndices(key: PRNGKey(k[0], k[1]))
            let expected = (r.dict("indices")).mapValues { ($0 as! NSNumber).intValue }
            XCTAssertEqual(indices, expected)
            let values = space.sample(key: PRNGKey(k[0], k[1]))
            for leaf in space.leaves {
                if let choices = leaf.choices {
                    XCTAssertEqual(values[leaf.path], choices[expected[leaf.path]!].text)
                    sampled += 1
                } else {
                    XCTAssertEqual(values[leaf.path], leaf.value.text)
                }
            }
        }
        print("upstream sampling: \(records.count) configurations, \(sampled) sampled values equal make_sample_config's")
    }

    func testScheduleEqualsOptax() throws {
        let fixture = try Fixture.load("evosax")
        var checked = 0
        for r in fixture.records("schedules") {
            var config = r.dict("config").mapValues { v -> ConfigValue in
                let n = v as! NSNumber
                return .scalar(ConfigScalar(yaml: "\(n)"))
            }
            config["num_eval_envs"] = .scalar(ConfigScalar(yaml: "1"))
            config["schedule_fn"] = .scalar(ConfigScalar(yaml: r["schedule_fn"] as! String))
            let schedule = try EvalSchedule(.mapping(config.sorted { $0.key < $1.key }.map { ConfigEntry(key: $0.key, value: $0.value) }))
            let values = (r["values"] as! [NSNumber]).map(\.intValue)
            for (g, v) in values.enumerated() {
                XCTAssertEqual(schedule.evaluationSteps(generation: g), v, "\(r["schedule_fn"]!) \(config) gen \(g)")
                checked += 1
            }
        }
        print("optax schedules: \(checked) generations equal")
        XCTAssertGreaterThan(checked, 1000)
    }

    func testCodePointOrderingAndSamplingDeterminism() throws {
        XCTAssertTrue(codePointLess("Zeta", "alpha"))
        XCTAssertTrue(codePointLess("alpha", "alpha_beta"))
        XCTAssertTrue(codePointLess("aB", "actor"))
        let space = try HyperparameterSpace(yaml: "b: [1, 2, 3]\na: {c: [x, y], d: 4}\ne: [[64, 64], [32, 32]]")
        XCTAssertEqual(space.leaves.map(\.path), ["a.c", "a.d", "b", "e"])
        XCTAssertEqual(space.sample(key: PRNGKey(seed: 5)), space.sample(key: PRNGKey(seed: 5)))
        let rows = Set((0..<20).map { space.sample(key: PRNGKey(seed: Int64($0)))["e"]! })
        XCTAssertEqual(rows, ["[64, 64]", "[32, 32]"])
        XCTAssertEqual(try HyperparameterSpace(yaml: "{}").sample(key: PRNGKey(seed: 0)), [:])
        XCTAssertThrowsError(try HyperparameterSpace(yaml: "e: [[1, 2], [3]]"))
    }
}
