import Foundation
import XCTest
@testable import SyntheticGymnax
@testable import SGXSupport
@testable import SGXRandom
@testable import SGXNN
@testable import SGXEnvironments
@testable import SGXAgents
@testable import SGXMetaLearning

/// DQN, SAC, DDPG and TD3: their loss gradients against finite differences,
/// learning on bandits, determinism, bad hyperparameters, policy files,
/// and the replay buffer.
final class OffPolicyAgentTests: XCTestCase {
    typealias Bandits = AgentTests

    /// Central finite differences of `loss` at `x`, in double precision.
    static func numericGradient(_ x: [Float], step: Double = 1e-3, _ loss: ([Double]) -> Double) -> [Double] {
        var g = [Double](repeating: 0, count: x.count)
        let base = x.map(Double.init)
        for i in 0..<x.count {
            var plus = base, minus = base
            plus[i] += step
            minus[i] -= step
            g[i] = (loss(plus) - loss(minus)) / (2 * step)
        }
        return g
    }

    static func assertClose(_ got: [Float], _ want: [Double], tolerance: Double = 2e-3,
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, file: file, line: line)
        for (i, (a, b)) in zip(got, want).enumerated() {
            XCTAssertEqual(Double(a), b, accuracy: tolerance * max(1, abs(b)), "element \(i)", file: file, line: line)
        }
    }

    // MARK: Gradients against finite differences

    func testDQNLossGradientPlainAndDueling() {
        let (rows, n) = (3, 4)
        let actions: [Float] = [0, 3, 2], targets: [Float] = [0.5, -1, 2]
        for dueling in [false, true] {
            let outputs = dueling ? n + 1 : n
            let x = NNTests.values(rows * outputs, seed: dueling ? 2 : 1)
            func q(_ out: [Double]) -> [Double] {
                guard dueling else { return out }
                var q = [Double](repeating: 0, count: rows * n)
                for r in 0..<rows {
                    let row = Array(out[(r * outputs)..<((r + 1) * outputs)])
                    let mean = row[1...].reduce(0, +) / Double(n)
                    for k in 0..<n { q[r * n + k] = row[0] + row[1 + k] - mean }
                }
                return q
            }
            let numeric = Self.numericGradient(x) { out in
                let values = q(out)
                return (0..<rows).reduce(0) { s, r in
                    let e = values[r * n + Int(actions[r])] - Double(targets[r])
                    return s + 0.5 * e * e / Double(rows)
                }
            }
            var qValues = [Float](repeating: 0, count: rows * n), gradient = [Float](repeating: 0, count: rows * outputs)
            DQN.qValues(rows: rows, n: n, dueling: dueling, x, into: &qValues)
            DQN.lossGradient(rows: rows, n: n, dueling: dueling, q: qValues, actions: actions, targets: targets, into: &gradient)
            Self.assertClose(gradient, numeric)
        }
    }

    func testSACDiscreteActorAndTemperatureGradients() {
        let (rows, n) = (4, 3)
        let logits = NNTests.values(rows * n, seed: 3)
        let q1 = NNTests.values(rows * n, seed: 4), q2 = NNTests.values(rows * n, seed: 5)
        let (alpha, targetEntropy): (Float, Float) = (0.7, 0.4)
        var logProbs = [Float](repeating: 0, count: rows * n), gradient = [Float](repeating: 0, count: rows * n)
        let alphaGradient = SAC.discreteActorGradient(rows: rows, n: n, logits: logits, q1: q1, q2: q2, alpha: alpha,
                                                      targetEntropy: targetEntropy, logProbs: &logProbs, into: &gradient)
        func logSoftmax(_ z: ArraySlice<Double>) -> [Double] {
            let m = z.max()!, s = z.reduce(0) { $0 + exp($1 - m) }
            return z.map { $0 - m - log(s) }
        }
        let numeric = Self.numericGradient(logits) { z in
            (0..<rows).reduce(0) { s, r in
                let lp = logSoftmax(z[(r * n)..<((r + 1) * n)])
                return s + (0..<n).reduce(0) { t, a in
                    t + exp(lp[a]) * (Double(alpha) * lp[a] - Double(min(q1[r * n + a], q2[r * n + a])))
                } / Double(rows)
            }
        }
        Self.assertClose(gradient, numeric)
        // d/d log α of −log α · mean_r Σ_a π_a (log π_a + H̄).
        let expected = -(0..<rows).reduce(0.0) { s, r in
            let lp = logSoftmax(logits[(r * n)..<((r + 1) * n)].map(Double.init)[...])
            return s + (0..<n).reduce(0) { $0 + exp(lp[$1]) * (lp[$1] + Double(targetEntropy)) }
        } / Double(rows)
        XCTAssertEqual(Double(alphaGradient), expected, accuracy: 1e-5)
    }

    /// The reparameterised squashed-Gaussian actor loss mean(α log π(a|s) − Q(a))
    /// with Q(a) = −Σ (a − c)², differentiated through the sample, the tanh,
    /// the box scaling and the log-std clip (one log std outside the range).
    func testSACSquashedActorGradient() {
        let (rows, d) = (3, 2)
        let box = BoxSpace(low: [-2, 0], high: [2, 1])
        var outputs = NNTests.values(rows * 2 * d, seed: 6)
        outputs[2] = 2.5  // row 0's first log std: clipped, so no gradient through it
        let eps = NNTests.values(rows * d, seed: 7), centre: [Float] = [0.3, 0.6]
        let alpha: Float = 0.4
        func loss(_ out: [Double]) -> Double {
            var total = 0.0
            for r in 0..<rows {
                var logProb = 0.0, q = 0.0
                for j in 0..<d {
                    let logStd = min(max(out[r * 2 * d + d + j], -10), 2)
                    let e = Double(eps[r * d + j])
                    let u = out[r * 2 * d + j] + exp(logStd) * e
                    let (loc, scale) = (Double(box.high[j] + box.low[j]) / 2, Double(box.high[j] - box.low[j]) / 2)
                    let a = loc + tanh(u) * scale
                    logProb += -0.5 * e * e - logStd - 0.5 * log(2 * Double.pi) - log(1 - tanh(u) * tanh(u))
                    q -= (a - Double(centre[j])) * (a - Double(centre[j]))
                }
                total += (Double(alpha) * logProb - q) / Double(rows)
            }
            return total
        }
        var actions = [Float](repeating: 0, count: rows * d), squashed = actions, logProb = [Float](repeating: 0, count: rows)
        SAC.squashedSample(rows: rows, outputs: outputs, noise: eps, box: box, actions: &actions, tanh: &squashed,
                           logProb: &logProb)
        // The log-probability itself, against the closed form.
        for r in 0..<rows {
            var want = 0.0
            for j in 0..<d {
                let logStd = min(max(Double(outputs[r * 2 * d + d + j]), -10), 2), e = Double(eps[r * d + j])
                let u = Double(outputs[r * 2 * d + j]) + exp(logStd) * e
                want += -0.5 * e * e - logStd - 0.5 * log(2 * Double.pi) - log(1 - tanh(u) * tanh(u))
            }
            XCTAssertEqual(Double(logProb[r]), want, accuracy: 1e-4)
        }
        // dL/da of −Q(a)/rows = 2 (a − c) / rows.
        var actionGradient = [Float](repeating: 0, count: rows * d)
        for r in 0..<rows { for j in 0..<d { actionGradient[r * d + j] = 2 * (actions[r * d + j] - centre[j]) / Float(rows) } }
        var gradient = [Float](repeating: 0, count: rows * 2 * d)
        SAC.squashedActorGradient(rows: rows, outputs: outputs, noise: eps, tanh: squashed, actionGradient: actionGradient,
                                  alpha: alpha, box: box, into: &gradient)
        Self.assertClose(gradient, Self.numericGradient(outputs, loss))
        XCTAssertEqual(gradient[2], 0)
    }

    func testSquashGradientOfDeterministicPolicies() {
        let box = BoxSpace(low: [-2, 0.5], high: [2, 1.5])
        let y = NNTests.values(6, seed: 8), w: [Float] = [0.3, -1.2, 0.7, 2, -0.4, 1]
        var a = [Float](repeating: 0, count: 6)
        ActionSampling.squash(rows: 3, y, into: &a, box: box)
        var gradient = w
        ActionSampling.squashGradient(rows: 3, actions: a, &gradient, box: box)
        let numeric = Self.numericGradient(y) { y in
            (0..<6).reduce(0) { s, i in
                let j = i % 2, loc = Double(box.high[j] + box.low[j]) / 2, scale = Double(box.high[j] - box.low[j]) / 2
                return s + Double(w[i]) * (loc + tanh(y[i]) * scale)
            }
        }
        Self.assertClose(gradient, numeric)
    }

    // MARK: Learning (always on)

    /// Every off-policy agent learns the bandits of AgentTests (discrete:
    /// optimum 0.80, random 0.40; continuous: optimum ≈ −0.01, initial ≈ −1.1).
    func testDQNAndSACLearnTheDiscreteBandit() throws {
        let env = try Bandits.discreteBandit()
        let common = ["activation": "tanh", "total_timesteps": "3000", "fill_buffer": "300", "batch_size": "64",
                      "buffer_size": "2000", "learning_rate": "0.003", "gamma": "0"]
        for (algorithm, extra) in [(Algorithm.dqn, ["num_envs": "4", "target_update_freq": "20", "exploration_fraction": "0.3"]),
                                   (.sac, ["num_envs": "4", "target_entropy_ratio": "0.3"])] {
            let result = try Agents.train(algorithm, on: env, hyperparameters: common.merging(extra) { $1 }, seed: 1)
            let trained = Bandits.mean(try result.policy.evaluate(on: env, episodes: 400, seed: 1))
            XCTAssertGreaterThan(trained, 0.72, "\(algorithm): optimum 0.80, random 0.40")
            XCTAssertEqual(result.environmentSteps, 3000)
            XCTAssertGreaterThan(result.updates, 0)
        }
    }

    func testSACDDPGAndTD3LearnTheContinuousBandit() throws {
        let env = try Bandits.continuousBandit()
        let common = ["activation": "tanh", "total_timesteps": "3000", "fill_buffer": "300", "batch_size": "64",
                      "buffer_size": "3000", "learning_rate": "0.003", "gamma": "0"]
        for algorithm in [Algorithm.sac, .ddpg, .td3] {
            var hp = common
            if algorithm == .td3 { hp["activation"] = nil; hp["agent_kwargs.activation"] = "tanh" }
            if algorithm == .sac { hp["num_envs"] = "2" }
            let result = try Agents.train(algorithm, on: env, hyperparameters: hp, seed: 2)
            let trained = Bandits.mean(try result.policy.evaluate(on: env, episodes: 400, seed: 1))
            XCTAssertGreaterThan(trained, -0.3, "\(algorithm): optimum about -0.01, initial about -1.1")
        }
    }

    // MARK: Determinism, errors, files

    func testSameSeedSameWeightsBitForBit() throws {
        let cartPole = try AnyEnvironment(id: "CartPole-v1"), pendulum = try AnyEnvironment(id: "Pendulum-v1")
        let short = ["total_timesteps": "400", "fill_buffer": "100", "batch_size": "16", "buffer_size": "300"]
        for (algorithm, env) in [(Algorithm.dqn, cartPole), (.sac, cartPole), (.sac, pendulum), (.ddpg, pendulum),
                                 (.td3, pendulum)] {
            var hp = short
            hp["normalize_observations"] = algorithm == .sac ? "1" : "0"
            let a = try Agents.train(algorithm, on: env, hyperparameters: hp, seed: 3)
            let b = try Agents.train(algorithm, on: env, hyperparameters: hp, seed: 3)
            let other = try Agents.train(algorithm, on: env, hyperparameters: hp, seed: 4)
            XCTAssertEqual(a.policy.parameters.map(\.bitPattern), b.policy.parameters.map(\.bitPattern), "\(algorithm)")
            XCTAssertNotEqual(a.policy.parameters, other.policy.parameters, "\(algorithm)")
            XCTAssertEqual(try a.policy.evaluate(on: env, episodes: 3, seed: 9, deterministic: false),
                           try b.policy.evaluate(on: env, episodes: 3, seed: 9, deterministic: false))
        }
    }

    func testBadHyperparametersAndEnvironmentsAreRejectedByName() throws {
        let cartPole = try AnyEnvironment(id: "CartPole-v1"), pendulum = try AnyEnvironment(id: "Pendulum-v1")
        func expect(_ algorithm: String, _ env: AnyEnvironment, _ hp: [String: String], mentions words: [String],
                    file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try Agents.train(algorithm, on: env, hyperparameters: hp), file: file, line: line) { error in
                let text = "\(error)"
                for w in words { XCTAssertTrue(text.contains(w), "'\(text)' does not mention \(w)", file: file, line: line) }
            }
        }
        expect("dqn", cartPole, ["learning_rate": "-0.01"], mentions: ["learning_rate", "-0.01"])
        expect("sac", cartPole, ["batch_size": "0"], mentions: ["batch_size", "at least 1"])
        expect("td3", pendulum, ["policy_delay": "0"], mentions: ["policy_delay"])
        expect("ddpg", pendulum, ["tau": "1.5"], mentions: ["tau"])
        expect("dqn", cartPole, ["agent": "ConvQNetwork"], mentions: ["agent", "ConvQNetwork", "DuelingQNetwork"])
        expect("sac", cartPole, ["learning_rat": "0.01"], mentions: ["learning_rat", "learning_rate"])
        expect("td3", pendulum, ["actor_kwargs.activation": "gelu_fast"], mentions: ["gelu_fast"])
        expect("dqn", cartPole, ["num_envs": "2.5"], mentions: ["num_envs", "integer"])
        expect("dqn", pendulum, [:], mentions: ["DQN", "Pendulum-v1", "continuous"])
        expect("td3", cartPole, [:], mentions: ["TD3", "CartPole-v1", "discrete"])
        expect("a2c", cartPole, [:], mentions: ["a2c", "ppo, dqn, sac, ddpg, td3"])
        // Each algorithm's full set of names round-trips.
        for algorithm in Algorithm.allCases {
            XCTAssertTrue(algorithm.hyperparameterNames.contains("learning_rate"))
            XCTAssertTrue(algorithm.hyperparameterNames.contains("env"), "upstream configs name their env")
        }
        XCTAssertEqual(try TD3.Configuration(["agent_kwargs.activation": "relu"]).criticActivation, .relu)
        XCTAssertEqual(try SAC.Configuration(["polyak": "0.9"]).tau, 0.9)
        let dqn = try DQN.Configuration(["agent": "DuelingQNetwork", "ddqn": "0", "eps_end": "0.1"])
        XCTAssertEqual(try DQN.Configuration(dqn.dictionary), dqn)
    }

    /// Every head saves and loads, and a policy refuses an environment it does not fit.
    func testPolicyFilesOfEveryHead() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sgx-offpolicy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let short = ["total_timesteps": "60", "fill_buffer": "20", "batch_size": "8", "buffer_size": "60"]
        let cases: [(Algorithm, String, [String: String], Policy.Head)] = [
            (.dqn, "CartPole-v1", [:], .qValues), (.dqn, "Acrobot-v1", ["agent": "DuelingQNetwork"], .duelingQValues),
            (.sac, "CartPole-v1", [:], .categorical), (.sac, "Pendulum-v1", ["normalize_observations": "1"], .squashedGaussian),
            (.ddpg, "MountainCarContinuous-v0", [:], .deterministic), (.td3, "Pendulum-v1", [:], .deterministic),
        ]
        for (algorithm, id, extra, head) in cases {
            let env = try AnyEnvironment(id: id)
            let policy = try Agents.train(algorithm, on: env, hyperparameters: short.merging(extra) { $1 }, seed: 5).policy
            XCTAssertEqual(policy.head, head)
            let path = dir.appendingPathComponent("\(algorithm)-\(id).safetensors").path
            try policy.save(to: path)
            let loaded = try Policy(contentsOf: path)
            XCTAssertEqual(loaded, policy)
            let obs = NNTests.values(7 * env.observationSize, seed: 9)
            for deterministic in [true, false] {
                XCTAssertEqual(loaded.act(obs, deterministic: deterministic, key: PRNGKey(seed: 2)),
                               policy.act(obs, deterministic: deterministic, key: PRNGKey(seed: 2)))
            }
            let actions = policy.act(obs, deterministic: false, key: PRNGKey(seed: 3))
            switch env.actionSpace {
            case .discrete(let n): XCTAssertTrue(actions.allSatisfy { $0 >= 0 && $0 < Float(n) && $0 == $0.rounded() })
            case .box(let box):
                for (i, a) in actions.enumerated() { XCTAssertTrue((box.low[i % box.size]...box.high[i % box.size]).contains(a)) }
            }
            let meta = try Safetensors.read(path: path).metadata
            XCTAssertEqual(meta["algorithm"], algorithm.rawValue)
            XCTAssertEqual(meta["head"], head.rawValue)
        }
        let dqn = try Agents.train(.dqn, on: try AnyEnvironment(id: "CartPole-v1"), hyperparameters: short).policy
        XCTAssertThrowsError(try dqn.evaluate(on: try AnyEnvironment(id: "Acrobot-v1"), episodes: 2)) {
            XCTAssertTrue("\($0)".contains("does not fit Acrobot-v1"), "\($0)")
        }
        XCTAssertThrowsError(try dqn.evaluate(on: try AnyEnvironment(id: "CartPole-v1"), episodes: 0)) {
            XCTAssertTrue("\($0)".contains("episodes"), "\($0)")
        }
    }

    func testReplayBufferWrapsAndSamplesStoredTransitions() {
        let buffer = ReplayBuffer(capacity: 5, observationSize: 2, actionSize: 1)
        for step in 0..<4 {
            let obs: [Float] = [Float(step), 0, Float(step), 1], next = obs.map { $0 + 100 }
            buffer.extend(rows: 2, observations: obs, actions: [Float(step), Float(step)], rewards: [Float(step), -Float(step)],
                          dones: [0, 1], nextObservations: next)
            XCTAssertEqual(buffer.count, min(5, 2 * (step + 1)))
        }
        // 8 rows into 5 slots: slots hold steps 2, 3, 3 (wrapped) and 1, 2.
        XCTAssertEqual(Array(UnsafeBufferPointer(start: buffer.rewards.p, count: 5)), [-2, 3, -3, -1, 2])
        let batch = Minibatch(size: 64, observationSize: 2, actionSize: 1)
        buffer.sample(into: batch, key: PRNGKey(seed: 0))
        var seen = Set<Float>()
        for r in 0..<64 {
            let reward = batch.rewards.p[r]
            XCTAssertTrue([-2, 3, -3, -1, 2].contains(reward))
            XCTAssertEqual(batch.nextObservations.p[2 * r], batch.observations.p[2 * r] + 100)
            XCTAssertEqual(batch.dones.p[r], reward < 0 ? 1 : 0)
            seen.insert(reward)
        }
        XCTAssertEqual(seen.count, 5, "every stored transition is drawn eventually")
    }

    func testLinearScheduleAsOptax() {
        XCTAssertEqual(linearSchedule(init: 1, end: 0.05, steps: 100, at: 0), 1)
        XCTAssertEqual(linearSchedule(init: 1, end: 0.05, steps: 100, at: 50), 0.525, accuracy: 1e-6)
        XCTAssertEqual(linearSchedule(init: 1, end: 0.05, steps: 100, at: 500), 0.05, accuracy: 1e-7)
        XCTAssertEqual(linearSchedule(init: 1, end: 0.05, steps: 0, at: 500), 1)
    }
}
