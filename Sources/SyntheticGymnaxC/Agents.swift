#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import SyntheticGymnax

// The agent functions of include/synthetic_gymnax.h: sgx_train and the
// sgx_policy functions. An `sgx_policy *` is a retained `PolicyHandle`.

/// What a `sgx_policy *` points to: the policy and the C strings the header
/// promises to keep alive as long as the handle.
final class PolicyHandle {
    let policy: Policy
    let algorithm: UnsafePointer<CChar>
    let environmentID: UnsafePointer<CChar>

    init(_ policy: Policy) {
        self.policy = policy
        algorithm = UnsafePointer(strdup(policy.algorithm)!)
        environmentID = UnsafePointer(strdup(policy.environmentID)!)
    }

    deinit {
        free(UnsafeMutablePointer(mutating: algorithm))
        free(UnsafeMutablePointer(mutating: environmentID))
    }

    func retained() -> OpaquePointer { OpaquePointer(Unmanaged.passRetained(self).toOpaque()) }
}

/// Writes a `sgx_train_stats` of the header: int64 env_steps, int64
/// updates, double flops, double seconds.
private func writeStats(_ out: UnsafeMutableRawPointer, _ result: TrainingResult, seconds: Double) {
    out.storeBytes(of: Int64(result.environmentSteps), toByteOffset: 0, as: Int64.self)
    out.storeBytes(of: Int64(result.updates), toByteOffset: 8, as: Int64.self)
    out.storeBytes(of: result.flops, toByteOffset: 16, as: Double.self)
    out.storeBytes(of: seconds, toByteOffset: 24, as: Double.self)
}

@inline(__always)
private func policyHandle(_ policy: OpaquePointer?) throws -> PolicyHandle {
    guard let policy else { throw CError(.nullPointer, "policy is NULL") }
    return Unmanaged<PolicyHandle>.fromOpaque(UnsafeRawPointer(policy)).takeUnretainedValue()
}

@inline(__always)
private func peekPolicy(_ policy: OpaquePointer?) -> PolicyHandle? {
    policy.map { Unmanaged<PolicyHandle>.fromOpaque(UnsafeRawPointer($0)).takeUnretainedValue() }
}

/// Name/value string pairs of a C call.
func stringPairs(_ names: UnsafePointer<UnsafePointer<CChar>?>?, _ values: UnsafePointer<UnsafePointer<CChar>?>?,
                 count: Int32, what: String) throws -> [String: String] {
    guard count >= 0 else { throw CError(.invalidArgument, "num_\(what) must be >= 0, got \(count)") }
    guard count > 0 else { return [:] }
    let names = try required(names, "\(what)_names"), values = try required(values, "\(what)_values")
    var out: [String: String] = [:]
    for i in 0..<Int(count) {
        let name = String(cString: try required(names[i], "\(what)_names[\(i)]"))
        guard out[name] == nil else { throw CError(.invalidArgument, "\(what) '\(name)' is given twice") }
        out[name] = String(cString: try required(values[i], "\(what)_values[\(i)]"))
    }
    return out
}

@_cdecl("sgx_train")
public func sgx_train(_ algorithm: UnsafePointer<CChar>?, _ env: OpaquePointer?,
                      _ names: UnsafePointer<UnsafePointer<CChar>?>?, _ values: UnsafePointer<UnsafePointer<CChar>?>?,
                      _ count: Int32, _ seed: Int64, _ outPolicy: UnsafeMutablePointer<OpaquePointer?>?,
                      _ outStats: UnsafeMutableRawPointer?) -> Int32 {
    guarded("sgx_train") {
        let out = try required(outPolicy, "out_policy")
        out.pointee = nil
        let name = String(cString: try required(algorithm, "algorithm"))
        let h = try handle(env)
        let hyperparameters = try stringPairs(names, values, count: count, what: "hparam")
        let start = DispatchTime.now().uptimeNanoseconds
        let result = try Agents.train(name, on: h.env, hyperparameters: hyperparameters, seed: seed)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        if let outStats { writeStats(outStats, result, seconds: seconds) }
        out.pointee = PolicyHandle(result.policy).retained()
    }
}

@_cdecl("sgx_policy_free")
public func sgx_policy_free(_ policy: OpaquePointer?) {
    guard let policy else { return }
    Unmanaged<PolicyHandle>.fromOpaque(UnsafeRawPointer(policy)).release()
}

@_cdecl("sgx_policy_load")
public func sgx_policy_load(_ path: UnsafePointer<CChar>?, _ outPolicy: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guarded("sgx_policy_load") {
        let out = try required(outPolicy, "out_policy")
        out.pointee = nil
        let policy = try Policy(contentsOf: String(cString: try required(path, "path")))
        out.pointee = PolicyHandle(policy).retained()
    }
}

@_cdecl("sgx_policy_save")
public func sgx_policy_save(_ policy: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> Int32 {
    guarded("sgx_policy_save") {
        try policyHandle(policy).policy.save(to: String(cString: try required(path, "path")))
    }
}

@_cdecl("sgx_policy_algorithm")
public func sgx_policy_algorithm(_ policy: OpaquePointer?) -> UnsafePointer<CChar>? { peekPolicy(policy)?.algorithm }

@_cdecl("sgx_policy_env_id")
public func sgx_policy_env_id(_ policy: OpaquePointer?) -> UnsafePointer<CChar>? { peekPolicy(policy)?.environmentID }

@_cdecl("sgx_policy_obs_size")
public func sgx_policy_obs_size(_ policy: OpaquePointer?) -> Int32 {
    peekPolicy(policy).map { Int32($0.policy.observationSize) } ?? -1
}

@_cdecl("sgx_policy_action_kind")
public func sgx_policy_action_kind(_ policy: OpaquePointer?) -> Int32 {
    peekPolicy(policy).map { $0.policy.actionSpace.isDiscrete ? 0 : 1 } ?? -1
}

@_cdecl("sgx_policy_num_actions")
public func sgx_policy_num_actions(_ policy: OpaquePointer?) -> Int32 {
    peekPolicy(policy).map { Int32($0.policy.actionSpace.numActions) } ?? -1
}

/// Validates and runs `Policy.act` on n observations.
private func act(_ function: String, _ policy: OpaquePointer?, _ n: Int32, _ observations: UnsafePointer<Float>?,
                 _ deterministic: Int32, _ key: UnsafePointer<UInt32>?, discrete: Bool,
                 write: ([Float]) -> Void) -> Int32 {
    guarded(function) {
        let p = try policyHandle(policy).policy
        guard p.actionSpace.isDiscrete == discrete else {
            throw CError(.wrongActionType, "the \(p.algorithm) policy for \(p.environmentID) has \(discrete ? "continuous" : "discrete") actions; use \(discrete ? "sgx_policy_act_continuous" : "sgx_policy_act_discrete")")
        }
        guard n >= 1 else { throw CError(.invalidArgument, "n must be >= 1, got \(n)") }
        let obs = try required(observations, "obs")
        let size = p.observationSize * Int(n)
        let values = Array(UnsafeBufferPointer(start: obs, count: size))
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw CError(.invalidArgument, "obs[\(bad)] = \(values[bad]) is not finite")
        }
        var k = PRNGKey(0, 0)
        if deterministic == 0 {
            let words = try required(key, "key")
            k = PRNGKey(words[0], words[1])
        }
        let actions = p.act(values, deterministic: deterministic != 0, key: k)
        if let bad = actions.firstIndex(where: { !$0.isFinite }) {
            throw AgentError.diverged("the \(p.algorithm) policy's action \(bad) is \(actions[bad]) (row \(bad / p.actionSize)): its outputs are not finite for these observations")
        }
        write(actions)
    }
}

@_cdecl("sgx_policy_act_discrete")
public func sgx_policy_act_discrete(_ policy: OpaquePointer?, _ n: Int32, _ observations: UnsafePointer<Float>?,
                                    _ deterministic: Int32, _ key: UnsafePointer<UInt32>?,
                                    _ outActions: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let outActions else { return guarded("sgx_policy_act_discrete") { throw CError(.nullPointer, "out_actions is NULL") } }
    return act("sgx_policy_act_discrete", policy, n, observations, deterministic, key, discrete: true) { actions in
        for (i, a) in actions.enumerated() { outActions[i] = Int32(a) }
    }
}

@_cdecl("sgx_policy_act_continuous")
public func sgx_policy_act_continuous(_ policy: OpaquePointer?, _ n: Int32, _ observations: UnsafePointer<Float>?,
                                      _ deterministic: Int32, _ key: UnsafePointer<UInt32>?,
                                      _ outActions: UnsafeMutablePointer<Float>?) -> Int32 {
    guard let outActions else { return guarded("sgx_policy_act_continuous") { throw CError(.nullPointer, "out_actions is NULL") } }
    return act("sgx_policy_act_continuous", policy, n, observations, deterministic, key, discrete: false) { actions in
        outActions.update(from: actions, count: actions.count)
    }
}

@_cdecl("sgx_policy_evaluate")
public func sgx_policy_evaluate(_ policy: OpaquePointer?, _ env: OpaquePointer?, _ episodes: Int32, _ seed: Int64,
                                _ deterministic: Int32, _ maxSteps: Int32, _ outReturns: UnsafeMutablePointer<Float>?,
                                _ outLengths: UnsafeMutablePointer<Int32>?) -> Int32 {
    guarded("sgx_policy_evaluate") {
        let p = try policyHandle(policy).policy
        let h = try handle(env)
        let returns = try required(outReturns, "out_returns")
        guard episodes >= 1 else { throw CError(.invalidArgument, "episodes must be >= 1, got \(episodes)") }
        guard maxSteps >= 0 else { throw CError(.invalidArgument, "max_steps must be >= 0 (0: the environment's limit), got \(maxSteps)") }
        let result = try p.evaluateEpisodes(on: h.env, episodes: Int(episodes), seed: seed, deterministic: deterministic != 0,
                                            maxSteps: maxSteps == 0 ? nil : Int(maxSteps))
        returns.update(from: result.returns, count: result.returns.count)
        outLengths?.update(from: result.lengths, count: result.lengths.count)
    }
}
