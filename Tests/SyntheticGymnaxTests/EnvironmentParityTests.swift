import XCTest
@testable import SyntheticGymnax
@testable import SGXSupport
@testable import SGXNN
@testable import SGXEnvironments
@testable import SGXAgents
@testable import SGXMetaLearning

/// Every environment against gymnax 0.0.9 (fixtures env_<id>.json): spaces,
/// default parameters, reset (bit-exact: pure PRNG) and step with auto-reset
/// (next state, observation, reward within 1e-6 relative; done and time exact).
final class EnvironmentParityTests: XCTestCase {
    func testCartPole() throws { try checkParity("CartPole-v1") }
    func testAcrobot() throws { try checkParity("Acrobot-v1") }
    func testMountainCar() throws { try checkParity("MountainCar-v0") }
    func testMountainCarContinuous() throws { try checkParity("MountainCarContinuous-v0") }
    func testPendulum() throws { try checkParity("Pendulum-v1") }

    /// Converts a fixture's parameter overrides to ours (arrays element-wise).
    static func overrides(_ params: [String: Any]) -> [(name: String, value: Double)] {
        params.sorted { $0.key < $1.key }.flatMap { name, value -> [(name: String, value: Double)] in
            if let array = value as? [NSNumber] {
                return array.enumerated().map { ("\(name)[\($0.offset)]", $0.element.doubleValue) }
            }
            return [(name, (value as! NSNumber).doubleValue)]
        }
    }

    /// Equal within 1e-6 relative, with an absolute floor of 1e-7 for values
    /// near zero that are differences of larger terms.
    static func close(_ a: Float, _ b: Float) -> Bool {
        a == b || abs(a - b) <= 1e-6 * max(abs(a), abs(b)) + 1e-7
    }

    func checkParity(_ id: String) throws {
        let fixture = try Fixture.load("env_\(id)")
        let defaults = try AnyEnvironment(id: id)
        XCTAssertEqual(defaults.name, id)

        // Default parameters: every gymnax field, same values.
        let ours = Dictionary(uniqueKeysWithValues: defaults.parameters.map { ($0.name, $0.value) })
        // (Foundation's JSON parser may be off in the last bit of a double.)
        for (name, value) in Self.overrides(fixture.dict("default_params")) {
            XCTAssertEqual(try XCTUnwrap(ours[name], "\(id) lacks \(name)"), value,
                           accuracy: abs(value) * 1e-15, "\(id) default \(name)")
        }
        XCTAssertEqual(ours.count, Self.overrides(fixture.dict("default_params")).count)

        // Spaces.
        XCTAssertEqual(defaults.observationSpace.low.map(\.bitPattern), fixture.uint32s("obs_low"))
        XCTAssertEqual(defaults.observationSpace.high.map(\.bitPattern), fixture.uint32s("obs_high"))
        let action = fixture.dict("action")
        switch defaults.actionSpace {
        case .discrete(let n):
            XCTAssertEqual(action["kind"] as? String, "discrete")
            XCTAssertEqual(n, action.int("n"))
        case .box(let box):
            XCTAssertEqual(action["kind"] as? String, "box")
            XCTAssertEqual(box.low.map(\.bitPattern), action.uint32s("low"))
            XCTAssertEqual(box.high.map(\.bitPattern), action.uint32s("high"))
        }

        var steps = 0, exact = 0, dones = 0
        var worst: Float = 0
        for c in fixture.records("cases") {
            let env = try AnyEnvironment(id: id, parameters: Self.overrides(c.dict("params")))
            let stateSize = env.stateSize, obsSize = env.observationSize
            for r in c.records("reset") {
                var obs = [Float](repeating: .nan, count: obsSize)
                var state = [Float](repeating: .nan, count: stateSize)
                var time: Int32 = -1
                env.reset(count: 1, keys: r.uint32s("key"), observations: &obs, states: &state, times: &time)
                XCTAssertEqual(obs.map(\.bitPattern), r.uint32s("obs"), "\(id) reset obs")
                XCTAssertEqual(state.map(\.bitPattern), r.uint32s("state"), "\(id) reset state")
                XCTAssertEqual(Int(time), r.int("time"))
            }
            for r in c.records("step") {
                let action: [Float] = env.actionSpace.isDiscrete
                    ? [Float(r.int("action"))] : r.floats("action")
                var obs = [Float](repeating: .nan, count: obsSize)
                var next = [Float](repeating: .nan, count: stateSize)
                var time: Int32 = -1
                var reward: Float = .nan
                var done: UInt8 = 9, truncated: UInt8 = 9
                env.step(count: 1, keys: r.uint32s("key"), states: r.floats("state"),
                         times: [Int32(r.int("time"))], actions: action, observations: &obs,
                         nextStates: &next, nextTimes: &time, rewards: &reward, dones: &done,
                         truncations: &truncated)
                let context = "\(id) \(c.dict("params")) state \(r.floats("state")) t=\(r.int("time")) a=\(action)"
                XCTAssertEqual(Int(done), r.int("done"), "done: " + context)
                XCTAssertEqual(Int(time), r.int("next_time"), "time: " + context)
                let expected = r.floats("next_state") + r.floats("obs") + [r.float("reward")]
                let got = next + obs + [reward]
                for (g, e) in zip(got, expected) {
                    XCTAssertTrue(Self.close(g, e), "\(g) != \(e): " + context)
                    if g != e { worst = max(worst, abs(g - e) / max(abs(e), 1e-30)) }
                }
                exact += got.map(\.bitPattern) == expected.map(\.bitPattern) ? 1 : 0
                // Truncation: done with the time limit reached, not terminal before it.
                if done == 1 {
                    dones += 1
                    let limit = r.int("time") + 1 >= Int(env.maxStepsInEpisode)
                    if !limit { XCTAssertEqual(truncated, 0, context) }
                }
                steps += 1
            }
        }
        XCTAssertGreaterThan(steps, 100)
        XCTAssertGreaterThan(dones, 5)
        print("\(id): \(exact)/\(steps) steps bit-exact, \(dones) episode ends, worst relative difference \(worst)")
    }
}
