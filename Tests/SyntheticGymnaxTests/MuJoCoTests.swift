import Foundation
import XCTest
@testable import SyntheticGymnax
@testable import SGXSupport
@testable import SGXRandom
@testable import SGXNN
@testable import SGXEnvironments
@testable import SGXAgents
@testable import SGXMetaLearning

/// The MuJoCo locomotion tasks (Sources/SGXEnvironments/MuJoCo/): sizes, resets, the
/// observation layouts, batching, a random policy's episodes, instability and
/// errors. Needs MuJoCo 2.2.2's library (libmujoco2.2.2).
final class MuJoCoTests: XCTestCase {
    static let sizes: [(id: String, observation: Int, action: Int)] = [
        ("hopper", 11, 3), ("walker2d", 17, 6), ("halfcheetah", 17, 6), ("swimmer", 8, 2),
        ("humanoidstandup", 244, 17),
    ]

    /// Random actions in [-1, 1] for `count` environments.
    static func randomActions(_ key: PRNGKey, count: Int, size: Int) -> [Float] {
        key.uniform(count: count * size, minval: -1, maxval: 1)
    }

    func testSpacesAndStateLayout() throws {
        for (id, obs, act) in Self.sizes {
            let env = try AnyEnvironment(id: id)
            XCTAssertEqual(env.name, id)
            XCTAssertEqual(env.observationSize, obs, id)
            XCTAssertEqual(env.observationSpace.size, obs, id)
            XCTAssertEqual(env.actionSpace, .box(BoxSpace(low: .init(repeating: -1, count: act),
                                                          high: .init(repeating: 1, count: act))), id)
            XCTAssertEqual(env.maxStepsInEpisode, 1000, id)
            let names = env.stateFields.map(\.name)
            XCTAssertEqual(names, id == "humanoidstandup" ? ["qpos", "qvel", "ctrl", "unstable"]
                                                         : ["qpos", "qvel", "unstable"], id)
            XCTAssertTrue(env.stateFields.last!.isBool)
            // The synthetic environments take these spaces; Brax's table agrees.
            let spaces = try SyntheticEnvironment.realSpaces(id)
            XCTAssertEqual(spaces.observation, env.observationSpace, id)
            XCTAssertEqual(spaces.action, env.actionSpace, id)
            XCTAssertEqual(SyntheticEnvironment.braxSizes[id]!.observation, obs)
            XCTAssertEqual(SyntheticEnvironment.braxSizes[id]!.action, act)
            XCTAssertTrue(AnyEnvironment.realIDs.contains(id))
            XCTAssertTrue(AnyEnvironment.syntheticIDs.contains("Synthetic-" + id))
        }
        let hopper = try Hopper()
        XCTAssertEqual([hopper.simulation.nq, hopper.simulation.nv, hopper.stateSize], [6, 6, 13])
        XCTAssertEqual(hopper.dt, Float(0.002) * 4)
        let humanoid = try HumanoidStandup()
        XCTAssertEqual([humanoid.simulation.nq, humanoid.simulation.nv, humanoid.stateSize], [24, 23, 24 + 23 + 17 + 1])
        XCTAssertEqual(try HalfCheetah().dt, Float(0.01) * 5)
        XCTAssertEqual(try Swimmer().dt, Float(0.01) * 4)
        XCTAssertEqual(humanoid.dt, Float(0.003) * 5)
    }

    func testParametersAndErrors() throws {
        // An array parameter is given whole; its unbounded end may be infinite.
        let env = try AnyEnvironment(id: "hopper", parameters: [("ctrl_cost_weight", 0.5), ("n_frames", 2),
                                                                ("healthy_z_range[0]", 0.5),
                                                                ("healthy_z_range[1]", .infinity)])
        let values = Dictionary(uniqueKeysWithValues: env.parameters.map { ($0.name, $0.value) })
        XCTAssertEqual(values["ctrl_cost_weight"], 0.5)
        XCTAssertEqual(values["n_frames"], 2)
        XCTAssertEqual(values["healthy_z_range[0]"], 0.5)
        XCTAssertEqual(values["healthy_z_range[1]"], .infinity)
        XCTAssertEqual(values["max_steps_in_episode"], 1000)
        XCTAssertThrowsError(try AnyEnvironment(id: "hopper", parameters: [("n_frames", 0)])) {
            XCTAssertEqual($0 as? EnvironmentError, .invalidParameter(name: "n_frames", reason: "must be at least 1, got 0"))
        }
        XCTAssertThrowsError(try AnyEnvironment(id: "walker2d", parameters: [("terminate_when_unhealthy", 2)]))
        XCTAssertThrowsError(try AnyEnvironment(id: "swimmer", parameters: [("gravity", 1)])) {
            guard case .unknownParameter = $0 as? EnvironmentError else { return XCTFail("\($0)") }
        }
    }

    /// The embedded models are the files in Models/.
    func testEmbeddedModelsEqualTheFiles() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/SGXEnvironments/MuJoCo/Models")
        let embedded = ["hopper": MuJoCoModels.hopper, "walker2d": MuJoCoModels.walker2d,
                        "halfcheetah": MuJoCoModels.halfcheetah, "swimmer": MuJoCoModels.swimmer,
                        "humanoidstandup": MuJoCoModels.humanoidstandup]
        for (name, xml) in embedded {
            let file = try String(contentsOf: directory.appendingPathComponent(name + ".xml"), encoding: .utf8)
            XCTAssertEqual(xml + "\n", file, "\(name): run Models/embed.py")
        }
    }

    /// Resets are deterministic, follow Brax's noise exactly and give the
    /// documented observations.
    func testResets() throws {
        let key = PRNGKey(seed: 42)
        let hopper = try Hopper()
        let s = hopper.resetEnv(key: key)
        XCTAssertEqual(s, hopper.resetEnv(key: key))
        XCTAssertNotEqual(s, hopper.resetEnv(key: PRNGKey(seed: 43)))
        for j in 0..<6 {
            XCTAssertEqual(s.qpos[j], key.split(index: 1).uniform(at: j, minval: -0.005, maxval: 0.005))
            XCTAssertEqual(s.qvel[j], key.split(index: 2).uniform(at: j, minval: -0.005, maxval: 0.005))
        }
        XCTAssertFalse(s.unstable)
        let obs = hopper.observation(of: s)
        XCTAssertEqual(obs[0], 1.25 + s.qpos[1])
        XCTAssertEqual(Array(obs[1..<5]), Array(s.qpos[2..<6]))
        XCTAssertEqual(Array(obs[5...]), s.qvel)

        let cheetah = try HalfCheetah()
        let c = cheetah.resetEnv(key: key)
        for j in 0..<9 {
            XCTAssertEqual(c.qpos[j], key.split(index: 1).uniform(at: j, minval: -0.1, maxval: 0.1))
            XCTAssertEqual(c.qvel[j], 0.1 * key.split(index: 2).normal(at: j))
        }
        XCTAssertEqual(cheetah.observation(of: c), Array(c.qpos[1...]) + c.qvel)

        let swimmer = try Swimmer()
        let w = swimmer.resetEnv(key: key)
        XCTAssertEqual(swimmer.observation(of: w), Array(w.qpos[2...]) + w.qvel)

        // Batched resets equal single ones, for every environment.
        for (id, _, _) in Self.sizes {
            let env = try AnyEnvironment(id: id)
            let n = 37
            var keys = [UInt32](repeating: 0, count: 2 * n)
            key.split(count: n, into: &keys)
            var obs = [Float](repeating: 0, count: n * env.observationSize)
            var states = [Float](repeating: 0, count: n * env.stateSize), times = [Int32](repeating: 7, count: n)
            env.reset(count: n, keys: keys, observations: &obs, states: &states, times: &times)
            var obs2 = obs, states2 = states, times2 = times
            env.reset(count: n, keys: keys, observations: &obs2, states: &states2, times: &times2)
            XCTAssertEqual(obs, obs2, id)
            XCTAssertEqual(states, states2, id)
            XCTAssertEqual(times, [Int32](repeating: 0, count: n))
            func check<E: Environment>(_ e: E) {
                for i in [0, 5, 36] {
                    let state = e.resetEnv(key: PRNGKey(keys[2 * i], keys[2 * i + 1]))
                    XCTAssertEqual(e.flatState(state), Array(states[(i * e.stateSize)..<((i + 1) * e.stateSize)]), id)
                    XCTAssertEqual(e.observation(of: state),
                                   Array(obs[(i * e.observationSize)..<((i + 1) * e.observationSize)]), id)
                }
            }
            if let e = env.base as? any MuJoCoLocomotion { check(e) } else { XCTFail(id) }
        }
    }

    /// humanoidstandup's 244 values: qpos[2...], qvel, com inertia, com
    /// velocity, actuator forces.
    func testHumanoidObservation() throws {
        let env = try HumanoidStandup()
        let s = env.resetEnv(key: PRNGKey(seed: 1))
        let obs = env.observation(of: s)
        XCTAssertEqual(obs.count, 244)
        XCTAssertEqual(Array(obs[0..<22]), Array(s.qpos[2...]))
        XCTAssertEqual(Array(obs[22..<45]), s.qvel)
        // Masses of the 11 bodies: 40 kg or so in all; inertia tensors symmetric, positive diagonal.
        let masses = (0..<11).map { obs[45 + 10 * $0 + 9] }
        XCTAssertEqual(masses.reduce(0, +), 42.1, accuracy: 0.5)
        for b in 0..<11 {
            let i = Array(obs[(45 + 10 * b)..<(45 + 10 * b + 9)])
            XCTAssertEqual(i[1], i[3], accuracy: 1e-5)
            XCTAssertEqual(i[2], i[6], accuracy: 1e-5)
            XCTAssertEqual(i[5], i[7], accuracy: 1e-5)
            XCTAssertGreaterThan(i[0], 0)
        }
        // At rest after a reset the centre-of-mass velocities are small.
        for v in obs[155..<221] { XCTAssertLessThan(abs(v), 0.2) }
        XCTAssertEqual(Array(obs[221...]), [Float](repeating: 0, count: 23))
        // After a step: forces gear * 0.4 * a on the joints' degrees of freedom.
        let action = (0..<17).map { Float($0 % 5) / 4 - 0.5 }
        let t = env.step(key: PRNGKey(seed: 2), state: s, action: action)
        XCTAssertFalse(t.done)
        let after = env.observation(of: t.state)
        let gears: [Float] = [100, 100, 100, 100, 100, 300, 200, 100, 100, 300, 200, 25, 25, 25, 25, 25, 25]
        // Actuator order vs joint order: abdomen_y drives dof 7, abdomen_z dof 6.
        let dofs = [7, 6] + Array(8..<23)
        for k in 0..<17 {
            XCTAssertEqual(after[221 + dofs[k]], gears[k] * ((action[k] + 1) * 0.8 * 0.5 - 0.4), accuracy: 1e-4)
        }
        XCTAssertEqual(Array(after[221..<227]), [Float](repeating: 0, count: 6))
        // Reward: z / dt + 1 - 0.01 sum(ctrl²).
        let ctrl = action.map { ($0 + 1) * 0.8 * 0.5 - 0.4 }
        XCTAssertEqual(t.reward, t.state.qpos[2] / 0.015 + 1 - 0.01 * ctrl.map { $0 * $0 }.reduce(0, +), accuracy: 1e-3)
    }

    /// A batch stepped in parallel equals each environment stepped alone
    /// (Swift single-state API), in place or not.
    func testBatchEqualsSingle() throws {
        for (id, _, act) in Self.sizes {
            let env = try AnyEnvironment(id: id)
            let n = 300, ss = env.stateSize, os = env.observationSize
            var keys = [UInt32](repeating: 0, count: 2 * n)
            PRNGKey(seed: 9).split(count: n, into: &keys)
            var obs = [Float](repeating: 0, count: n * os), states = [Float](repeating: 0, count: n * ss)
            var times = [Int32](repeating: 0, count: n)
            env.reset(count: n, keys: keys, observations: &obs, states: &states, times: &times)
            for i in stride(from: 0, to: n, by: 5) { times[i] = 999 }
            var key = PRNGKey(seed: 10)
            for round in 0..<3 {
                PRNGKey(seed: 11).foldIn(UInt32(round)).split(count: n, into: &keys)
                let actions = Self.randomActions(key.foldIn(UInt32(round)), count: n, size: act)
                var nObs = obs, nStates = states, nTimes = times, rewards = [Float](repeating: 0, count: n)
                var dones = [UInt8](repeating: 0, count: n), terms = dones, truncs = dones, final = obs
                env.step(count: n, keys: keys, states: states, times: times, actions: actions,
                         observations: &nObs, nextStates: &nStates, nextTimes: &nTimes, rewards: &rewards,
                         dones: &dones, terminations: &terms, truncations: &truncs, finalObservations: &final)
                func check<E: MuJoCoLocomotion>(_ e: E) {
                    for i in stride(from: 0, to: n, by: 13) {
                        let state = e.loadState(Array(states[(i * ss)..<((i + 1) * ss)]), time: times[i])
                        let t = e.step(key: PRNGKey(keys[2 * i], keys[2 * i + 1]), state: state,
                                       action: Array(actions[(i * act)..<((i + 1) * act)]))
                        XCTAssertEqual(e.flatState(t.state), Array(nStates[(i * ss)..<((i + 1) * ss)]), id)
                        XCTAssertEqual(t.state.time, nTimes[i], id)
                        XCTAssertEqual(t.reward, rewards[i], id)
                        XCTAssertEqual(t.terminated, terms[i] == 1, id)
                        XCTAssertEqual(t.truncated, truncs[i] == 1, id)
                        XCTAssertEqual(e.observation(of: t.state), Array(nObs[(i * os)..<((i + 1) * os)]), id)
                        XCTAssertEqual(e.observation(of: t.final), Array(final[(i * os)..<((i + 1) * os)]), id)
                    }
                }
                if let e = env.base as? any MuJoCoLocomotion { check(e) } else { XCTFail(id) }
                XCTAssertTrue(truncs.enumerated().allSatisfy { $0.element == (round == 0 && $0.offset % 5 == 0 ? 1 : 0) }, id)
                // In place.
                var iStates = states, iTimes = times, iObs = obs, iRewards = rewards, iDones = dones
                iStates.withUnsafeMutableBufferPointer { s in
                    iTimes.withUnsafeMutableBufferPointer { t in
                        env.step(count: n, keys: keys, states: s.baseAddress!, times: t.baseAddress!, actions: actions,
                                 observations: &iObs, nextStates: s.baseAddress!, nextTimes: t.baseAddress!,
                                 rewards: &iRewards, dones: &iDones)
                    }
                }
                XCTAssertEqual(iStates, nStates, id)
                XCTAssertEqual(iObs, nObs, id)
                XCTAssertEqual(iRewards, rewards, id)
                (obs, states, times) = (nObs, nStates, nTimes)
                key = key.foldIn(7)
            }
        }
    }

    /// Episodes of a uniformly random policy: returns and lengths.
    static func randomEpisodes(_ id: String, envs n: Int = 64, steps: Int = 1000)
        throws -> (returns: [Float], lengths: [Int32], unstable: Int, observationMagnitude: Float)
    {
        let env = try AnyEnvironment(id: id)
        let vec = try VectorEnvironment(env, count: n, seed: 0)
        let act = env.actionSpace.size, os = env.observationSize
        var obs = [Float](repeating: 0, count: n * os)
        vec.reset(observations: &obs)
        var returns: [Float] = [], lengths: [Int32] = []
        var running = [Float](repeating: 0, count: n), length = [Int32](repeating: 0, count: n)
        var rewards = [Float](repeating: 0, count: n), terms = [UInt8](repeating: 0, count: n), truncs = terms
        var magnitude: Float = 0
        for t in 0..<steps {
            let actions = randomActions(PRNGKey(seed: 77).foldIn(UInt32(t)), count: n, size: act)
            vec.step(actions: actions, observations: &obs, rewards: &rewards, terminations: &terms,
                     truncations: &truncs, finalObservations: nil)
            magnitude = max(magnitude, obs.map(abs).max()!)
            for i in 0..<n {
                running[i] += rewards[i]
                length[i] += 1
                if terms[i] == 1 || truncs[i] == 1 {
                    returns.append(running[i])
                    lengths.append(length[i])
                    (running[i], length[i]) = (0, 0)
                }
            }
        }
        return (returns, lengths, 0, magnitude)
    }

    func testRandomPolicyEpisodes() throws {
        var report: [String] = []
        for (id, _, _) in Self.sizes {
            let n = id == "humanoidstandup" ? 16 : 64
            let (returns, lengths, _, magnitude) = try Self.randomEpisodes(id, envs: n)
            XCTAssertTrue(returns.allSatisfy(\.isFinite), id)
            XCTAssertTrue(magnitude.isFinite, id)
            let meanReturn = returns.reduce(0, +) / Float(returns.count)
            let meanLength = Float(lengths.reduce(0, +)) / Float(lengths.count)
            report.append(String(format: "%@: %d episodes, mean return %.1f (min %.1f, max %.1f), mean length %.1f",
                                 id, returns.count, meanReturn, returns.min()!, returns.max()!, meanLength))
            switch id {
            case "hopper":
                // A random hopper falls within tens of steps; reward ~1 per step.
                XCTAssertLessThan(meanLength, 200, id)
                XCTAssertGreaterThan(meanLength, 5, id)
                XCTAssertEqual(meanReturn / meanLength, 1, accuracy: 0.5, id)
            case "walker2d":
                XCTAssertLessThan(meanLength, 300, id)
                XCTAssertGreaterThan(meanLength, 5, id)
            case "halfcheetah", "swimmer", "humanoidstandup":
                // Never terminates: every episode runs the full 1000 steps.
                XCTAssertEqual(Set(lengths), [1000], id)
                XCTAssertEqual(returns.count, n, id)
                if id == "halfcheetah" {
                    // Control cost 0.1 * 6 * E[a²] = 0.2 per step, forward progress near 0.
                    XCTAssertLessThan(meanReturn, 0, id)
                    XCTAssertGreaterThan(meanReturn, -800, id)
                }
                if id == "swimmer" { XCTAssertLessThan(abs(meanReturn), 50, id) }
                if id == "humanoidstandup" {
                    // z / dt + 1 per step with z ~ 0.1 m lying down: several thousand per episode.
                    XCTAssertGreaterThan(meanReturn, 3000, id)
                    XCTAssertLessThan(meanReturn, 100_000, id)
                }
            default: XCTFail(id)
            }
        }
        print("Random-policy episodes:\n  " + report.joined(separator: "\n  "))
    }

    /// A simulation that goes unstable (here: velocities of 1e12, which
    /// MuJoCo flags; or NaN in the state) ends the episode with reward 0;
    /// the auto-reset state carries `unstable = 1`, and the next step clears it.
    func testUnstableSimulationEndsTheEpisode() throws {
        for (id, _, act) in Self.sizes {
            let env = try AnyEnvironment(id: id)
            let n = 4, ss = env.stateSize, os = env.observationSize
            let unstable = env.stateFields.first { $0.name == "unstable" }!.offset
            let qvel = env.stateFields.first { $0.name == "qvel" }!
            var keys = [UInt32](repeating: 0, count: 2 * n)
            PRNGKey(seed: 5).split(count: n, into: &keys)
            var obs = [Float](repeating: 0, count: n * os), states = [Float](repeating: 0, count: n * ss)
            var times = [Int32](repeating: 0, count: n)
            env.reset(count: n, keys: keys, observations: &obs, states: &states, times: &times)
            times = [10, 10, 10, 10]
            states[1 * ss + qvel.offset] = 1e12
            states[2 * ss + 0] = .nan
            states[3 * ss + qvel.offset + 1] = .infinity
            let actions = [Float](repeating: 0.3, count: n * act)
            var rewards = [Float](repeating: 0, count: n), dones = [UInt8](repeating: 0, count: n), terms = dones
            var final = obs
            env.step(count: n, keys: keys, states: states, times: times, actions: actions,
                     observations: &obs, nextStates: &states, nextTimes: &times, rewards: &rewards,
                     dones: &dones, terminations: &terms, finalObservations: &final)
            XCTAssertEqual(states[unstable], 0, id)
            XCTAssertEqual(times[0], 11, id)
            for i in 1..<n {
                XCTAssertEqual(terms[i], 1, "\(id) \(i)")
                XCTAssertEqual(rewards[i], 0, "\(id) \(i)")
                XCTAssertEqual(times[i], 0, "\(id) \(i)")
                XCTAssertEqual(states[i * ss + unstable], 1, "\(id) \(i)")
            }
            XCTAssertTrue(states.allSatisfy(\.isFinite), id)
            XCTAssertTrue(obs.allSatisfy(\.isFinite), id)
            XCTAssertTrue(final[(2 * os)..<(3 * os)].allSatisfy(\.isFinite), id)  // the initial state, not NaN
            // The next step clears the flag.
            env.step(count: n, keys: keys, states: states, times: times, actions: actions,
                     observations: &obs, nextStates: &states, nextTimes: &times, rewards: &rewards, dones: &dones)
            for i in 0..<n { XCTAssertEqual(states[i * ss + unstable], 0, id) }
        }
        // The single-state API flags the final state and the reset one.
        let hopper = try Hopper()
        var s = hopper.resetEnv(key: PRNGKey(seed: 0))
        s.qvel[0] = 1e12
        let t = hopper.step(key: PRNGKey(seed: 1), state: s, action: [0, 0, 0])
        XCTAssertTrue(t.terminated && t.final.unstable && t.state.unstable)
        XCTAssertEqual(t.reward, 0)
        // A NaN action through the Swift API is an unstable step too (the C ABI rejects it).
        let u = hopper.step(key: PRNGKey(seed: 1), state: hopper.resetEnv(key: PRNGKey(seed: 0)), action: [.nan, 0, 0])
        XCTAssertTrue(u.terminated && u.final.unstable)
    }

    /// Without MuJoCo's library, creating a MuJoCo environment throws a clear
    /// error (checked in a child process started with SGX_MUJOCO_LIBRARY
    /// pointing nowhere); other environments still work.
    func testMissingLibraryIsAnErrorAtCreation() throws {
        if let path = ProcessInfo.processInfo.environment["SGX_MUJOCO_LIBRARY"] {
            XCTAssertThrowsError(try AnyEnvironment(id: "hopper")) { error in
                guard case .io(let library, let reason) = error as? EnvironmentError else { return XCTFail("\(error)") }
                XCTAssertEqual(library, path)
                XCTAssertTrue(reason.contains("MuJoCo 2.2.2 is not available"), reason)
                XCTAssertTrue(reason.contains("apt-get install libmujoco-dev"), reason)
            }
            XCTAssertNoThrow(try AnyEnvironment(id: "CartPole-v1"))
            // Synthetic environments of the MuJoCo tasks still get their spaces.
            XCTAssertEqual(try SyntheticEnvironment.realSpaces("hopper").observation.size, 11)
            return
        }
        #if os(Linux)
        let child = Process()
        child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        child.arguments = ["SyntheticGymnaxTests.MuJoCoTests/testMissingLibraryIsAnErrorAtCreation"]
        child.environment = ProcessInfo.processInfo.environment.merging(
            ["SGX_MUJOCO_LIBRARY": "/nonexistent/libmujoco.so.2.2.2"]) { $1 }
        let output = Pipe()
        child.standardOutput = output
        child.standardError = output
        try child.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        child.waitUntilExit()
        XCTAssertEqual(child.terminationStatus, 0, text)
        XCTAssertTrue(text.contains("Executed 1 test"), text)
        #endif
    }
}
