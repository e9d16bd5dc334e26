import XCTest
@testable import SyntheticGymnax
@testable import SGXSupport
@testable import SGXRandom
@testable import SGXNN
@testable import SGXEnvironments
@testable import SGXAgents
@testable import SGXMetaLearning

/// The batched step (tiles of 64 environments, vectorised, on several
/// threads) against `Environment.step(key:state:action:)` on each
/// environment alone (the scalar reference the parity tests check against
/// gymnax), bit for bit, for every output: observations, states, times,
/// rewards, done / terminated / truncated flags and final observations.
final class BatchStepTests: XCTestCase {
    /// A float's bits, every NaN as the same quiet NaN: IEEE 754 leaves a
    /// NaN's sign unspecified, and optimised builds propagate it differently
    /// in the vectorised and scalar paths.
    static func bits(_ x: Float) -> UInt32 { x.isNaN ? Float.nan.bitPattern : x.bitPattern }

    /// Parameter sets per environment: defaults, and ones that reach the
    /// slow paths (angles beyond the fast sin/cos range, torque noise, ...).
    static let configurations: [(id: String, parameters: [(name: String, value: Double)])] = [
        ("CartPole-v1", []),
        ("CartPole-v1", [("theta_threshold_radians", 1e5), ("x_threshold", 1e30), ("max_steps_in_episode", 7)]),
        ("CartPole-v1", [("force_mag", 500), ("theta_threshold_radians", 40)]),
        ("Acrobot-v1", []),
        ("Acrobot-v1", [("torque_noise_max", 0.3), ("available_torque[0]", -1), ("available_torque[1]", 0),
                        ("available_torque[2]", 3), ("max_vel_1", 100)]),
        ("MountainCar-v0", []),
        ("MountainCar-v0", [("force", 0.05), ("max_speed", 5), ("max_position", 600)]),
        ("MountainCarContinuous-v0", []),
        ("MountainCarContinuous-v0", [("power", 0.5), ("max_speed", 50), ("max_position", 900), ("min_action", -40), ("max_action", 40)]),
        ("Pendulum-v1", []),
        ("Pendulum-v1", [("max_speed", 1e7), ("max_torque", 1e6), ("dt", 5)]),
    ]

    func testBatchEqualsOneAtATime() throws {
        for (id, parameters) in Self.configurations {
            let env = try AnyEnvironment(id: id, parameters: parameters)
            for count in [1, 7, 63, 64, 65, 200, 1003] {
                try check(env, count: count, steps: count > 100 ? 12 : 30, label: "\(id) \(parameters) n=\(count)")
            }
        }
    }

    /// Odd states: far outside the bounds, huge, zero, negative zero, NaN and
    /// infinities, times at and past the limit.
    func testBatchEqualsOneAtATimeOnOddStates() throws {
        let odd: [Float] = [0, -0, 1e-40, -1e-40, 3000, -5e6, 1e30, .infinity, -.infinity, .nan, 0.5, -2.5,
                            Float(Double.pi / 2), -Float(Double.pi), Float(1024).nextUp, 7.25]
        for (id, parameters) in Self.configurations {
            let env = try AnyEnvironment(id: id, parameters: parameters)
            let n = 333, stateSize = env.stateSize
            var state = [Float](repeating: 0, count: n * stateSize)
            var time = [Int32](repeating: 0, count: n)
            var generator = SplitMix64(seed: 11)
            for i in 0..<n {
                for f in 0..<stateSize { state[i * stateSize + f] = odd[Int(generator.next() % UInt64(odd.count))] }
                time[i] = [0, 1, env.maxStepsInEpisode - 1, env.maxStepsInEpisode, env.maxStepsInEpisode + 5][i % 5]
            }
            try check(env, count: n, steps: 3, label: "\(id) \(parameters) odd states",
                      initialState: state, initialTime: time)
        }
    }

    /// Batches stepped from several threads at once (the worker pool serves
    /// one, the others fall back to GCD) and nested in each other's chunks
    /// give the results of stepping them one after the other.
    func testConcurrentCallersAndNestedCalls() throws {
        let env = try AnyEnvironment(id: "CartPole-v1")
        let n = 1536
        func run(seed: Int64, steps: Int) -> [Float] {
            var keys = [UInt32](repeating: 0, count: 2 * n)
            PRNGKey(seed: seed).split(count: n, into: &keys)
            var obs = [Float](repeating: 0, count: 4 * n), state = obs
            var time = [Int32](repeating: 0, count: n), reward = [Float](repeating: 0, count: n)
            var done = [UInt8](repeating: 0, count: n)
            env.reset(count: n, keys: keys, observations: &obs, states: &state, times: &time)
            for step in 0..<steps {
                PRNGKey(seed: seed &+ Int64(step)).split(count: n, into: &keys)
                let actions = (0..<n).map { Float(($0 &+ step) % 2) }
                env.step(count: n, keys: keys, states: state, times: time, actions: actions,
                         observations: &obs, nextStates: &state, nextTimes: &time, rewards: &reward, dones: &done)
            }
            return obs + state + reward
        }
        let expected = (0..<4).map { run(seed: Int64($0), steps: 8) }
        final class Results: @unchecked Sendable { var values = [[Float]](repeating: [], count: 4) }
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: 4) { results.values[$0] = run(seed: Int64($0), steps: 8) }
        for i in 0..<4 { XCTAssertEqual(results.values[i].map(\.bitPattern), expected[i].map(\.bitPattern)) }
        // A batch stepped inside a chunk of another parallel job.
        let nested = Results()
        parallelChunks(count: 2, minimumPerChunk: 1) { range in
            for i in range { nested.values[i] = run(seed: Int64(i), steps: 8) }
        }
        for i in 0..<2 { XCTAssertEqual(nested.values[i].map(\.bitPattern), expected[i].map(\.bitPattern)) }
    }

    /// Runs `steps` batched steps of `count` environments (random actions and
    /// keys, reset states unless given) and compares each with stepping each
    /// environment alone; every other step is done in place (outputs
    /// aliasing the state and time inputs).
    func check(_ env: AnyEnvironment, count n: Int, steps: Int, label: String,
               initialState: [Float]? = nil, initialTime: [Int32]? = nil) throws {
        let ss = env.stateSize, os = env.observationSize, asz = env.actionSpace.size
        var keys = [UInt32](repeating: 0, count: 2 * n)
        PRNGKey(seed: Int64(n)).split(count: n, into: &keys)
        var obs = [Float](repeating: 0, count: n * os), state = [Float](repeating: 0, count: n * ss)
        var time = [Int32](repeating: 0, count: n)
        env.reset(count: n, keys: keys, observations: &obs, states: &state, times: &time)
        if let initialState { state = initialState }
        if let initialTime { time = initialTime }
        var mismatches = 0
        for step in 0..<steps {
            PRNGKey(seed: Int64(1000 + step)).split(count: n, into: &keys)
            var actions = [Float](repeating: 0, count: n * asz)
            switch env.actionSpace {
            case .discrete(let k):
                var ints = [Int32](repeating: 0, count: n)
                PRNGKey(seed: Int64(2000 + step)).randint(count: n, minval: 0, maxval: Int32(k), into: &ints)
                actions = ints.map { Float($0) }
            case .box(let box):
                PRNGKey(seed: Int64(2000 + step)).uniform(count: n * asz, minval: 2 * box.low[0],
                                                          maxval: 2 * box.high[0], into: &actions)
            }
            // Push a few environments to the time limit.
            if step == 1 { for i in stride(from: 0, to: n, by: 5) { time[i] = max(time[i], env.maxStepsInEpisode - 1) } }

            var bObs = obs, bState = state, bTime = time
            var reward = [Float](repeating: .nan, count: n), final = [Float](repeating: .nan, count: n * os)
            var done = [UInt8](repeating: 9, count: n), terminated = done, truncated = done
            if step % 2 == 0 {
                env.step(count: n, keys: keys, states: state, times: time, actions: actions,
                         observations: &bObs, nextStates: &bState, nextTimes: &bTime, rewards: &reward,
                         dones: &done, terminations: &terminated, truncations: &truncated,
                         finalObservations: &final)
            } else {
                bState.withUnsafeMutableBufferPointer { s in
                    bTime.withUnsafeMutableBufferPointer { t in
                        env.step(count: n, keys: keys, states: s.baseAddress!, times: t.baseAddress!,
                                 actions: actions, observations: &bObs, nextStates: s.baseAddress!,
                                 nextTimes: t.baseAddress!, rewards: &reward, dones: &done,
                                 terminations: &terminated, truncations: &truncated, finalObservations: &final)
                    }
                }
            }
            func reference<E: Environment>(_ e: E) {
                for i in 0..<n {
                    let t = e.step(key: PRNGKey(keys[2 * i], keys[2 * i + 1]),
                                   state: e.loadState(Array(state[(i * ss)..<((i + 1) * ss)]), time: time[i]),
                                   action: Array(actions[(i * asz)..<((i + 1) * asz)]))
                    let expected = (e.observation(of: t.state) + e.flatState(t.state) + e.observation(of: t.final)
                                    + [t.reward]).map(Self.bits)
                        + [UInt32(bitPattern: t.state.time), t.done ? 1 : 0, t.terminated ? 1 : 0, t.truncated ? 1 : 0]
                    let got = (Array(bObs[(i * os)..<((i + 1) * os)]) + Array(bState[(i * ss)..<((i + 1) * ss)])
                               + Array(final[(i * os)..<((i + 1) * os)]) + [reward[i]]).map(Self.bits)
                        + [UInt32(bitPattern: bTime[i]), UInt32(done[i]), UInt32(terminated[i]), UInt32(truncated[i])]
                    if got != expected {
                        mismatches += 1
                        if mismatches <= 3 {
                            XCTFail("\(label) step \(step) env \(i): state \(state[(i * ss)..<((i + 1) * ss)]) "
                                    + "time \(time[i]) action \(actions[(i * asz)..<((i + 1) * asz)])\n"
                                    + "expected \(expected)\n     got \(got)")
                        }
                    }
                }
            }
            reference(env.base)
            (obs, state, time) = (bObs, bState, bTime)
        }
        XCTAssertEqual(mismatches, 0, label)
    }
}

extension Environment {
    func loadState(_ values: [Float], time: Int32) -> State {
        values.withUnsafeBufferPointer { loadState($0.baseAddress!, time: time) }
    }
}
