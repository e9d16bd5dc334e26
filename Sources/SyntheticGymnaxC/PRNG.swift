import SyntheticGymnax

// The jax.random functions of include/synthetic_gymnax.h.

private func loadKey(_ key: UnsafePointer<UInt32>?) throws -> PRNGKey {
    let key = try required(key, "key")
    return PRNGKey(key[0], key[1])
}

/// Validates `n` and the output buffer; returns nil when there is nothing to write.
private func output<T>(_ n: Int64, _ out: UnsafeMutablePointer<T>?) throws -> UnsafeMutablePointer<T>? {
    guard n >= 0 else { throw CError(.invalidArgument, "n must be >= 0, got \(n)") }
    return n == 0 ? nil : try required(out, "out")
}

@_cdecl("sgx_prng_key")
public func sgx_prng_key(_ seed: Int64, _ outKey: UnsafeMutablePointer<UInt32>?) -> Int32 {
    guarded("sgx_prng_key") {
        let out = try required(outKey, "out_key")
        let key = PRNGKey(seed: seed)
        out[0] = key.k0
        out[1] = key.k1
    }
}

@_cdecl("sgx_prng_split")
public func sgx_prng_split(_ key: UnsafePointer<UInt32>?, _ num: Int32,
                           _ outKeys: UnsafeMutablePointer<UInt32>?) -> Int32 {
    guarded("sgx_prng_split") {
        let k = try loadKey(key)
        guard num >= 1 else { throw CError(.invalidArgument, "num must be >= 1, got \(num)") }
        let out = try required(outKeys, "out_keys")
        k.split(count: Int(num), into: out)
    }
}

@_cdecl("sgx_prng_fold_in")
public func sgx_prng_fold_in(_ key: UnsafePointer<UInt32>?, _ data: UInt32,
                             _ outKey: UnsafeMutablePointer<UInt32>?) -> Int32 {
    guarded("sgx_prng_fold_in") {
        let k = try loadKey(key).foldIn(data)
        let out = try required(outKey, "out_key")
        out[0] = k.k0
        out[1] = k.k1
    }
}

@_cdecl("sgx_prng_bits")
public func sgx_prng_bits(_ key: UnsafePointer<UInt32>?, _ n: Int64,
                          _ out: UnsafeMutablePointer<UInt32>?) -> Int32 {
    guarded("sgx_prng_bits") {
        let k = try loadKey(key)
        guard let out = try output(n, out) else { return }
        k.bits(count: Int(n), into: out)
    }
}

@_cdecl("sgx_prng_uniform")
public func sgx_prng_uniform(_ key: UnsafePointer<UInt32>?, _ n: Int64, _ minval: Float,
                             _ maxval: Float, _ out: UnsafeMutablePointer<Float>?) -> Int32 {
    guarded("sgx_prng_uniform") {
        let k = try loadKey(key)
        guard minval.isFinite, maxval.isFinite else {
            throw CError(.invalidArgument, "minval and maxval must be finite, got \(minval), \(maxval)")
        }
        guard let out = try output(n, out) else { return }
        k.uniform(count: Int(n), minval: minval, maxval: maxval, into: out)
    }
}

@_cdecl("sgx_prng_randint")
public func sgx_prng_randint(_ key: UnsafePointer<UInt32>?, _ n: Int64, _ minval: Int32,
                             _ maxval: Int32, _ out: UnsafeMutablePointer<Int32>?) -> Int32 {
    guarded("sgx_prng_randint") {
        let k = try loadKey(key)
        guard let out = try output(n, out) else { return }
        k.randint(count: Int(n), minval: minval, maxval: maxval, into: out)
    }
}

@_cdecl("sgx_prng_normal")
public func sgx_prng_normal(_ key: UnsafePointer<UInt32>?, _ n: Int64,
                            _ out: UnsafeMutablePointer<Float>?) -> Int32 {
    guarded("sgx_prng_normal") {
        let k = try loadKey(key)
        guard let out = try output(n, out) else { return }
        k.normal(count: Int(n), into: out)
    }
}
