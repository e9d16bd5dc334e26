import Foundation
import SyntheticGymnax

// sgx: the command-line front of the library.
//
//   sgx rollout [--env ID] [--envs N] [--steps T] [--seed S]
//       Steps N environments T times with uniformly random actions (JAX keys,
//       gymnax auto-reset) and reports episode returns and throughput.
//   sgx list
//       Prints the registered environment ids.

let usage = """
    usage: sgx rollout [--env ID] [--envs N] [--steps T] [--seed S]
           sgx list
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

func integer(_ options: [String: String], _ name: String, default value: Int, minimum: Int) -> Int {
    guard let text = options[name] else { return value }
    guard let n = Int(text), n >= minimum else { fail("--\(name) must be an integer >= \(minimum), got \(text)") }
    return n
}

func rollout(_ args: ArraySlice<String>) {
    let opts = options(args, allowed: ["env", "envs", "steps", "seed"])
    let id = opts["env"] ?? "CartPole-v1"
    let n = integer(opts, "envs", default: 1024, minimum: 1)
    let steps = integer(opts, "steps", default: 1000, minimum: 1)
    let seed = integer(opts, "seed", default: 0, minimum: 0)
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

var arguments = CommandLine.arguments.dropFirst()
switch arguments.popFirst() {
case "rollout": rollout(arguments)
case "list": AnyEnvironment.registeredIDs.forEach { print($0) }
default: fail(usage)
}
