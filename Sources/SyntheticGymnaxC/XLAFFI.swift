#if canImport(Glibc)
import Glibc
#endif
import CXLAFFI
import SyntheticGymnax

// XLA FFI handlers (the "typed FFI" custom calls of XLA:CPU): reset and step
// of a `sgx_env` inside a compiled JAX program, without a Python callback.
// The Python package registers them with `jax.ffi.register_ffi_target` and
// calls them with `jax.ffi.ffi_call`; see include/synthetic_gymnax.h for the
// operands, results and attributes. They validate what XLA passes, then call
// the same C ABI functions as the eager path, so results and error messages
// are the eager ones. The XLA structures are declared in Sources/CXLAFFI.

typealias XLAFrame = UnsafeMutablePointer<sgx_xla_call_frame>

/// An error for XLA to raise, created through XLA's own function table
/// (ownership passes to XLA). Without a usable table (only possible if XLA's
/// ABI changed incompatibly, which registration rules out) the message goes
/// to stderr.
private func xlaError(_ api: UnsafePointer<sgx_xla_api>?, _ code: Int, _ message: String) -> OpaquePointer? {
    guard let api, api.pointee.struct_size >= SGX_XLA_API_SIZE,
          api.pointee.api_version.major_version == Int32(SGX_XLA_FFI_API_MAJOR),
          let create = api.pointee.error_create else {
        fputs("libsynthetic_gymnax: XLA FFI error with no usable XLA API to report it: \(message)\n", stderr)
        return nil
    }
    return message.withCString { text in
        var args = sgx_xla_error_create_args(struct_size: Int(SGX_XLA_ERROR_CREATE_ARGS_SIZE),
                                             extension_start: nil, message: text, code: Int32(code))
        return create(&args)
    }
}

/// The metadata query XLA makes when a handler is registered: the FFI
/// version these handlers are written against, and no traits.
private func populateMetadata(_ api: UnsafePointer<sgx_xla_api>?,
                              _ extensionStart: UnsafeMutablePointer<sgx_xla_extension>) -> OpaquePointer? {
    let ext = UnsafeMutableRawPointer(extensionStart).assumingMemoryBound(to: sgx_xla_metadata_extension.self)
    guard ext.pointee.extension_base.struct_size >= SGX_XLA_METADATA_EXTENSION_SIZE,
          let metadata = ext.pointee.metadata, metadata.pointee.struct_size >= SGX_XLA_METADATA_SIZE else {
        return xlaError(api, Int(SGX_XLA_ERROR_FAILED_PRECONDITION),
                        "libsynthetic_gymnax: XLA's FFI metadata structures are smaller than expected; "
                            + "this XLA is too old for its FFI handlers")
    }
    metadata.pointee.api_version = sgx_xla_api_version(
        struct_size: Int(SGX_XLA_API_VERSION_SIZE), extension_start: nil,
        major_version: Int32(SGX_XLA_FFI_API_MAJOR), minor_version: Int32(SGX_XLA_FFI_API_MINOR))
    metadata.pointee.traits = 0
    return nil
}

/// The frame of one XLA call, validated; the body's `CError`s become XLA errors.
@inline(__always)
private func xlaHandler(_ name: StaticString, _ frame: XLAFrame?, _ body: (XLAFrame) throws -> Void)
    -> OpaquePointer? {
    guard let frame else { return nil }  // nothing to read, nowhere to report
    let api = frame.pointee.api
    guard frame.pointee.struct_size >= SGX_XLA_CALL_FRAME_SIZE else {
        return xlaError(api, Int(SGX_XLA_ERROR_FAILED_PRECONDITION),
                        "\(name): XLA's call frame has \(frame.pointee.struct_size) bytes, expected at least "
                            + "\(SGX_XLA_CALL_FRAME_SIZE); XLA and libsynthetic_gymnax disagree on the FFI ABI")
    }
    if let ext = frame.pointee.extension_start, ext.pointee.type == Int32(SGX_XLA_EXTENSION_METADATA) {
        return populateMetadata(api, ext)
    }
    guard frame.pointee.stage == Int32(SGX_XLA_STAGE_EXECUTE) else {
        return xlaError(api, Int(SGX_XLA_ERROR_INVALID_ARGUMENT),
                        "\(name): called at execution stage \(frame.pointee.stage); it is an execute handler")
    }
    do {
        try body(frame)
        return nil
    } catch let error as CError {
        let code = error.status == .internal ? SGX_XLA_ERROR_INTERNAL : SGX_XLA_ERROR_INVALID_ARGUMENT
        return xlaError(api, Int(code), error.message)
    } catch {
        return xlaError(api, Int(SGX_XLA_ERROR_INTERNAL), "\(name): \(error)")
    }
}

/// One operand or result buffer of an XLA call.
private struct XLABuffer {
    let dtype: Int32
    let data: UnsafeMutableRawPointer?
    let rank: Int
    let dims: UnsafeMutablePointer<Int64>?

    var count: Int {
        var c = 1
        for i in 0..<rank { c *= Int(dims![i]) }
        return c
    }

    func pointer<T>(_: T.Type) -> UnsafeMutablePointer<T>? { data?.assumingMemoryBound(to: T.self) }
}

private let dtypeNames: [Int32: String] = [
    Int32(SGX_XLA_DTYPE_PRED): "bool", Int32(SGX_XLA_DTYPE_S32): "int32", Int32(SGX_XLA_DTYPE_S64): "int64",
    Int32(SGX_XLA_DTYPE_U32): "uint32", Int32(SGX_XLA_DTYPE_U64): "uint64", Int32(SGX_XLA_DTYPE_F32): "float32",
]

private func dtypeName(_ dtype: Int32) -> String { dtypeNames[dtype] ?? "XLA dtype \(dtype)" }

/// The buffers of a call's operands (`rets == false`) or results.
private func buffers(_ frame: XLAFrame, rets: Bool, _ name: StaticString, counts: ClosedRange<Int>) throws -> [XLABuffer] {
    let size = Int(rets ? frame.pointee.rets.size : frame.pointee.args.size)
    let what = rets ? "results" : "operands"
    guard counts.contains(size) else {
        let expected = counts.count == 1 ? "\(counts.lowerBound)" : "\(counts.lowerBound) to \(counts.upperBound)"
        throw CError(.invalidArgument, "\(name): called with \(size) \(what), expected \(expected)")
    }
    let types = rets ? frame.pointee.rets.types : frame.pointee.args.types
    guard let list = rets ? frame.pointee.rets.rets : frame.pointee.args.args, let types else {
        throw CError(.nullPointer, "\(name): XLA passed no \(what)")
    }
    return try (0..<size).map { i in
        guard types[i] == Int32(rets ? SGX_XLA_RET_BUFFER : SGX_XLA_ARG_BUFFER), let raw = list[i] else {
            throw CError(.invalidArgument, "\(name): \(what) \(i) is not a buffer")
        }
        let b = raw.assumingMemoryBound(to: sgx_xla_buffer.self)
        guard b.pointee.struct_size >= SGX_XLA_BUFFER_SIZE, b.pointee.rank >= 0,
              b.pointee.rank == 0 || b.pointee.dims != nil else {
            throw CError(.invalidArgument, "\(name): \(what) \(i) is a malformed XLA buffer")
        }
        return XLABuffer(dtype: b.pointee.dtype, data: b.pointee.data, rank: Int(b.pointee.rank), dims: b.pointee.dims)
    }
}

/// The `env` attribute: the `sgx_env *` as a 64-bit integer scalar.
private func environmentAttribute(_ frame: XLAFrame, _ name: StaticString) throws -> EnvironmentHandle {
    let attrs = frame.pointee.attrs
    if attrs.size > 0, let names = attrs.names, let types = attrs.types, let values = attrs.attrs {
        for i in 0..<Int(attrs.size) {
            guard let span = names[i], span.pointee.len == 3, let p = span.pointee.ptr,
                  p[0] == 0x65, p[1] == 0x6E, p[2] == 0x76 else { continue }  // "env"
            guard types[i] == Int32(SGX_XLA_ATTR_SCALAR),
                  let scalar = values[i]?.assumingMemoryBound(to: sgx_xla_scalar.self),
                  scalar.pointee.dtype == Int32(SGX_XLA_DTYPE_U64) || scalar.pointee.dtype == Int32(SGX_XLA_DTYPE_S64),
                  let value = scalar.pointee.value else {
                throw CError(.invalidArgument, "\(name): attribute env must be a 64-bit integer (the sgx_env pointer)")
            }
            let bits = value.load(as: UInt64.self)
            guard let env = OpaquePointer(bitPattern: UInt(bits)) else {
                throw CError(.nullPointer, "\(name): attribute env is NULL")
            }
            return try handle(env)
        }
    }
    throw CError(.invalidArgument, "\(name): missing attribute env (the sgx_env pointer)")
}

private func expect(_ b: XLABuffer, _ name: StaticString, _ what: String, dtype: Int, count: Int) throws {
    guard b.dtype == Int32(dtype) else {
        throw CError(.invalidArgument, "\(name): \(what) must be \(dtypeName(Int32(dtype))), got \(dtypeName(b.dtype))")
    }
    guard b.count == count else {
        throw CError(.invalidArgument, "\(name): \(what) has \(b.count) elements, expected \(count)")
    }
    guard count == 0 || b.data != nil else { throw CError(.nullPointer, "\(name): \(what) has no data") }
}

/// The batch size from the keys (uint32 [..., 2]).
private func batchSize(_ keys: XLABuffer, _ name: StaticString) throws -> Int {
    guard keys.dtype == Int32(SGX_XLA_DTYPE_U32), keys.rank >= 1, keys.dims![keys.rank - 1] == 2 else {
        throw CError(.invalidArgument, "\(name): keys must be uint32 with last axis 2, got \(dtypeName(keys.dtype)) "
                         + "of rank \(keys.rank)")
    }
    let n = keys.count / 2
    guard n <= Int(Int32.max) else { throw CError(.invalidArgument, "\(name): batch of \(n) exceeds 2^31 - 1") }
    return n
}

/// Turns a failed C ABI status into the error it reported.
@inline(__always)
private func checked(_ status: Int32) throws {
    guard status == Status.ok.rawValue else {
        throw CError(Status(rawValue: status) ?? .internal, String(cString: sgx_last_error()))
    }
}

@_cdecl("sgx_xla_ffi_env_reset")
public func sgx_xla_ffi_env_reset(_ frame: UnsafeMutablePointer<sgx_xla_call_frame>?) -> OpaquePointer? {
    xlaHandler("sgx_xla_ffi_env_reset", frame) { frame in
        let name: StaticString = "sgx_xla_ffi_env_reset"
        let h = try environmentAttribute(frame, name)
        let args = try buffers(frame, rets: false, name, counts: 1...1)
        let rets = try buffers(frame, rets: true, name, counts: 3...3)
        let n = try batchSize(args[0], name)
        try expect(rets[0], name, "result obs", dtype: Int(SGX_XLA_DTYPE_F32), count: n * h.observationSize)
        try expect(rets[1], name, "result state", dtype: Int(SGX_XLA_DTYPE_F32), count: n * h.stateSize)
        try expect(rets[2], name, "result time", dtype: Int(SGX_XLA_DTYPE_S32), count: n)
        guard n > 0 else { return }
        try checked(sgx_env_reset(OpaquePointer(Unmanaged.passUnretained(h).toOpaque()), Int32(n),
                                  args[0].pointer(UInt32.self), rets[0].pointer(Float.self),
                                  rets[1].pointer(Float.self), rets[2].pointer(Int32.self)))
    }
}

@_cdecl("sgx_xla_ffi_env_step")
public func sgx_xla_ffi_env_step(_ frame: UnsafeMutablePointer<sgx_xla_call_frame>?) -> OpaquePointer? {
    xlaHandler("sgx_xla_ffi_env_step", frame) { frame in
        let name: StaticString = "sgx_xla_ffi_env_step"
        let h = try environmentAttribute(frame, name)
        let args = try buffers(frame, rets: false, name, counts: 4...4)
        let rets = try buffers(frame, rets: true, name, counts: 5...8)
        guard rets.count == 5 || rets.count == 8 else {
            throw CError(.invalidArgument, "\(name): called with \(rets.count) results, expected 5 or 8")
        }
        let n = try batchSize(args[0], name)
        let o = h.observationSize, w = h.stateSize
        try expect(args[1], name, "operand state", dtype: Int(SGX_XLA_DTYPE_F32), count: n * w)
        try expect(args[2], name, "operand time", dtype: Int(SGX_XLA_DTYPE_S32), count: n)
        let f32 = Int(SGX_XLA_DTYPE_F32), pred = Int(SGX_XLA_DTYPE_PRED)
        try expect(rets[0], name, "result obs", dtype: f32, count: n * o)
        try expect(rets[1], name, "result state", dtype: f32, count: n * w)
        try expect(rets[2], name, "result time", dtype: Int(SGX_XLA_DTYPE_S32), count: n)
        try expect(rets[3], name, "result reward", dtype: f32, count: n)
        try expect(rets[4], name, "result done", dtype: pred, count: n)
        if rets.count == 8 {
            try expect(rets[5], name, "result terminated", dtype: pred, count: n)
            try expect(rets[6], name, "result truncated", dtype: pred, count: n)
            try expect(rets[7], name, "result final_obs", dtype: f32, count: n * o)
        }
        let action = args[3]
        let env = OpaquePointer(Unmanaged.passUnretained(h).toOpaque())
        let extra = rets.count == 8
        let outs = (rets[0].pointer(Float.self), rets[1].pointer(Float.self), rets[2].pointer(Int32.self),
                    rets[3].pointer(Float.self), rets[4].pointer(UInt8.self),
                    extra ? rets[5].pointer(UInt8.self) : nil, extra ? rets[6].pointer(UInt8.self) : nil,
                    extra ? rets[7].pointer(Float.self) : nil)
        let keys = args[0].pointer(UInt32.self), state = args[1].pointer(Float.self)
        let time = args[2].pointer(Int32.self)
        switch h.actionSpace {
        case .discrete:
            guard action.count == n else {
                throw CError(.invalidArgument, "\(name): \(h.env.name) takes one discrete action per environment, "
                                 + "got \(action.count) for \(n)")
            }
            guard n > 0 else { return }
            if action.dtype == Int32(SGX_XLA_DTYPE_S32) {
                try checked(sgx_env_step_discrete(env, Int32(n), keys, state, time, action.pointer(Int32.self),
                                                  outs.0, outs.1, outs.2, outs.3, outs.4, outs.5, outs.6, outs.7))
            } else if action.dtype == Int32(SGX_XLA_DTYPE_F32), let floats = action.pointer(Float.self) {
                // Integral floats, as JAX programs sometimes pass; anything else is the eager path's error.
                let ints = UnsafeMutablePointer<Int32>.allocate(capacity: n)
                defer { ints.deallocate() }
                for i in 0..<n {
                    let a = floats[i]
                    guard a.isFinite, a == a.rounded(), abs(a) < 2_147_483_648 else {
                        throw CError(.wrongActionType,
                                     "\(h.env.name): discrete actions must be integers, got dtype float32 "
                                         + "(actions[\(i)] = \(a))")
                    }
                    ints[i] = Int32(a)
                }
                try checked(sgx_env_step_discrete(env, Int32(n), keys, state, time, ints,
                                                  outs.0, outs.1, outs.2, outs.3, outs.4, outs.5, outs.6, outs.7))
            } else {
                throw CError(.wrongActionType,
                             "\(h.env.name): discrete actions must be integers, got dtype \(dtypeName(action.dtype))")
            }
        case .box(let box):
            try expect(action, name, "operand action", dtype: f32, count: n * box.size)
            guard n > 0 else { return }
            try checked(sgx_env_step_continuous(env, Int32(n), keys, state, time, action.pointer(Float.self),
                                                outs.0, outs.1, outs.2, outs.3, outs.4, outs.5, outs.6, outs.7))
        }
    }
}
