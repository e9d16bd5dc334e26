import CSyntheticGymnax
import SyntheticGymnax

// The sgx_vec_env functions of include/synthetic_gymnax.h.

@inline(__always)
private func vector(_ vec: OpaquePointer?) throws -> VectorEnvironment {
    guard let vec else { throw CError(.nullPointer, "vec is NULL") }
    return Unmanaged<VectorEnvironment>.fromOpaque(UnsafeRawPointer(vec)).takeUnretainedValue()
}

/// A vector environment that has been reset, as stepping needs.
private func resetVector(_ vec: OpaquePointer?) throws -> VectorEnvironment {
    let v = try vector(vec)
    guard v.isReset else {
        throw CError(.invalidArgument, "the vector environment of \(v.environment.name) has not been reset; call sgx_vec_env_reset before stepping")
    }
    return v
}

@_cdecl("sgx_vec_env_create")
public func sgx_vec_env_create(_ env: OpaquePointer?, _ n: Int32, _ seed: Int64,
                               _ outVec: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guarded("sgx_vec_env_create") {
        let out = try required(outVec, "out_vec")
        out.pointee = nil
        guard let env else { throw CError(.nullPointer, "env is NULL") }
        let h = Unmanaged<EnvironmentHandle>.fromOpaque(UnsafeRawPointer(env)).takeUnretainedValue()
        guard n >= 1, n <= SGX_MAX_VEC_ENVS else {
            throw CError(.invalidArgument, "n must be in 1...\(SGX_MAX_VEC_ENVS) (SGX_MAX_VEC_ENVS), got \(n)")
        }
        let vec = try VectorEnvironment(h.env, count: Int(n), seed: seed)
        out.pointee = OpaquePointer(Unmanaged.passRetained(vec).toOpaque())
    }
}

@_cdecl("sgx_vec_env_free")
public func sgx_vec_env_free(_ vec: OpaquePointer?) {
    guard let vec else { return }
    Unmanaged<VectorEnvironment>.fromOpaque(UnsafeRawPointer(vec)).release()
}

@_cdecl("sgx_vec_env_reset")
public func sgx_vec_env_reset(_ vec: OpaquePointer?, _ seed: Int64, _ outObs: UnsafeMutablePointer<Float>?) -> Int32 {
    guarded("sgx_vec_env_reset") {
        let v = try vector(vec)
        v.reset(seed: seed, observations: try required(outObs, "out_obs"))
    }
}

@_cdecl("sgx_vec_env_step_discrete")
public func sgx_vec_env_step_discrete(
    _ vec: OpaquePointer?, _ actions: UnsafePointer<Int32>?, _ outObs: UnsafeMutablePointer<Float>?,
    _ outReward: UnsafeMutablePointer<Float>?, _ outTerminated: UnsafeMutablePointer<UInt8>?,
    _ outTruncated: UnsafeMutablePointer<UInt8>?, _ outFinalObs: UnsafeMutablePointer<Float>?
) -> Int32 {
    guarded("sgx_vec_env_step_discrete") {
        let v = try resetVector(vec)
        guard case .discrete(let numActions) = v.environment.actionSpace else {
            throw CError(.wrongActionType, "\(v.environment.name) has a continuous (box) action space; use sgx_vec_env_step_continuous")
        }
        let actions = try required(actions, "actions")
        for i in 0..<v.count where actions[i] < 0 || Int(actions[i]) >= numActions {
            throw CError(.invalidAction, "actions[\(i)] = \(actions[i]) is out of range for \(v.environment.name): must be in [0, \(numActions))")
        }
        v.step(discreteActions: actions, observations: try required(outObs, "out_obs"),
               rewards: try required(outReward, "out_reward"), terminations: try required(outTerminated, "out_terminated"),
               truncations: try required(outTruncated, "out_truncated"), finalObservations: outFinalObs)
    }
}

@_cdecl("sgx_vec_env_step_continuous")
public func sgx_vec_env_step_continuous(
    _ vec: OpaquePointer?, _ actions: UnsafePointer<Float>?, _ outObs: UnsafeMutablePointer<Float>?,
    _ outReward: UnsafeMutablePointer<Float>?, _ outTerminated: UnsafeMutablePointer<UInt8>?,
    _ outTruncated: UnsafeMutablePointer<UInt8>?, _ outFinalObs: UnsafeMutablePointer<Float>?
) -> Int32 {
    guarded("sgx_vec_env_step_continuous") {
        let v = try resetVector(vec)
        guard case .box(let box) = v.environment.actionSpace else {
            throw CError(.wrongActionType, "\(v.environment.name) has a discrete action space; use sgx_vec_env_step_discrete")
        }
        let actions = try required(actions, "actions")
        for i in 0..<(v.count * box.size) where !actions[i].isFinite {
            throw CError(.invalidAction, "actions[\(i)] = \(actions[i]) is not finite")
        }
        v.step(actions: actions, observations: try required(outObs, "out_obs"),
               rewards: try required(outReward, "out_reward"), terminations: try required(outTerminated, "out_terminated"),
               truncations: try required(outTruncated, "out_truncated"), finalObservations: outFinalObs)
    }
}
