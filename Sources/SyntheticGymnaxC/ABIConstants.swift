import CSyntheticGymnax
import SyntheticGymnax

// sgx_abi_constant: the header's constants and struct layouts, by the
// header's own spelling, for bindings that cannot read C (the Python
// package reads its status codes and checks its structures with it). Every
// value comes from include/synthetic_gymnax.h through the CSyntheticGymnax
// module, so the header stays their single source.

private let constants: [String: Int64] = {
    var table: [String: Int64] = [:]
    for (name, status) in Status.all { table[name] = Int64(status.rawValue) }
    let integers: [(String, Int)] = [
        ("SGX_ABI_VERSION", Int(SGX_ABI_VERSION)),
        ("SGX_MAX_VEC_ENVS", Int(SGX_MAX_VEC_ENVS)),
        ("SGX_MAX_NUM_ENVS", Int(SGX_MAX_NUM_ENVS)),
        ("SGX_MAX_BATCH", Int(SGX_MAX_BATCH)),
        ("SGX_MAX_BUFFER_FLOATS", Int(SGX_MAX_BUFFER_FLOATS)),
        ("SGX_MAX_LAYER_WIDTH", Int(SGX_MAX_LAYER_WIDTH)),
        ("SGX_MAX_LAYERS", Int(SGX_MAX_LAYERS)),
        ("SGX_MAX_NETWORK_PARAMETERS", Int(SGX_MAX_NETWORK_PARAMETERS)),
        ("SGX_MAX_FILE_BYTES", Int(SGX_MAX_FILE_BYTES)),
        ("SGX_MAX_HEADER_BYTES", Int(SGX_MAX_HEADER_BYTES)),
        ("SGX_MAX_CONFIG_BYTES", Int(SGX_MAX_CONFIG_BYTES)),
        ("SGX_MAX_CONFIG_DEPTH", Int(SGX_MAX_CONFIG_DEPTH)),
        ("SGX_MAX_CONFIG_NODES", Int(SGX_MAX_CONFIG_NODES)),
        ("SGX_MAX_POPULATION", Int(SGX_MAX_POPULATION)),
        ("SGX_MAX_RUNS", Int(SGX_MAX_RUNS)),
        ("SGX_MAX_OUTCOME_BYTES", Int(SGX_MAX_OUTCOME_BYTES)),
        ("SGX_SPACE_DISCRETE", SGX_SPACE_DISCRETE),
        ("SGX_SPACE_BOX", SGX_SPACE_BOX),
        ("SGX_DTYPE_FLOAT32", SGX_DTYPE_FLOAT32),
        ("SGX_DTYPE_INT32", SGX_DTYPE_INT32),
        ("SGX_DTYPE_BOOL", SGX_DTYPE_BOOL),
        ("SGX_PHASE_POPULATION", SGX_PHASE_POPULATION),
        ("SGX_PHASE_MEAN", SGX_PHASE_MEAN),
        ("SGX_PHASE_GENERATION_DONE", SGX_PHASE_GENERATION_DONE),
        ("SGX_PHASE_EVALUATION", SGX_PHASE_EVALUATION),
    ]
    for (name, value) in integers { table[name] = Int64(value) }
    layout(of: sgx_meta_progress.self, "sgx_meta_progress", into: &table, [
        ("generation", \.generation), ("generations", \.generations), ("phase", \.phase),
        ("runs_done", \.runs_done), ("runs_total", \.runs_total), ("best_fitness", \.best_fitness),
        ("population_fitness", \.population_fitness), ("population_fitness_std", \.population_fitness_std),
        ("mean_fitness", \.mean_fitness), ("seconds", \.seconds),
    ])
    layout(of: sgx_train_stats.self, "sgx_train_stats", into: &table, [
        ("env_steps", \.env_steps), ("updates", \.updates), ("flops", \.flops), ("seconds", \.seconds),
    ])
    return table
}()

/// "sizeof(type)" and "offsetof(type, field)" of a header structure.
private func layout<T>(of type: T.Type, _ name: String, into table: inout [String: Int64],
                       _ fields: [(String, PartialKeyPath<T>)]) {
    table["sizeof(\(name))"] = Int64(MemoryLayout<T>.stride)  // C sizeof: with tail padding
    for (field, path) in fields { table["offsetof(\(name), \(field))"] = Int64(MemoryLayout<T>.offset(of: path)!) }
}

@_cdecl("sgx_abi_constant")
public func sgx_abi_constant(_ name: UnsafePointer<CChar>?, _ outValue: UnsafeMutablePointer<Int64>?) -> Int32 {
    guarded("sgx_abi_constant") {
        let name = String(cString: try required(name, "name"))
        let out = try required(outValue, "out_value")
        guard let value = constants[name] else {
            throw CError(.invalidArgument, "the header has no constant '\(name)' (names as written there: "
                         + "\"SGX_ERR_FORMAT\", \"sizeof(sgx_meta_progress)\", \"offsetof(sgx_meta_progress, seconds)\")")
        }
        out.pointee = value
    }
}
