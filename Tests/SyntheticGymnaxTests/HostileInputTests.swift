import Foundation
import XCTest
@testable import SyntheticGymnax
@testable import SGXSupport
@testable import SGXRandom
@testable import SGXNN
@testable import SGXEnvironments
@testable import SGXAgents
@testable import SGXMetaLearning

/// Untrusted input (issue 20) in the core: every value from a file, a
/// config, an argument or a state is checked, with an error naming it; none
/// traps. (The C ABI's statuses are tested in Tests/c/test_abi.c, Python's
/// exceptions in python/tests/test_hostile_input.py, each case in a child
/// process; here a regression would crash the test run, which fails it too.)
final class HostileInputTests: XCTestCase {
    /// A safetensors file's bytes with a hand-written header.
    static func file(header: String, data: Int) -> Data {
        var json = Data(header.utf8)
        while json.count % 8 != 0 { json.append(0x20) }
        var length = UInt64(json.count).littleEndian
        var out = Data(bytes: &length, count: 8)
        out.append(json)
        out.append(Data(count: data))
        return out
    }

    func problem(_ data: Data) -> String? {
        do {
            _ = try Safetensors.parse(data, path: "x.safetensors")
            return nil
        } catch let e as Safetensors.FormatError {
            return e.problem
        } catch {
            return "\(error)"
        }
    }

    func testSafetensorsHeaderNumbersAreChecked() {
        let ok = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        XCTAssertNil(problem(Self.file(header: ok, data: 8)))
        let cases: [(String, Int, String)] = [
            (#"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}}"#, 16, "overflows"),
            (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551615]}}"#, 8, "data_offsets"),
            (#"{"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}"#, 8, "JSON integers"),
            (#"{"a":{"dtype":"F32","shape":[true],"data_offsets":[0,4]}}"#, 4, "JSON integers"),
            (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8e0]}}"#, 8, "data_offsets"),
            (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, 12, "belong to no tensor"),
            (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, 12, "belong to no tensor"),
            (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
             8, "overlap"),
            (#"{"a":{"dtype":"Q99","shape":[2],"data_offsets":[0,8]}}"#, 8, "unknown dtype"),
            (" " + ok, 8, "does not begin with '{'"),
        ]
        for (header, data, fragment) in cases {
            let p = problem(Self.file(header: header, data: data))
            XCTAssertTrue(p?.contains(fragment) ?? false, "\(header): \(p ?? "accepted")")
        }
        // A header beyond the bound, with the bytes present.
        var big = Data([0, 0, 0, 1, 0, 0, 0, 0])  // 2^24 + ... : 16777216
        big[0] = 8
        big.append(Data("{".utf8) + Data(repeating: 0x20, count: (1 << 24) + 6) + Data("}".utf8))
        XCTAssertTrue(problem(big)?.contains("exceeds the bound") ?? false, problem(big) ?? "accepted")
    }

    /// Keys given twice in one object, exactly or as canonically equivalent
    /// Unicode (a Swift dictionary merges them), are found; the same key in
    /// different objects is fine.
    func testHeaderKeysGivenTwice() {
        func scan(_ text: String) -> String? { Safetensors.duplicateKey(ArraySlice(Array(text.utf8))) }
        XCTAssertNil(scan(#"{"a": {"x": 1, "y": [{"x": 2}, {"x": 3}]}, "b": {"x": "a,b:\"c\""}}"#))
        XCTAssertTrue(scan(#"{"a": 1, "b": {"c": 2}, "a": 3}"#)?.contains("'a' appears twice") ?? false)
        XCTAssertTrue(scan(#"{"m": {"caf\u00e9": 1, "cafe\u0301": 2}}"#)?.contains("different Unicode forms") ?? false)
        XCTAssertTrue(scan("{\"m\": {\"caf\u{E9}\": 1, \"cafe\u{301}\": 2}}")?.contains("different Unicode forms") ?? false)
        XCTAssertTrue(scan(#"{"\ud83d\ude00": 1, "😀": 2}"#)?.contains("appears twice") ?? false)
        XCTAssertTrue(scan(#"{"K": 1, "\u212a": 2}"#)?.contains("different Unicode forms") ?? false)
        XCTAssertNil(scan(#"{"K": 1, "k": 2}"#))
    }

    /// The duplicate-key scan is linear: 200,000 keys in one object (within
    /// the header bound) take well under a second (a copied set made it
    /// quadratic: 16,000 keys took 8 s).
    func testHeaderKeyScanIsLinear() {
        let keys = (0..<200_000).map { "\"k\($0)\": \"v\"" }.joined(separator: ", ")
        let start = DispatchTime.now().uptimeNanoseconds
        XCTAssertNil(Safetensors.duplicateKey(ArraySlice(Array("{\"__metadata__\": {\(keys)}}".utf8))))
        XCTAssertLessThan(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, 3)
    }

    /// A softmax latent at the width bound: its logits are computed once.
    func testSoftmaxLatentAtTheBoundIsCheap() throws {
        let c = try SyntheticEnvironment.Configuration(environmentID: "CartPole-v1", latentDistribution: .softmax,
                                                       latentSize: Limits.layerWidth)
        let env = try SyntheticEnvironment(configuration: c,
                                           initialState: SyntheticTests.randomMLP([c.latentSize, 4], PRNGKey(0, 1)),
                                           reward: SyntheticTests.randomMLP([6, 1], PRNGKey(0, 2)))
        let start = DispatchTime.now().uptimeNanoseconds
        _ = env.resetEnv(key: PRNGKey(0, 3))
        XCTAssertLessThan(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, 2)
        let total = (0..<Limits.layerWidth).reduce(Float(0)) { $0 + expf(-Float($1)) }
        XCTAssertEqual(env.softmaxLogits[1], logf(expf(-1) / total))
    }

    func testCheckpointMetadataBeyondBoundsIsAFormatError() throws {
        let env = try SyntheticTests.randomEnvironment("CartPole-v1")
        var (tensors, metadata) = env.checkpointContents
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sgx-hostile-\(UUID()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        for (key, value, fragment) in [("max_steps_in_episode", "2147483648", "max_steps_in_episode"),
                                       ("latent_size", "70000", "latent_size"), ("features", "32,", "comma-separated"),
                                       ("features", "+32", "positive integer")] {
            var m = metadata
            m[key] = value
            try Safetensors.write(path: path, tensors: tensors, metadata: m)
            XCTAssertThrowsError(try SyntheticEnvironment(checkpoint: path), key) { error in
                XCTAssertTrue(error is Safetensors.FormatError && "\(error)".contains(fragment), "\(error)")
            }
        }
        metadata["features"] = "100000"
        tensors = [:]
        try Safetensors.write(path: path, tensors: tensors, metadata: metadata)
        XCTAssertThrowsError(try SyntheticEnvironment(checkpoint: path)) { XCTAssertTrue("\($0)".contains("65536"), "\($0)") }
    }

    func testConfigurationNumbersAreBounded() {
        for (c, fragment) in [((features: [100_000], latent: 4, steps: 1), "features"),
                              ((features: [4], latent: 0, steps: 1), "latent_size"),
                              ((features: [4], latent: 4, steps: 1 << 31), "max_steps_in_episode"),
                              ((features: [Int](repeating: 4, count: 65), latent: 4, steps: 1), "64")] {
            XCTAssertThrowsError(try SyntheticEnvironment.Configuration(
                environmentID: "CartPole-v1", features: c.features, latentSize: c.latent, maxStepsInEpisode: c.steps)) {
                XCTAssertTrue("\($0)".contains(fragment), "\($0)")
            }
        }
    }

    /// A state with time = INT32_MAX: int32 arithmetic wraps as in JAX, one
    /// environment at a time and batched, classic and synthetic alike.
    func testTimeWrapsLikeJAX() throws {
        let synthetic = try SyntheticTests.randomEnvironment("CartPole-v1", maxSteps: 200)
        for env in [try AnyEnvironment(id: "CartPole-v1"), try AnyEnvironment(id: "Acrobot-v1"),
                    try AnyEnvironment(id: "Pendulum-v1"), AnyEnvironment(synthetic)] {
            let n = 2, s = env.stateSize
            let keys: [UInt32] = [0, 1, 0, 2]
            var obs = [Float](repeating: 0, count: n * env.observationSize)
            var states = [Float](repeating: 0, count: n * s), times = [Int32](repeating: 0, count: n)
            env.reset(count: n, keys: keys, observations: &obs, states: &states, times: &times)
            times = [Int32.max, Int32.max - 1]
            let actions = [Float](repeating: 0, count: n * env.actionSpace.size)
            var rewards = [Float](repeating: 0, count: n), dones = [UInt8](repeating: 9, count: n)
            var truncated = dones, nextTimes = times
            env.step(count: n, keys: keys, states: states, times: times, actions: actions, observations: &obs,
                     nextStates: &states, nextTimes: &nextTimes, rewards: &rewards, dones: &dones,
                     truncations: &truncated)
            // INT32_MAX + 1 wraps to INT32_MIN, below the limit: not truncated;
            // INT32_MAX - 1 + 1 reaches the limit: truncated, reset to 0.
            XCTAssertEqual(truncated, [0, 1], env.name)
            if dones[0] == 0 { XCTAssertEqual(nextTimes[0], Int32.min, env.name) }
            XCTAssertEqual(dones[1], 1, env.name)
            XCTAssertEqual(nextTimes[1], 0, env.name)
        }
        // one environment at a time (the reference path)
        let cartPole = CartPole(params: .init())
        var state = cartPole.reset(key: PRNGKey(0, 1))
        state.time = .max
        let t = cartPole.step(key: PRNGKey(0, 2), state: state, action: [1])
        XCTAssertEqual(t.state.time, .min)
        XCTAssertFalse(t.done)
        let s = synthetic.step(key: PRNGKey(0, 2), state: .init(obs: [0, 0, 0, 0], done: false, time: .max), action: [1])
        XCTAssertEqual(s.final.time, .min)
    }

    func testParametersAreCheckedAsOneRule() {
        func refused(_ id: String, _ p: [(String, Double)], _ fragment: String) {
            XCTAssertThrowsError(try AnyEnvironment(id: id, parameters: p.map { (name: $0.0, value: $0.1) })) {
                XCTAssertTrue("\($0)".contains(fragment), "\($0)")
            }
        }
        refused("CartPole-v1", [("gravity", 1e308)], "float32")
        refused("CartPole-v1", [("gravity", -3.5e38)], "float32")
        refused("CartPole-v1", [("gravity", 9), ("gravity", 9)], "given twice")
        refused("Acrobot-v1", [("available_torque[1]", 2)], "has 3 elements")
        XCTAssertNoThrow(try AnyEnvironment(id: "CartPole-v1", parameters: [("gravity", 3.4e38)]))
        XCTAssertNoThrow(try AnyEnvironment(id: "Acrobot-v1", parameters: [("available_torque[0]", -2),
                                                                           ("available_torque[1]", 0),
                                                                           ("available_torque[2]", 2)]))
    }

    func testVectorEnvironmentsAreBoundedBeforeAllocating() throws {
        let env = try AnyEnvironment(id: "CartPole-v1")
        XCTAssertThrowsError(try VectorEnvironment(env, count: Limits.environments + 1))
        XCTAssertThrowsError(try VectorEnvironment(env, count: Int.max))
        XCTAssertFalse(try VectorEnvironment(env, count: 2).isReset)
    }

    func testHyperparametersAreBounded() {
        func refused<C: AgentConfiguration>(_: C.Type, _ values: [String: String], _ name: String, _ fragment: String) {
            XCTAssertThrowsError(try C(values)) { error in
                guard case let AgentError.invalidHyperparameter(n, reason) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(n, name)
                XCTAssertTrue(reason.contains(fragment), reason)
            }
        }
        refused(PPO.Configuration.self, ["num_envs": "1e14", "num_steps": "1e14"], "num_envs", "1048576")
        refused(PPO.Configuration.self, ["num_envs": "4096", "num_steps": "8192"], "num_steps", "num_envs * num_steps")
        refused(DQN.Configuration.self, ["buffer_size": "1e12"], "buffer_size", "16777216")
        refused(SAC.Configuration.self, ["batch_size": "1e13"], "batch_size", "16777216")
        refused(TD3.Configuration.self, ["policy_delay": "1e14"], "policy_delay", "2147483647")
        refused(DDPG.Configuration.self, ["hidden_layer_sizes": "70000"], "hidden_layer_sizes", "65536")
        refused(PPO.Configuration.self, ["learning_rate": "1e39"], "learning_rate", "float32")
        XCTAssertNoThrow(try PPO.Configuration(["max_grad_norm": "inf"]))
        // sizes that need the environment: parameters and buffer floats
        XCTAssertThrowsError(try Agents.train(.ppo, on: try AnyEnvironment(id: "CartPole-v1"),
                                              hyperparameters: ["hidden_layer_sizes": "65536,65536"])) {
            XCTAssertTrue("\($0)".contains("parameters"), "\($0)")
        }
    }

    func testDivergenceIsAnError() throws {
        let pendulum = try AnyEnvironment(id: "Pendulum-v1")
        XCTAssertThrowsError(try Agents.train(.ppo, on: pendulum, hyperparameters: ["learning_rate": "1e30",
                                                                                    "total_timesteps": "2000"])) { error in
            guard case let AgentError.diverged(message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("learning_rate=1e30") && message.contains("Pendulum-v1"), message)
        }
    }

    func testConfigsAreBoundedBeforeComposing() {
        func refused(_ text: String, _ fragment: String) {
            XCTAssertThrowsError(try MetaConfig(yaml: text)) { XCTAssertTrue("\($0)".contains(fragment), "\($0)") }
        }
        refused("env_name: " + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000), "nest deeper than 64")
        refused(String(repeating: "- ", count: 5000) + "x", "nest deeper than 64")
        refused(String(repeating: "{a: ", count: 3000) + "1" + String(repeating: "}", count: 3000), "nest deeper than 64")
        refused(MetaTrainerTests.config() + "\n# " + String(repeating: "x", count: 1 << 20), "1 MiB")
        var bomb = MetaTrainerTests.config() + "\nz0: &z0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1..<10 { bomb += "z\(i): &z\(i) [" + [String](repeating: "*z\(i - 1)", count: 10).joined(separator: ", ") + "]\n" }
        refused(bomb, "SGX_MAX_CONFIG_NODES")
        refused(MetaTrainerTests.config().replacingOccurrences(of: "num_generations: 2", with: "num_generations: 1e12"),
                "meta_config.num_generations")
        refused(MetaTrainerTests.config().replacingOccurrences(of: "popsize: 4", with: "popsize: 100000000"), "popsize")
        refused(MetaTrainerTests.config().replacingOccurrences(of: "features: [32]", with: "features: [1000000]"),
                "features[0]")
        refused(MetaTrainerTests.config().replacingOccurrences(of: "num_eval_envs: 8", with: "num_eval_envs: 1e9"),
                "num_eval_envs")
        refused(MetaTrainerTests.config().replacingOccurrences(of: "init_value: 500", with: "init_value: 1e300"),
                "init_value")
        // a config 64 deep is fine
        XCTAssertNoThrow(try ConfigValue.parse(yaml: "a: " + String(repeating: "[", count: 63) + String(repeating: "]", count: 63)))
    }

    /// state.json is the commit point: a log.csv one row short (a kill
    /// between the two) is brought level on resume; inner runs that diverge
    /// still count as failed runs.
    func testMetaTrainerFilesAndFailedRuns() throws {
        let dir = try MetaTrainerTests.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // PPO on Pendulum with learning_rate 1e30 diverges (its Gaussian's
        // parameters become NaN): every member's run fails.
        let text = """
            env_name: Pendulum-v1
            seed_id: 0
            eval_config: {num_eval_envs: 2, init_value: 200, end_value: 200, transition_begin: 0, transition_steps: 1}
            inner_loop_algorithm: ppo
            inner_config:
              ppo: {num_envs: 5, num_steps: 100, num_epochs: 2, num_minibatches: 5, total_timesteps: 2000,
                    learning_rate: [1e30]}
            meta_config: {num_generations: 2, num_rollouts: 1, num_rollouts_mean: 1, mean_eval_freq: 1}
            strategy_name: SNES
            strategy_params: {popsize: 4, sigma_init: 0.05, temperature: 0}
            synth_env_kwargs: {max_steps_in_episode: 1, network_kwargs: {features: [8], latent_dist: normal}}
            """
        let config = try MetaConfig(yaml: text)
        let log = try MetaTrainer(config: config, configText: text, directory: dir.path, workers: 2).run()
        XCTAssertEqual(log.count, 2)
        for record in log {
            XCTAssertEqual(record.algorithms["ppo"]?.failedRuns, 4, "every diverged run is a failed run")
            XCTAssertEqual(record.meanAlgorithms?["ppo"]?.failedRuns, 1)
        }
        let logURL = dir.appendingPathComponent("log.csv")
        let full = try String(contentsOf: logURL, encoding: .utf8)
        let lines = full.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertTrue(lines[0].contains("failed_runs/ppo"))
        try (lines.dropLast(2).joined(separator: "\n") + "\n").write(to: logURL, atomically: true, encoding: .utf8)
        _ = try MetaTrainer(config: config, configText: text, directory: dir.path, workers: 2)
        XCTAssertEqual(try String(contentsOf: logURL, encoding: .utf8), full)
    }
}
