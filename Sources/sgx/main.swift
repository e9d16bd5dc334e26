import Foundation
import SyntheticGymnax

// sgx: the command-line front of the library.
//
//   sgx rollout [--env ID] [--envs N] [--steps T] [--seed S]
//       Steps N environments T times with uniformly random actions (JAX keys,
//       gymnax auto-reset) and reports episode returns and throughput.
//   sgx train --algo ALGO --env ID [--checkpoint PATH] [--eval-env ID] [--seed S]
//             [--steps T] [--episodes E] [--hparams name=value,...] [--save PATH]
//       Trains an agent on an environment (a synthetic one needs --checkpoint),
//       evaluates it on the real one with deterministic actions and reports
//       the returns and the wall times.
//   sgx list
//       Prints the registered environment ids.
//
// Meta-training and the paper's evaluation have one front end, the Python
// package's (`python -m synthetic_gymnax_swift metalearn|evaluate`: progress
// bar, Ray backend, JSON); sgx says so when asked for them.

let usage = """
    usage: sgx rollout [--env ID] [--envs N] [--steps T] [--seed S]
           sgx train --algo ppo|dqn|sac|ddpg|td3 --env ID [--checkpoint PATH] [--eval-env ID] [--seed S]
                     [--steps T] [--episodes E] [--hparams name=value,...] [--save PATH]
           sgx list
    meta-training and the paper's evaluation: python -m synthetic_gymnax_swift metalearn|evaluate
    """

func fail(_ message: String) -> Never {
    FileHandle.standardError.write((message + "\n").data(using: .utf8)!)
    exit(2)
}

/// Parses `--name value` pairs after the subcommand.
func options(_ args: ArraySlice<String>, allowed: Set<String>) -> [String: String] {
    var result: [String: String] = [:]
    var rest = args
    while let flag = rest.popFirst() {
        guard flag.hasPrefix("--"), allowed.contains(String(flag.dropFirst(2))) else {
            fail("unknown option \(flag)\n\(usage)")
        }
        guard let value = rest.popFirst() else { fail("\(flag) needs a value") }
        result[String(flag.dropFirst(2))] = value
    }
    return result
}

func integer(_ options: [String: String], _ name: String, default value: Int, minimum: Int,
             maximum: Int = Limits.int32) -> Int {
    guard let text = options[name] else { return value }
    guard let n = Int(text), n >= minimum, n <= maximum else {
        fail("--\(name) must be an integer in \(minimum)...\(maximum), got \(text)")
    }
    return n
}

func rollout(_ args: ArraySlice<String>) {
    let opts = options(args, allowed: ["env", "envs", "steps", "seed"])
    let id = opts["env"] ?? "CartPole-v1"
    let n = integer(opts, "envs", default: 1024, minimum: 1, maximum: Limits.environments)
    let steps = integer(opts, "steps", default: 1000, minimum: 1)
    let seed = integer(opts, "seed", default: 0, minimum: 0, maximum: Int.max)
    let env: AnyEnvironment
    do { env = try AnyEnvironment(id: id) } catch { fail("\(error)") }

    let actionSize = env.actionSpace.size
    var obs = [Float](repeating: 0, count: n * env.observationSize)
    var state = [Float](repeating: 0, count: n * env.stateSize)
    var time = [Int32](repeating: 0, count: n)
    var reward = [Float](repeating: 0, count: n)
    var done = [UInt8](repeating: 0, count: n)
    var keys = [UInt32](repeating: 0, count: 2 * n)
    var actions = [Float](repeating: 0, count: n * actionSize)
    var discrete = [Int32](repeating: 0, count: n)

    var key = PRNGKey(seed: Int64(seed))
    key.split(count: n, into: &keys)
    env.reset(count: n, keys: keys, observations: &obs, states: &state, times: &time)

    var episodeReturn = [Double](repeating: 0, count: n)
    var finished: [Double] = []
    let start = DispatchTime.now().uptimeNanoseconds
    for _ in 0..<steps {
        let (next, stepKey, actionKey) = (key.split(index: 0), key.split(index: 1), key.split(index: 2))
        key = next
        stepKey.split(count: n, into: &keys)
        switch env.actionSpace {
        case .discrete(let k):
            actionKey.randint(count: n, minval: 0, maxval: Int32(k), into: &discrete)
            for i in 0..<n { actions[i] = Float(discrete[i]) }
        case .box(let box):
            actionKey.uniform(count: n * actionSize, minval: box.low[0], maxval: box.high[0], into: &actions)
        }
        env.step(count: n, keys: keys, states: state, times: time, actions: actions,
                 observations: &obs, nextStates: &state, nextTimes: &time, rewards: &reward,
                 dones: &done, truncations: nil)
        for i in 0..<n {
            episodeReturn[i] += Double(reward[i])
            if done[i] == 1 {
                finished.append(episodeReturn[i])
                episodeReturn[i] = 0
            }
        }
    }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    let mean = finished.isEmpty ? Double.nan : finished.reduce(0, +) / Double(finished.count)
    print("\(id): random policy, \(n) environments x \(steps) steps")
    print(String(format: "  episodes finished: %d, mean return %.2f", finished.count, mean))
    print(String(format: "  %.3f s, %.1f M steps/s (keys, random actions and bookkeeping included)",
                 seconds, Double(n * steps) / seconds / 1e6))
}

/// The hyperparameters `sgx train` starts from, per algorithm: the fixed
/// values of the paper's inner-loop configurations (upstream
/// cartpole.yaml / pendulum.yaml, inner_config.<algo>) with one value
/// picked from each of their search lists. `--hparams` overrides them.
let paperHyperparameters: [Algorithm: [String: String]] = [
    .ppo: ["num_envs": "5", "num_steps": "100", "num_epochs": "10", "num_minibatches": "10", "max_grad_norm": "10",
           "activation": "tanh", "learning_rate": "0.005", "clip_eps": "0.2", "ent_coef": "0.0", "gae_lambda": "0.95",
           "gamma": "0.99", "vf_coef": "0.5"],
    .dqn: ["agent": "DuelingQNetwork", "activation": "tanh", "batch_size": "100", "buffer_size": "2000", "ddqn": "1",
           "eps_start": "1", "eps_end": "0.05", "exploration_fraction": "0.5", "fill_buffer": "1000", "gamma": "0.99",
           "gradient_steps": "1", "learning_rate": "0.001", "max_grad_norm": "10", "num_envs": "10",
           "target_update_freq": "50"],
    .sac: ["activation": "tanh", "batch_size": "256", "buffer_size": "2000", "fill_buffer": "1000", "gamma": "0.99",
           "gradient_steps": "2", "learning_rate": "0.001", "num_envs": "5", "target_entropy_ratio": "0.5", "tau": "0.95"],
    .ddpg: ["activation": "tanh", "batch_size": "100", "buffer_size": "2000", "exploration_noise": "0.3",
            "fill_buffer": "1000", "gamma": "0.99", "gradient_steps": "1", "learning_rate": "0.001", "max_grad_norm": "10",
            "num_envs": "1", "tau": "0.95"],
    .td3: ["actor_kwargs.activation": "tanh", "critic_kwargs.activation": "tanh", "batch_size": "100",
           "buffer_size": "10000", "exploration_noise": "0.3", "fill_buffer": "1000", "gamma": "0.99",
           "learning_rate": "0.001", "max_grad_norm": "10", "policy_delay": "2", "target_noise": "0.2",
           "target_noise_clip": "0.5", "tau": "0.95"],
]

func train(_ args: ArraySlice<String>) {
    let opts = options(args, allowed: ["algo", "env", "checkpoint", "eval-env", "seed", "steps", "episodes", "hparams",
                                       "save", "stochastic"])
    let algorithm: Algorithm
    do { algorithm = try Algorithm(name: opts["algo"] ?? "ppo") } catch { fail("--algo: \(error)") }
    let id = opts["env"] ?? "CartPole-v1"
    let seed = integer(opts, "seed", default: 0, minimum: 0, maximum: Int.max)
    let steps = integer(opts, "steps", default: 10_000, minimum: 1)
    let episodes = integer(opts, "episodes", default: 50, minimum: 1, maximum: Limits.environments)
    let env: AnyEnvironment
    do {
        if let path = opts["checkpoint"] {
            env = try AnyEnvironment(checkpoint: path)
            guard env.name == id || !id.hasPrefix("Synthetic-") else {
                fail("--checkpoint \(path) holds \(env.name), not \(id)")
            }
        } else if id.hasPrefix("Synthetic-") {
            fail("\(id) is synthetic: give its checkpoint with --checkpoint PATH")
        } else {
            env = try AnyEnvironment(id: id)
        }
    } catch { fail("\(error)") }
    let evalID = opts["eval-env"] ?? (id.hasPrefix("Synthetic-") ? String(id.dropFirst("Synthetic-".count)) : id)
    let evalEnv: AnyEnvironment
    do { evalEnv = try AnyEnvironment(id: evalID) } catch { fail("\(error)") }

    var used = paperHyperparameters[algorithm]!
    used["total_timesteps"] = "\(steps)"
    var given = Set<String>()
    for item in (opts["hparams"] ?? "").split(separator: ",") {
        let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { fail("--hparams wants name=value pairs, got '\(item)'") }
        guard given.insert(parts[0]).inserted else { fail("--hparams: '\(parts[0])' is given twice") }
        used[parts[0]] = parts[1]
    }
    print("\(algorithm.rawValue.uppercased()) on \(env.name), \(steps) steps, seed \(seed)")
    print("  " + used.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\($0.value)" }.joined(separator: " "))
    let t0 = DispatchTime.now().uptimeNanoseconds
    let result: TrainingResult
    do { result = try Agents.train(algorithm, on: env, hyperparameters: used, seed: Int64(seed)) } catch { fail("\(error)") }
    let t1 = DispatchTime.now().uptimeNanoseconds
    let deterministic = opts["stochastic"].map { $0 == "0" || $0 == "false" } ?? true
    let returns: [Float]
    do {
        returns = try result.policy.evaluate(on: evalEnv, episodes: episodes, seed: Int64(seed), deterministic: deterministic)
    } catch { fail("--eval-env: \(error)") }
    let t2 = DispatchTime.now().uptimeNanoseconds
    if let path = opts["save"] {
        do { try result.policy.save(to: path) } catch { fail("\(error)") }
        print("  policy saved to \(path)")
    }
    let trainSeconds = Double(t1 - t0) / 1e9, evalSeconds = Double(t2 - t1) / 1e9
    let mean = returns.reduce(0, +) / Float(returns.count)
    print(String(format: "  train: %.3f s (%d updates, %.2f GFLOP, %.1f GFLOP/s in the networks' passes)",
                 trainSeconds, result.updates, result.flops / 1e9, result.flops / 1e9 / trainSeconds))
    print(String(format: "  eval on %@: %d episodes (%@ actions), %.3f s", evalEnv.name, episodes,
                 deterministic ? "deterministic" : "sampled", evalSeconds))
    print(String(format: "  return: mean %.2f, min %.2f, max %.2f", mean, returns.min()!, returns.max()!))
}

var arguments = CommandLine.arguments.dropFirst()
switch arguments.popFirst() {
case "rollout": rollout(arguments)
case "train": train(arguments)
case let command? where command == "metalearn" || command == "evaluate":
    fail("sgx has no \(command) command: use python -m synthetic_gymnax_swift metalearn|evaluate "
         + "(the one front end of both; pip install ./python)\n\(usage)")
case "list": AnyEnvironment.registeredIDs.forEach { print($0) }
default: fail(usage)
}
