#if canImport(Glibc)
import Glibc
#endif
import SyntheticGymnax

// The environment functions of include/synthetic_gymnax.h: validate, convert,
// call the Swift core. An `sgx_env *` is a retained `EnvironmentHandle`.

/// What a `sgx_env *` points to: the environment and the C strings the
/// header promises to keep alive as long as the handle.
final class EnvironmentHandle {
    let env: AnyEnvironment
    let name: UnsafePointer<CChar>
    let parameterNames: [UnsafePointer<CChar>]
    let fieldNames: [UnsafePointer<CChar>]
    let parameters: [ParameterValue]
    let fields: [StateField]
    let observationSize: Int
    let stateSize: Int
    let actionSpace: ActionSpace

    init(_ env: AnyEnvironment) {
        self.env = env
        name = UnsafePointer(strdup(env.name)!)
        parameters = env.parameters
        fields = env.stateFields
        parameterNames = parameters.map { UnsafePointer(strdup($0.name)!) }
        fieldNames = fields.map { UnsafePointer(strdup($0.name)!) }
        observationSize = env.observationSize
        stateSize = env.stateSize
        actionSpace = env.actionSpace
    }

    deinit {
        free(UnsafeMutablePointer(mutating: name))
        for p in parameterNames + fieldNames { free(UnsafeMutablePointer(mutating: p)) }
    }
}

@inline(__always)
func handle(_ env: OpaquePointer?) throws -> EnvironmentHandle {
    guard let env else { throw CError(.nullPointer, "env is NULL") }
    return Unmanaged<EnvironmentHandle>.fromOpaque(UnsafeRawPointer(env)).takeUnretainedValue()
}

@inline(__always)
private func peek(_ env: OpaquePointer?) -> EnvironmentHandle? {
    env.map { Unmanaged<EnvironmentHandle>.fromOpaque(UnsafeRawPointer($0)).takeUnretainedValue() }
}

private let registeredIDs: [UnsafePointer<CChar>] = AnyEnvironment.registeredIDs.map(staticCString)

@_cdecl("sgx_env_registered_count")
public func sgx_env_registered_count() -> Int32 { Int32(registeredIDs.count) }

@_cdecl("sgx_env_registered_id")
public func sgx_env_registered_id(_ index: Int32) -> UnsafePointer<CChar>? {
    index >= 0 && Int(index) < registeredIDs.count ? registeredIDs[Int(index)] : nil
}

/// Parameter overrides from the C name and value arrays.
private func overrides(_ names: UnsafePointer<UnsafePointer<CChar>?>?, _ values: UnsafePointer<Double>?,
                       _ count: Int32) throws -> [(name: String, value: Double)] {
    guard count >= 0 else { throw CError(.invalidArgument, "num_params must be >= 0, got \(count)") }
    guard count > 0 else { return [] }
    let names = try required(names, "param_names")
    let values = try required(values, "param_values")
    return try (0..<Int(count)).map { i in
        (String(cString: try required(names[i], "param_names[\(i)]")), values[i])
    }
}

@_cdecl("sgx_env_create")
public func sgx_env_create(
    _ id: UnsafePointer<CChar>?, _ names: UnsafePointer<UnsafePointer<CChar>?>?,
    _ values: UnsafePointer<Double>?, _ count: Int32, _ outEnv: UnsafeMutablePointer<OpaquePointer?>?
) -> Int32 {
    guarded("sgx_env_create") {
        let out = try required(outEnv, "out_env")
        out.pointee = nil
        let id = String(cString: try required(id, "id"))
        let env = try AnyEnvironment(id: id, parameters: try overrides(names, values, count))
        out.pointee = OpaquePointer(Unmanaged.passRetained(EnvironmentHandle(env)).toOpaque())
    }
}

@_cdecl("sgx_env_create_from_checkpoint")
public func sgx_env_create_from_checkpoint(
    _ path: UnsafePointer<CChar>?, _ names: UnsafePointer<UnsafePointer<CChar>?>?,
    _ values: UnsafePointer<Double>?, _ count: Int32, _ outEnv: UnsafeMutablePointer<OpaquePointer?>?
) -> Int32 {
    guarded("sgx_env_create_from_checkpoint") {
        let out = try required(outEnv, "out_env")
        out.pointee = nil
        let path = String(cString: try required(path, "path"))
        let env = try AnyEnvironment(checkpoint: path, parameters: try overrides(names, values, count))
        out.pointee = OpaquePointer(Unmanaged.passRetained(EnvironmentHandle(env)).toOpaque())
    }
}

@_cdecl("sgx_env_save_checkpoint")
public func sgx_env_save_checkpoint(_ env: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> Int32 {
    guarded("sgx_env_save_checkpoint") {
        let h = try handle(env)
        let path = String(cString: try required(path, "path"))
        guard let synthetic = h.env.environment(as: SyntheticEnvironment.self) else {
            throw CError(.invalidArgument, "\(h.env.name) is not a synthetic environment; only those have checkpoints")
        }
        try synthetic.save(to: path)
    }
}

@_cdecl("sgx_env_free")
public func sgx_env_free(_ env: OpaquePointer?) {
    guard let env else { return }
    Unmanaged<EnvironmentHandle>.fromOpaque(UnsafeRawPointer(env)).release()
}

@_cdecl("sgx_env_name")
public func sgx_env_name(_ env: OpaquePointer?) -> UnsafePointer<CChar>? { peek(env)?.name }

@_cdecl("sgx_env_obs_size")
public func sgx_env_obs_size(_ env: OpaquePointer?) -> Int32 {
    peek(env).map { Int32($0.observationSize) } ?? -1
}

@_cdecl("sgx_env_action_kind")
public func sgx_env_action_kind(_ env: OpaquePointer?) -> Int32 {
    guard let h = peek(env) else { return -1 }
    return h.actionSpace.isDiscrete ? 0 : 1
}

@_cdecl("sgx_env_num_actions")
public func sgx_env_num_actions(_ env: OpaquePointer?) -> Int32 {
    peek(env).map { Int32($0.actionSpace.numActions) } ?? -1
}

@_cdecl("sgx_env_state_size")
public func sgx_env_state_size(_ env: OpaquePointer?) -> Int32 {
    peek(env).map { Int32($0.stateSize) } ?? -1
}

@_cdecl("sgx_env_param_count")
public func sgx_env_param_count(_ env: OpaquePointer?) -> Int32 {
    peek(env).map { Int32($0.parameters.count) } ?? -1
}

@_cdecl("sgx_env_state_field_count")
public func sgx_env_state_field_count(_ env: OpaquePointer?) -> Int32 {
    peek(env).map { Int32($0.fields.count) } ?? -1
}

private func copyBounds(_ box: BoxSpace, _ low: UnsafeMutablePointer<Float>?,
                        _ high: UnsafeMutablePointer<Float>?, _ size: Int32) throws {
    let low = try required(low, "low"), high = try required(high, "high")
    guard Int(size) == box.size else {
        throw CError(.invalidArgument, "size must be \(box.size), got \(size)")
    }
    for i in 0..<box.size {
        low[i] = box.low[i]
        high[i] = box.high[i]
    }
}

@_cdecl("sgx_env_obs_bounds")
public func sgx_env_obs_bounds(_ env: OpaquePointer?, _ low: UnsafeMutablePointer<Float>?,
                               _ high: UnsafeMutablePointer<Float>?, _ size: Int32) -> Int32 {
    guarded("sgx_env_obs_bounds") {
        try copyBounds(try handle(env).env.observationSpace, low, high, size)
    }
}

@_cdecl("sgx_env_action_bounds")
public func sgx_env_action_bounds(_ env: OpaquePointer?, _ low: UnsafeMutablePointer<Float>?,
                                  _ high: UnsafeMutablePointer<Float>?, _ size: Int32) -> Int32 {
    guarded("sgx_env_action_bounds") {
        guard case .box(let box) = try handle(env).actionSpace else {
            throw CError(.wrongActionType, "the action space is discrete; it has no bounds")
        }
        try copyBounds(box, low, high, size)
    }
}

@_cdecl("sgx_env_param")
public func sgx_env_param(
    _ env: OpaquePointer?, _ index: Int32, _ outName: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
    _ outValue: UnsafeMutablePointer<Double>?, _ outDtype: UnsafeMutablePointer<Int32>?
) -> Int32 {
    guarded("sgx_env_param") {
        let h = try handle(env)
        guard index >= 0 && Int(index) < h.parameters.count else {
            throw CError(.invalidArgument, "index \(index) out of range [0, \(h.parameters.count))")
        }
        let p = h.parameters[Int(index)]
        outName?.pointee = h.parameterNames[Int(index)]
        outValue?.pointee = p.value
        outDtype?.pointee = p.isInteger ? 1 : 0
    }
}

@_cdecl("sgx_env_state_field")
public func sgx_env_state_field(
    _ env: OpaquePointer?, _ index: Int32, _ outName: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
    _ outOffset: UnsafeMutablePointer<Int32>?, _ outLength: UnsafeMutablePointer<Int32>?,
    _ outDtype: UnsafeMutablePointer<Int32>?
) -> Int32 {
    guarded("sgx_env_state_field") {
        let h = try handle(env)
        guard index >= 0 && Int(index) < h.fields.count else {
            throw CError(.invalidArgument, "index \(index) out of range [0, \(h.fields.count))")
        }
        let f = h.fields[Int(index)]
        outName?.pointee = h.fieldNames[Int(index)]
        outOffset?.pointee = Int32(f.offset)
        outLength?.pointee = Int32(f.length)
        outDtype?.pointee = f.isBool ? 2 : 0
    }
}

@_cdecl("sgx_env_reset")
public func sgx_env_reset(
    _ env: OpaquePointer?, _ n: Int32, _ keys: UnsafePointer<UInt32>?,
    _ outObs: UnsafeMutablePointer<Float>?, _ outState: UnsafeMutablePointer<Float>?,
    _ outTime: UnsafeMutablePointer<Int32>?
) -> Int32 {
    guarded("sgx_env_reset") {
        let h = try handle(env)
        guard n >= 1 else { throw CError(.invalidArgument, "n must be >= 1, got \(n)") }
        h.env.reset(ResetBatch(count: Int(n), keys: try required(keys, "keys"),
                               observations: try required(outObs, "out_obs"),
                               states: try required(outState, "out_state"),
                               times: try required(outTime, "out_time")))
    }
}

extension StepBuffers {
    /// The buffers of a step call, once the actions are floats; the required
    /// pointers checked.
    init(
        _ n: Int32, _ keys: UnsafePointer<UInt32>?, _ state: UnsafePointer<Float>?, _ time: UnsafePointer<Int32>?,
        _ actions: UnsafePointer<Float>, _ outObs: UnsafeMutablePointer<Float>?,
        _ outState: UnsafeMutablePointer<Float>?, _ outTime: UnsafeMutablePointer<Int32>?,
        _ outReward: UnsafeMutablePointer<Float>?, _ outDone: UnsafeMutablePointer<UInt8>?,
        _ outTerminated: UnsafeMutablePointer<UInt8>?, _ outTruncated: UnsafeMutablePointer<UInt8>?,
        _ outFinalObs: UnsafeMutablePointer<Float>?
    ) throws {
        self.init(count: Int(n), keys: try required(keys, "keys"), states: try required(state, "state"),
                  times: try required(time, "time"), actions: actions,
                  observations: try required(outObs, "out_obs"), nextStates: try required(outState, "out_state"),
                  nextTimes: try required(outTime, "out_time"), rewards: try required(outReward, "out_reward"),
                  dones: try required(outDone, "out_done"), terminations: outTerminated,
                  truncations: outTruncated, finalObservations: outFinalObs)
    }
}

@_cdecl("sgx_env_step_discrete")
public func sgx_env_step_discrete(
    _ env: OpaquePointer?, _ n: Int32, _ keys: UnsafePointer<UInt32>?, _ state: UnsafePointer<Float>?,
    _ time: UnsafePointer<Int32>?, _ actions: UnsafePointer<Int32>?,
    _ outObs: UnsafeMutablePointer<Float>?, _ outState: UnsafeMutablePointer<Float>?,
    _ outTime: UnsafeMutablePointer<Int32>?, _ outReward: UnsafeMutablePointer<Float>?,
    _ outDone: UnsafeMutablePointer<UInt8>?, _ outTerminated: UnsafeMutablePointer<UInt8>?,
    _ outTruncated: UnsafeMutablePointer<UInt8>?, _ outFinalObs: UnsafeMutablePointer<Float>?
) -> Int32 {
    guarded("sgx_env_step_discrete") {
        let h = try handle(env)
        guard case .discrete(let numActions) = h.actionSpace else {
            throw CError(.wrongActionType,
                         "\(h.env.name) has a continuous (box) action space; use sgx_env_step_continuous")
        }
        guard n >= 1 else { throw CError(.invalidArgument, "n must be >= 1, got \(n)") }
        let actions = try required(actions, "actions")
        let floats = UnsafeMutablePointer<Float>.allocate(capacity: Int(n))
        defer { floats.deallocate() }
        for i in 0..<Int(n) {
            let a = actions[i]
            guard a >= 0 && Int(a) < numActions else {
                throw CError(.invalidAction,
                             "actions[\(i)] = \(a) is out of range for \(h.env.name): must be in [0, \(numActions))")
            }
            floats[i] = Float(a)
        }
        h.env.step(try StepBuffers(n, keys, state, time, floats, outObs, outState, outTime, outReward, outDone,
                                   outTerminated, outTruncated, outFinalObs))
    }
}

@_cdecl("sgx_env_step_continuous")
public func sgx_env_step_continuous(
    _ env: OpaquePointer?, _ n: Int32, _ keys: UnsafePointer<UInt32>?, _ state: UnsafePointer<Float>?,
    _ time: UnsafePointer<Int32>?, _ actions: UnsafePointer<Float>?,
    _ outObs: UnsafeMutablePointer<Float>?, _ outState: UnsafeMutablePointer<Float>?,
    _ outTime: UnsafeMutablePointer<Int32>?, _ outReward: UnsafeMutablePointer<Float>?,
    _ outDone: UnsafeMutablePointer<UInt8>?, _ outTerminated: UnsafeMutablePointer<UInt8>?,
    _ outTruncated: UnsafeMutablePointer<UInt8>?, _ outFinalObs: UnsafeMutablePointer<Float>?
) -> Int32 {
    guarded("sgx_env_step_continuous") {
        let h = try handle(env)
        guard case .box(let box) = h.actionSpace else {
            throw CError(.wrongActionType,
                         "\(h.env.name) has a discrete action space; use sgx_env_step_discrete")
        }
        guard n >= 1 else { throw CError(.invalidArgument, "n must be >= 1, got \(n)") }
        let actions = try required(actions, "actions")
        for i in 0..<(Int(n) * box.size) where !actions[i].isFinite {
            throw CError(.invalidAction, "actions[\(i)] = \(actions[i]) is not finite")
        }
        h.env.step(try StepBuffers(n, keys, state, time, actions, outObs, outState, outTime, outReward, outDone,
                                   outTerminated, outTruncated, outFinalObs))
    }
}
