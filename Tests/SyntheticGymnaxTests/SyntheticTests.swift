import Foundation
import XCTest
@testable import SyntheticGymnax
@testable import SGXSupport
@testable import SGXRandom
@testable import SGXNN
@testable import SGXEnvironments
@testable import SGXAgents
@testable import SGXMetaLearning
@testable import SyntheticGymnaxC

/// The synthetic environment's semantics, batching and checkpoint files.
/// (Parity with the original JAX SynthEnv on the paper's checkpoints is
/// tested in python/tests/test_synthetic_parity.py.)
final class SyntheticTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sgx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// An MLP with weights drawn from N(0, scale²) with `key`.
    static func randomMLP(_ widths: [Int], _ key: PRNGKey, scale: Float = 0.5, activation: Activation = .relu) -> MLP {
        let layers = (0..<(widths.count - 1)).map { k -> DenseLayer in
            let kk = key.foldIn(UInt32(k))
            let w = kk.normal(count: widths[k] * widths[k + 1]).map { $0 * scale }
            let b = kk.foldIn(99).normal(count: widths[k + 1]).map { $0 * scale }
            return DenseLayer(kernel: w, bias: b, inputSize: widths[k], outputSize: widths[k + 1])
        }
        return MLP(layers: layers, activation: activation)
    }

    static func randomEnvironment(_ id: String, maxSteps: Int = 1, seed: Int64 = 0) throws -> SyntheticEnvironment {
        let c = try SyntheticEnvironment.Configuration(environmentID: id, maxStepsInEpisode: maxSteps)
        let spaces = try SyntheticEnvironment.realSpaces(id)
        let o = spaces.observation.size, a = spaces.action.numActions
        let key = PRNGKey(seed: seed)
        return try SyntheticEnvironment(
            configuration: c, initialState: randomMLP([c.latentSize, 32, o], key.foldIn(1)),
            reward: randomMLP([o + a, 32, 1], key.foldIn(2)),
            nextStateDelta: maxSteps > 1 ? randomMLP([o + a, 32, o], key.foldIn(3), scale: 0.1) : nil,
            done: maxSteps > 1 ? randomMLP([o, 32, 1], key.foldIn(4)) : nil)
    }

    /// A hand-made environment whose outputs are known in closed form:
    /// initial_state = relu(z) (identity weights), reward = 2·obs[0] + 10·onehot[1].
    func testSemanticsOnKnownWeights() throws {
        let c = try SyntheticEnvironment.Configuration(environmentID: "CartPole-v1", features: [4])
        var eye = [Float](repeating: 0, count: 16)
        for i in 0..<4 { eye[5 * i] = 1 }
        let initial = MLP(layers: [DenseLayer(kernel: eye, bias: [0, 0, 0, 0], inputSize: 4, outputSize: 4),
                                   DenseLayer(kernel: eye, bias: [0, 0, 0, 0], inputSize: 4, outputSize: 4)],
                          activation: .relu)
        var w1 = [Float](repeating: 0, count: 6 * 4)
        w1[0 * 4 + 0] = 2      // obs[0] -> hidden 0
        w1[0 * 4 + 1] = -2     // -obs[0] -> hidden 1 (relu(x) - relu(-x) = x)
        w1[5 * 4 + 2] = 10     // action one-hot[1] -> hidden 2
        let reward = MLP(layers: [DenseLayer(kernel: w1, bias: [0, 0, 0, 0], inputSize: 6, outputSize: 4),
                                  DenseLayer(kernel: [1, -1, 1, 0], bias: [0.5], inputSize: 4, outputSize: 1)],
                         activation: .relu)
        let env = try SyntheticEnvironment(configuration: c, initialState: initial, reward: reward)
        let key = PRNGKey(seed: 7)
        let state = env.reset(key: key)
        XCTAssertEqual(state.obs, key.normal(count: 4).map { max($0, 0) })
        XCTAssertEqual(state.time, 0)
        for action: Float in [0, 1] {
            let t = env.step(key: key, state: state, action: [action])
            XCTAssertEqual(t.reward, 2 * state.obs[0] + 10 * action + 0.5, accuracy: 1e-6)
            XCTAssertTrue(t.done)
            // The one-step episode terminates (the original's is_terminal; discount 0), it is not truncated.
            XCTAssertTrue(t.terminated)
            XCTAssertFalse(t.truncated)
            // Auto-reset from the reset half of the split key.
            XCTAssertEqual(t.state.obs, env.reset(key: key.split(index: 1)).obs)
        }
    }

    func testBatchEqualsScalar() throws {
        for (id, steps) in [("CartPole-v1", 1), ("Pendulum-v1", 1), ("hopper", 1), ("Acrobot-v1", 5), ("hopper", 7)] {
            let env = try Self.randomEnvironment(id, maxSteps: steps)
            let any = AnyEnvironment(env)
            let n = 300, o = env.observationSize, ss = env.stateSize, asz = env.actionSpace.size
            var keys = [UInt32](repeating: 0, count: 2 * n)
            PRNGKey(seed: 1).split(count: n, into: &keys)
            var obs = [Float](repeating: 0, count: n * o), state = [Float](repeating: 0, count: n * ss)
            var time = [Int32](repeating: 0, count: n)
            any.reset(count: n, keys: keys, observations: &obs, states: &state, times: &time)
            for i in [0, 17, n - 1] {
                let s = env.reset(key: PRNGKey(keys[2 * i], keys[2 * i + 1]))
                XCTAssertEqual(Array(obs[(i * o)..<((i + 1) * o)]), s.obs, id)
            }
            var ends = 0
            for step in 0..<12 {
                var actions = [Float](repeating: 0, count: n * asz)
                PRNGKey(seed: Int64(100 + step)).uniform(count: n * asz, minval: -1, maxval: 1, into: &actions)
                if case .discrete(let k) = env.actionSpace {
                    actions = actions.map { Float(Int(($0 + 1) / 2 * Float(k)) % k) }
                }
                PRNGKey(seed: Int64(step)).split(count: n, into: &keys)
                var nObs = obs, nState = state, nTime = time, reward = [Float](repeating: 0, count: n)
                var done = [UInt8](repeating: 0, count: n), term = done, trunc = done
                any.step(count: n, keys: keys, states: state, times: time, actions: actions, observations: &nObs,
                         nextStates: &nState, nextTimes: &nTime, rewards: &reward, dones: &done, terminations: &term,
                         truncations: &trunc)
                for i in stride(from: 0, to: n, by: 23) {
                    let s = env.loadState(Array(state[(i * ss)..<((i + 1) * ss)]), time: time[i])
                    let t = env.step(key: PRNGKey(keys[2 * i], keys[2 * i + 1]), state: s,
                                     action: Array(actions[(i * asz)..<((i + 1) * asz)]))
                    let msg = "\(id) step \(step) env \(i)"
                    XCTAssertEqual(reward[i], t.reward, accuracy: 1e-5 * max(1, abs(t.reward)), msg)
                    XCTAssertEqual(done[i] == 1, t.done, msg)
                    XCTAssertEqual(term[i] == 1, t.terminated, msg)
                    XCTAssertEqual(trunc[i] == 1, t.truncated, msg)
                    if steps == 1 { XCTAssertTrue(term[i] == 1 && trunc[i] == 0, "\(msg): one-step episodes terminate") }
                    XCTAssertEqual(nTime[i], t.state.time, msg)
                    for j in 0..<o { XCTAssertEqual(nObs[i * o + j], t.state.obs[j], accuracy: 1e-5, msg) }
                }
                ends += done.filter { $0 == 1 }.count
                (obs, state, time) = (nObs, nState, nTime)
            }
            if steps == 1 { XCTAssertEqual(ends, 12 * n, "\(id): one-step episodes") }
            else { XCTAssertGreaterThan(ends, 0, id); XCTAssertLessThan(ends, 12 * n, id) }
        }
    }

    func testCheckpointRoundTrip() throws {
        for (id, steps) in [("Pendulum-v1", 1), ("MountainCar-v0", 4), ("humanoidstandup", 1)] {
            let env = try Self.randomEnvironment(id, maxSteps: steps, seed: 3)
            try env.save(to: path("env.safetensors"))
            let loaded = try SyntheticEnvironment(checkpoint: path("env.safetensors"))
            XCTAssertEqual(loaded.configuration, env.configuration)
            XCTAssertEqual(loaded.initialState, env.initialState)
            XCTAssertEqual(loaded.reward, env.reward)
            XCTAssertEqual(loaded.nextStateDelta, env.nextStateDelta)
            XCTAssertEqual(loaded.done, env.done)
            XCTAssertEqual(loaded.name, "Synthetic-\(id)")
            XCTAssertEqual(loaded.configuration.extraMetadata, [:])
        }
    }

    /// Writes a checkpoint after `edit` changes its contents, then expects `load` to fail with `expected` in the message.
    func expectFailure(_ expected: String, file: StaticString = #filePath, line: UInt = #line,
                       _ edit: (inout [String: Safetensors.Tensor], inout [String: String]) -> Void) throws {
        var (tensors, metadata) = try Self.randomEnvironment("CartPole-v1").checkpointContents
        edit(&tensors, &metadata)
        try Safetensors.write(path: path("bad.safetensors"), tensors: tensors, metadata: metadata)
        XCTAssertThrowsError(try SyntheticEnvironment(checkpoint: path("bad.safetensors")), file: file, line: line) {
            XCTAssertTrue("\($0)".contains(expected), "\($0) lacks '\(expected)'", file: file, line: line)
        }
    }

    func testCheckpointErrorsNameTheProblem() throws {
        try expectFailure("missing tensor 'reward.Dense_1.bias'") { t, _ in t["reward.Dense_1.bias"] = nil }
        try expectFailure("tensor 'initial_state.Dense_0.kernel' has shape [4, 31], expected [4, 32]") { t, _ in
            t["initial_state.Dense_0.kernel"] = .init(shape: [4, 31], values: [Float](repeating: 0, count: 124))
        }
        try expectFailure("unexpected tensor 'done.Dense_0.bias'") { t, _ in t["done.Dense_0.bias"] = .init(shape: [1], values: [0]) }
        try expectFailure("non-finite") { t, _ in t["reward.Dense_0.bias"]!.values[3] = .nan }
        try expectFailure("metadata lacks 'latent_size'") { _, m in m["latent_size"] = nil }
        try expectFailure("format 'other/2'") { _, m in m["format"] = "other/2" }
        try expectFailure("unknown activation 'relu6'") { _, m in m["activation"] = "relu6" }
        try expectFailure("unknown latent_dist 'cauchy'") { _, m in m["latent_dist"] = "cauchy" }
        try expectFailure("'max_steps_in_episode' must be a positive integer") { _, m in m["max_steps_in_episode"] = "0" }
        try expectFailure("unknown environment id 'CartPole-v7'") { _, m in m["env_id"] = "CartPole-v7" }
        // A CartPole checkpoint relabelled as Acrobot no longer fits its spaces.
        try expectFailure("has shape [32, 4], expected [32, 6] for Acrobot-v1") { _, m in m["env_id"] = "Acrobot-v1"; m["latent_size"] = "4" }
    }

    func testCorruptFilesAndTheCABI() throws {
        let good = path("good.safetensors")
        try Self.randomEnvironment("CartPole-v1").save(to: good)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        let cases: [(String, Data, String)] = [
            ("empty", Data(), "truncated"),
            ("short", bytes.prefix(5), "truncated"),
            ("cut", bytes.prefix(bytes.count - 10), "truncated or corrupt"),
            ("json", Data([16, 0, 0, 0, 0, 0, 0, 0]) + Data("{not json at all".utf8), "not a JSON object"),
            ("huge", Data([255, 255, 255, 255, 0, 0, 0, 0]) + bytes.dropFirst(8), "truncated or corrupt: header"),
        ]
        for (name, data, message) in cases {
            let p = path("\(name).safetensors")
            try data.write(to: URL(fileURLWithPath: p))
            var env: OpaquePointer?
            XCTAssertEqual(sgx_env_create_from_checkpoint(p, nil, nil, 0, &env), Status.format.rawValue, name)
            XCTAssertNil(env)
            let error = String(cString: sgx_last_error())
            XCTAssertTrue(error.contains(message) && error.contains(p), "\(name): \(error)")
        }
        var env: OpaquePointer?
        XCTAssertEqual(sgx_env_create_from_checkpoint(path("absent.safetensors"), nil, nil, 0, &env), Status.io.rawValue)
        XCTAssertTrue(String(cString: sgx_last_error()).contains("no such file"))
        XCTAssertEqual(sgx_env_create_from_checkpoint(nil, nil, nil, 0, &env), Status.nullPointer.rawValue)

        // A one-step checkpoint cannot run longer episodes; other parameters do not exist.
        let steps = strdup("max_steps_in_episode"), gravity = strdup("gravity")
        defer { free(steps); free(gravity) }
        var names: [UnsafePointer<CChar>?] = [UnsafePointer(steps)]
        var values: [Double] = [5]
        XCTAssertEqual(sgx_env_create_from_checkpoint(good, &names, &values, 1, &env), Status.invalidArgument.rawValue)
        XCTAssertTrue(String(cString: sgx_last_error()).contains("only the reward network"))
        names = [UnsafePointer(gravity)]
        XCTAssertEqual(sgx_env_create_from_checkpoint(good, &names, &values, 1, &env), Status.unknownParameter.rawValue)

        // The good file works through the C ABI, and saves back identically.
        XCTAssertEqual(sgx_env_create_from_checkpoint(good, nil, nil, 0, &env), Status.ok.rawValue)
        XCTAssertEqual(String(cString: sgx_env_name(env)!), "Synthetic-CartPole-v1")
        XCTAssertEqual(sgx_env_state_size(env), 5)
        XCTAssertEqual(sgx_env_save_checkpoint(env, path("copy.safetensors")), Status.ok.rawValue)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("copy.safetensors"))), bytes)
        XCTAssertEqual(sgx_env_save_checkpoint(env, "/nonexistent-dir/x.safetensors"), Status.io.rawValue)
        sgx_env_free(env)

        // Synthetic ids need a checkpoint file, and say so.
        XCTAssertEqual(sgx_env_create("Synthetic-CartPole-v1", nil, nil, 0, &env), Status.io.rawValue)
        XCTAssertTrue(String(cString: sgx_last_error()).contains("create it from a checkpoint file"))
        var real: OpaquePointer?
        XCTAssertEqual(sgx_env_create("CartPole-v1", nil, nil, 0, &real), 0)
        XCTAssertEqual(sgx_env_save_checkpoint(real, path("x.safetensors")), Status.invalidArgument.rawValue)
        sgx_env_free(real)
    }
}
