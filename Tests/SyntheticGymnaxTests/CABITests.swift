import XCTest
@testable import SyntheticGymnax
@testable import SGXSupport
@testable import SGXRandom
@testable import SGXNN
@testable import SGXEnvironments
@testable import SGXAgents
@testable import SGXMetaLearning
@testable import SyntheticGymnaxC

/// The exported C functions called as a C program would, for the cases a C
/// program cannot easily reach from Tests/c/test_abi.c: exact status codes,
/// messages that name the problem, and batching invariants.
final class CABITests: XCTestCase {
    private func create(_ id: String, _ params: [(String, Double)] = []) -> (Int32, OpaquePointer?) {
        var env: OpaquePointer?
        let names = params.map { strdup($0.0) }
        defer { names.forEach { free($0) } }
        let constNames = names.map { UnsafePointer<CChar>($0) }
        let status = constNames.withUnsafeBufferPointer { n in
            params.map(\.1).withUnsafeBufferPointer { v in
                sgx_env_create(id, n.baseAddress, v.baseAddress, Int32(params.count), &env)
            }
        }
        return (status, env)
    }

    private var lastError: String { String(cString: sgx_last_error()) }

    /// The core's bounds (Limits, which knows nothing of C) are the header's.
    func testCoreLimitsEqualTheHeaders() {
        func constant(_ name: String) -> Int? {
            var value: Int64 = 0
            return sgx_abi_constant(name, &value) == Status.ok.rawValue ? Int(value) : nil
        }
        let pairs: [(String, Int)] = [
            ("SGX_MAX_VEC_ENVS", Limits.environments), ("SGX_MAX_NUM_ENVS", Limits.environments),
            ("SGX_MAX_BATCH", Limits.batch), ("SGX_MAX_BUFFER_FLOATS", Limits.bufferFloats),
            ("SGX_MAX_LAYER_WIDTH", Limits.layerWidth), ("SGX_MAX_LAYERS", Limits.layers),
            ("SGX_MAX_NETWORK_PARAMETERS", Limits.networkParameters), ("SGX_MAX_FILE_BYTES", Limits.fileBytes),
            ("SGX_MAX_HEADER_BYTES", Limits.headerBytes), ("SGX_MAX_CONFIG_BYTES", Limits.configBytes),
            ("SGX_MAX_CONFIG_DEPTH", Limits.configDepth), ("SGX_MAX_CONFIG_NODES", Limits.configNodes),
            ("SGX_MAX_POPULATION", Limits.population), ("SGX_MAX_RUNS", Limits.rollouts),
            ("SGX_MAX_OUTCOME_BYTES", Limits.outcomeBytes),
        ]
        for (name, value) in pairs { XCTAssertEqual(constant(name), value, name) }
        XCTAssertNil(constant("SGX_MAX_NOTHING"))
        XCTAssertTrue(lastError.contains("'SGX_MAX_NOTHING'"), lastError)
    }

    func testUnknownIDNamesTheIDAndTheKnownOnes() {
        let (status, env) = create("CartPole-v0")
        XCTAssertEqual(status, Status.unknownID.rawValue)
        XCTAssertNil(env)
        XCTAssertTrue(lastError.contains("'CartPole-v0'"), lastError)
        XCTAssertTrue(lastError.contains("CartPole-v1"), lastError)
    }

    func testParameterErrors() {
        XCTAssertEqual(create("Pendulum-v1", [("gravity", 9.8)]).0, Status.unknownParameter.rawValue)
        XCTAssertTrue(lastError.contains("'gravity'") && lastError.contains("max_torque"), lastError)
        XCTAssertEqual(create("Pendulum-v1", [("max_steps_in_episode", 1.5)]).0, Status.invalidArgument.rawValue)
        XCTAssertEqual(create("Pendulum-v1", [("max_steps_in_episode", -4)]).0, Status.invalidArgument.rawValue)
        XCTAssertEqual(create("Pendulum-v1", [("g", .infinity)]).0, Status.invalidArgument.rawValue)
        XCTAssertTrue(lastError.contains("'g'"), lastError)
        // Untrusted input (#20): a float parameter finite in float64 but not
        // in float32, a name given twice, part of an array parameter.
        XCTAssertEqual(create("CartPole-v1", [("gravity", 1e308)]).0, Status.invalidArgument.rawValue)
        XCTAssertTrue(lastError.contains("'gravity'") && lastError.contains("float32"), lastError)
        XCTAssertEqual(create("CartPole-v1", [("gravity", 9), ("gravity", 10)]).0, Status.invalidArgument.rawValue)
        XCTAssertTrue(lastError.contains("'gravity'") && lastError.contains("given twice"), lastError)
        XCTAssertEqual(create("Acrobot-v1", [("available_torque[0]", -2), ("available_torque[1]", 2)]).0,
                       Status.invalidArgument.rawValue)
        XCTAssertTrue(lastError.contains("available_torque") && lastError.contains("has 3 elements")
                      && lastError.contains("give all 3"), lastError)
        let (ok, env) = create("Acrobot-v1", [("available_torque[0]", -1), ("available_torque[1]", 0),
                                              ("available_torque[2]", 2.5), ("torque_noise_max", 0.1)])
        XCTAssertEqual(ok, Status.ok.rawValue)
        var value = 0.0
        var name: UnsafePointer<CChar>?
        XCTAssertEqual(sgx_env_param(env, 2, &name, &value, nil), 0)
        XCTAssertEqual(String(cString: name!), "available_torque[2]")
        XCTAssertEqual(value, 2.5)
        sgx_env_free(env)
    }

    func testStepRejectsBadActionsAndWritesNothing() {
        let (_, env) = create("MountainCar-v0")
        defer { sgx_env_free(env) }
        var keys: [UInt32] = [0, 1, 0, 2]
        var state: [Float] = [-0.5, 0, -0.5, 0]
        var time: [Int32] = [0, 0]
        var obs = [Float](repeating: 7, count: 4), next = [Float](repeating: 7, count: 4)
        var nextTime: [Int32] = [7, 7], reward: [Float] = [7, 7]
        var done: [UInt8] = [7, 7]
        var actions: [Int32] = [1, 3]
        XCTAssertEqual(sgx_env_step_discrete(env, 2, &keys, &state, &time, &actions, &obs, &next, &nextTime,
                                             &reward, &done, nil, nil, nil), Status.invalidAction.rawValue)
        XCTAssertTrue(lastError.contains("actions[1] = 3") && lastError.contains("[0, 3)"), lastError)
        XCTAssertEqual(obs, [7, 7, 7, 7])
        XCTAssertEqual(done, [7, 7])
        var floats: [Float] = [0, 1]
        XCTAssertEqual(sgx_env_step_continuous(env, 2, &keys, &state, &time, &floats, &obs, &next, &nextTime,
                                               &reward, &done, nil, nil, nil), Status.wrongActionType.rawValue)
        actions = [0, 2]
        XCTAssertEqual(sgx_env_step_discrete(env, 2, &keys, &state, &time, &actions, &obs, &next, &nextTime,
                                             &reward, &done, nil, nil, nil), Status.ok.rawValue)
        XCTAssertEqual(reward, [-1, -1])
    }

    func testLastErrorIsPerThread() {
        _ = create("nope")
        let mine = lastError
        final class Box: @unchecked Sendable { var message = "unset" }
        let other = Box()
        let finished = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            other.message = String(cString: sgx_last_error())
            finished.signal()
        }
        finished.wait()
        XCTAssertTrue(mine.contains("nope"))
        XCTAssertEqual(other.message, "")
    }

    /// A large batch (run on several cores) equals stepping each environment alone,
    /// and stepping in place (outputs aliasing inputs) equals separate buffers.
    func testBatchEqualsSingleAndAliasingIsSafe() throws {
        for id in AnyEnvironment.realIDs {
            let env = try AnyEnvironment(id: id)
            let n = 5000, ss = env.stateSize, os = env.observationSize, asz = env.actionSpace.size
            var keys = [UInt32](repeating: 0, count: 2 * n)
            PRNGKey(seed: 3).split(count: n, into: &keys)
            var obs = [Float](repeating: 0, count: n * os), state = [Float](repeating: 0, count: n * ss)
            var time = [Int32](repeating: 0, count: n)
            env.reset(count: n, keys: keys, observations: &obs, states: &state, times: &time)
            var actions = [Float](repeating: 0, count: n * asz)
            PRNGKey(seed: 4).uniform(count: n * asz, minval: 0, maxval: 2, into: &actions)
            if env.actionSpace.isDiscrete { actions = actions.map { $0.rounded(.down) } }
            // Push some environments to the time limit.
            for i in stride(from: 0, to: n, by: 7) { time[i] = env.maxStepsInEpisode - 1 }
            PRNGKey(seed: 5).split(count: n, into: &keys)

            var bObs = obs, bState = state, bTime = time, bReward = [Float](repeating: 0, count: n)
            var bDone = [UInt8](repeating: 0, count: n)
            env.step(count: n, keys: keys, states: state, times: time, actions: actions,
                     observations: &bObs, nextStates: &bState, nextTimes: &bTime, rewards: &bReward,
                     dones: &bDone, truncations: nil)
            // In place.
            var iState = state, iTime = time, iReward = bReward, iDone = bDone, iObs = obs
            iState.withUnsafeMutableBufferPointer { s in
                iTime.withUnsafeMutableBufferPointer { t in
                    env.step(count: n, keys: keys, states: s.baseAddress!, times: t.baseAddress!,
                             actions: actions, observations: &iObs, nextStates: s.baseAddress!,
                             nextTimes: t.baseAddress!, rewards: &iReward, dones: &iDone, truncations: nil)
                }
            }
            XCTAssertEqual(iState.map(\.bitPattern), bState.map(\.bitPattern), id)
            XCTAssertEqual(iTime, bTime, id)
            // One at a time.
            for i in stride(from: 0, to: n, by: 97) {
                var o = [Float](repeating: 0, count: os), s = [Float](repeating: 0, count: ss)
                var t: Int32 = 0, r: Float = 0, d: UInt8 = 0
                env.step(count: 1, keys: Array(keys[(2 * i)..<(2 * i + 2)]),
                         states: Array(state[(i * ss)..<((i + 1) * ss)]), times: [time[i]],
                         actions: Array(actions[(i * asz)..<((i + 1) * asz)]), observations: &o,
                         nextStates: &s, nextTimes: &t, rewards: &r, dones: &d, truncations: nil)
                XCTAssertEqual(s.map(\.bitPattern), bState[(i * ss)..<((i + 1) * ss)].map(\.bitPattern), id)
                XCTAssertEqual(o.map(\.bitPattern), bObs[(i * os)..<((i + 1) * os)].map(\.bitPattern), id)
                XCTAssertEqual(r.bitPattern, bReward[i].bitPattern, id)
                XCTAssertEqual(d, bDone[i], id)
                XCTAssertEqual(t, bTime[i], id)
            }
            XCTAssertGreaterThan(bDone.filter { $0 == 1 }.count, n / 8, "\(id): time-limit resets happened")
        }
    }

    /// The bulk PRNG paths (SIMD blocks, several cores) equal element-wise sampling.
    func testBulkSamplingEqualsScalar() {
        let key = PRNGKey(seed: 99)
        for count in [1, 7, 8, 9, 31, 100_003] {
            var split = [UInt32](repeating: 0, count: 2 * count)
            key.split(count: count, into: &split)
            var bits = [UInt32](repeating: 0, count: count)
            key.bits(count: count, into: &bits)
            var uniform = [Float](repeating: 0, count: count)
            key.uniform(count: count, minval: -2, maxval: 3, into: &uniform)
            var ints = [Int32](repeating: 0, count: count)
            key.randint(count: count, minval: -3, maxval: 11, into: &ints)
            for i in [0, count / 2, count - 1] {
                let k = key.split(index: i)
                XCTAssertEqual([split[2 * i], split[2 * i + 1]], [k.k0, k.k1])
                XCTAssertEqual(bits[i], key.bits(at: i))
                XCTAssertEqual(uniform[i], key.uniform(at: i, minval: -2, maxval: 3))
            }
            XCTAssertEqual(Array(ints.prefix(7)), key.randint(count: min(count, 7), minval: -3, maxval: 11))
            XCTAssertTrue(ints.allSatisfy { (-3..<11).contains($0) })
        }
    }

    func testDeterminism() throws {
        let env = try AnyEnvironment(id: "Acrobot-v1", parameters: [("torque_noise_max", 0.3)])
        func run() -> [Float] {
            var keys = [UInt32](repeating: 0, count: 64)
            PRNGKey(seed: 1).split(count: 32, into: &keys)
            var obs = [Float](repeating: 0, count: 32 * 6), st = [Float](repeating: 0, count: 32 * 4)
            var t = [Int32](repeating: 0, count: 32), r = [Float](repeating: 0, count: 32)
            var d = [UInt8](repeating: 0, count: 32)
            env.reset(count: 32, keys: keys, observations: &obs, states: &st, times: &t)
            for step in 0..<50 {
                PRNGKey(seed: Int64(step)).split(count: 32, into: &keys)
                let a = [Float](repeating: Float(step % 3), count: 32)
                env.step(count: 32, keys: keys, states: st, times: t, actions: a, observations: &obs,
                         nextStates: &st, nextTimes: &t, rewards: &r, dones: &d, truncations: nil)
            }
            return obs + st
        }
        XCTAssertEqual(run().map(\.bitPattern), run().map(\.bitPattern))
    }
}
