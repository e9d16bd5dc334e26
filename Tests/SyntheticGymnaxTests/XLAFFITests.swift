import CXLAFFI
import XCTest
@testable import SyntheticGymnax
@testable import SGXRandom
@testable import SGXNN
@testable import SGXEnvironments
@testable import SGXAgents
@testable import SGXMetaLearning
@testable import SyntheticGymnaxC

/// The XLA FFI handlers without XLA: call frames built here as XLA builds
/// them, and a function table whose error constructor records the message.
final class XLAFFITests: XCTestCase {
    /// What the fake XLA's error constructor received.
    nonisolated(unsafe) static var lastError: (code: Int32, message: String)?

    private static let createError: sgx_xla_error_create_fn = { args in
        XLAFFITests.lastError = (args!.pointee.code, String(cString: args!.pointee.message))
        return OpaquePointer(bitPattern: 0x1)  // any non-NULL error
    }

    /// Everything a call frame points to, kept alive for one call.
    private final class Frame {
        var api = sgx_xla_api()
        var frame = sgx_xla_call_frame()
        var buffers: [UnsafeMutablePointer<sgx_xla_buffer>] = []
        var dims: [UnsafeMutablePointer<Int64>] = []
        var argPointers = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: 8)
        var argTypes = UnsafeMutablePointer<Int32>.allocate(capacity: 8)
        var retPointers = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: 8)
        var retTypes = UnsafeMutablePointer<Int32>.allocate(capacity: 8)
        var envValue = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
        var scalar = UnsafeMutablePointer<sgx_xla_scalar>.allocate(capacity: 1)
        var name = UnsafeMutablePointer<sgx_xla_byte_span>.allocate(capacity: 1)
        var namePointer = UnsafeMutablePointer<UnsafeMutablePointer<sgx_xla_byte_span>?>.allocate(capacity: 1)
        var attrPointer = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: 1)
        var attrType = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
        let envName = strdup("env")!

        init(env: OpaquePointer?) {
            api.struct_size = Int(SGX_XLA_API_SIZE)
            api.api_version = sgx_xla_api_version(struct_size: Int(SGX_XLA_API_VERSION_SIZE), extension_start: nil,
                                                  major_version: 0, minor_version: 3)
            api.error_create = XLAFFITests.createError
            frame.struct_size = Int(SGX_XLA_CALL_FRAME_SIZE)
            frame.stage = Int32(SGX_XLA_STAGE_EXECUTE)
            envValue.pointee = UInt64(UInt(bitPattern: env.map { UnsafeRawPointer($0) }))
            scalar.pointee = sgx_xla_scalar(dtype: Int32(SGX_XLA_DTYPE_U64), value: UnsafeMutableRawPointer(envValue))
            name.pointee = sgx_xla_byte_span(ptr: UnsafePointer(envName), len: 3)
            namePointer.pointee = name
            attrPointer.pointee = UnsafeMutableRawPointer(scalar)
            attrType.pointee = Int32(SGX_XLA_ATTR_SCALAR)
        }

        func buffer<T>(_ data: UnsafeMutablePointer<T>, _ dtype: Int, _ shape: [Int64]) -> UnsafeMutableRawPointer {
            let d = UnsafeMutablePointer<Int64>.allocate(capacity: max(1, shape.count))
            for (i, s) in shape.enumerated() { d[i] = s }
            dims.append(d)
            let b = UnsafeMutablePointer<sgx_xla_buffer>.allocate(capacity: 1)
            b.pointee = sgx_xla_buffer(struct_size: Int(SGX_XLA_BUFFER_SIZE), extension_start: nil,
                                       dtype: Int32(dtype), data: UnsafeMutableRawPointer(data),
                                       rank: Int64(shape.count), dims: d)
            buffers.append(b)
            return UnsafeMutableRawPointer(b)
        }

        func call(_ handler: (UnsafeMutablePointer<sgx_xla_call_frame>?) -> OpaquePointer?,
                  args: [UnsafeMutableRawPointer], rets: [UnsafeMutableRawPointer], withEnv: Bool = true)
            -> OpaquePointer? {
            for (i, a) in args.enumerated() { argPointers[i] = a; argTypes[i] = Int32(SGX_XLA_ARG_BUFFER) }
            for (i, r) in rets.enumerated() { retPointers[i] = r; retTypes[i] = Int32(SGX_XLA_RET_BUFFER) }
            return withUnsafePointer(to: &api) { apiPointer in
                frame.api = apiPointer
                frame.args = sgx_xla_args(struct_size: MemoryLayout<sgx_xla_args>.size, extension_start: nil,
                                          size: Int64(args.count), types: argTypes, args: argPointers)
                frame.rets = sgx_xla_rets(struct_size: MemoryLayout<sgx_xla_rets>.size, extension_start: nil,
                                          size: Int64(rets.count), types: retTypes, rets: retPointers)
                frame.attrs = sgx_xla_attrs(struct_size: MemoryLayout<sgx_xla_attrs>.size, extension_start: nil,
                                            size: withEnv ? 1 : 0, types: attrType, names: namePointer,
                                            attrs: attrPointer)
                return withUnsafeMutablePointer(to: &frame) { handler($0) }
            }
        }
    }

    private func cartPole() throws -> OpaquePointer {
        var env: OpaquePointer?
        XCTAssertEqual(sgx_env_create("CartPole-v1", nil, nil, 0, &env), 0)
        return try XCTUnwrap(env)
    }

    func testMetadataQueryReportsVersion() {
        for handler in [sgx_xla_ffi_env_step, sgx_xla_ffi_env_reset] {
            var metadata = sgx_xla_metadata()
            metadata.struct_size = Int(SGX_XLA_METADATA_SIZE)
            withUnsafeMutablePointer(to: &metadata) { m in
                var ext = sgx_xla_metadata_extension(
                    extension_base: sgx_xla_extension(struct_size: Int(SGX_XLA_METADATA_EXTENSION_SIZE),
                                                      type: Int32(SGX_XLA_EXTENSION_METADATA), next: nil),
                    metadata: m)
                withUnsafeMutablePointer(to: &ext) { e in
                    var frame = sgx_xla_call_frame()
                    frame.struct_size = Int(SGX_XLA_CALL_FRAME_SIZE)
                    frame.extension_start = UnsafeMutableRawPointer(e).assumingMemoryBound(to: sgx_xla_extension.self)
                    frame.stage = Int32(SGX_XLA_STAGE_EXECUTE)
                    XCTAssertNil(handler(&frame))  // api is NULL here, as in some XLA versions
                }
            }
            XCTAssertEqual(metadata.api_version.major_version, 0)
            XCTAssertEqual(metadata.api_version.minor_version, 1)
            XCTAssertEqual(metadata.traits, 0)
        }
    }

    func testStepEqualsTheCABIAndErrorsAreReported() throws {
        let env = try cartPole()
        defer { sgx_env_free(env) }
        let n = 3
        let keys = UnsafeMutablePointer<UInt32>.allocate(capacity: 2 * n)
        var root: [UInt32] = [0, 0]
        XCTAssertEqual(sgx_prng_key(7, &root), 0)
        XCTAssertEqual(sgx_prng_split(root, Int32(n), keys), 0)
        let state = UnsafeMutablePointer<Float>.allocate(capacity: 4 * n)
        let obs = UnsafeMutablePointer<Float>.allocate(capacity: 4 * n)
        let time = UnsafeMutablePointer<Int32>.allocate(capacity: n)
        let frame = Frame(env: env)
        XCTAssertNil(frame.call(sgx_xla_ffi_env_reset, args: [frame.buffer(keys, Int(SGX_XLA_DTYPE_U32), [3, 2])],
                                rets: [frame.buffer(obs, Int(SGX_XLA_DTYPE_F32), [3, 4]),
                                       frame.buffer(state, Int(SGX_XLA_DTYPE_F32), [3, 4]),
                                       frame.buffer(time, Int(SGX_XLA_DTYPE_S32), [3])]))
        var refObs = [Float](repeating: 0, count: 4 * n), refState = refObs, refTime = [Int32](repeating: 0, count: n)
        XCTAssertEqual(sgx_env_reset(env, Int32(n), keys, &refObs, &refState, &refTime), 0)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: obs, count: 4 * n)), refObs)

        let actions = UnsafeMutablePointer<Int32>.allocate(capacity: n)
        actions.initialize(from: [1, 0, 1], count: n)
        let out = (obs: UnsafeMutablePointer<Float>.allocate(capacity: 4 * n),
                   state: UnsafeMutablePointer<Float>.allocate(capacity: 4 * n),
                   time: UnsafeMutablePointer<Int32>.allocate(capacity: n),
                   reward: UnsafeMutablePointer<Float>.allocate(capacity: n),
                   done: UnsafeMutablePointer<UInt8>.allocate(capacity: n))
        func stepCall(_ f: Frame, actionBuffer: UnsafeMutableRawPointer, keyShape: [Int64] = [3, 2]) -> OpaquePointer? {
            f.call(sgx_xla_ffi_env_step,
                   args: [f.buffer(keys, Int(SGX_XLA_DTYPE_U32), keyShape), f.buffer(state, Int(SGX_XLA_DTYPE_F32), [3, 4]),
                          f.buffer(time, Int(SGX_XLA_DTYPE_S32), [3]), actionBuffer],
                   rets: [f.buffer(out.obs, Int(SGX_XLA_DTYPE_F32), [3, 4]),
                          f.buffer(out.state, Int(SGX_XLA_DTYPE_F32), [3, 4]),
                          f.buffer(out.time, Int(SGX_XLA_DTYPE_S32), [3]),
                          f.buffer(out.reward, Int(SGX_XLA_DTYPE_F32), [3]),
                          f.buffer(out.done, Int(SGX_XLA_DTYPE_PRED), [3])])
        }
        XCTAssertNil(stepCall(frame, actionBuffer: frame.buffer(actions, Int(SGX_XLA_DTYPE_S32), [3])))
        var r = (obs: [Float](repeating: 0, count: 4 * n), state: [Float](repeating: 0, count: 4 * n),
                 time: [Int32](repeating: 0, count: n), reward: [Float](repeating: 0, count: n),
                 done: [UInt8](repeating: 0, count: n))
        XCTAssertEqual(sgx_env_step_discrete(env, Int32(n), keys, state, time, actions, &r.obs, &r.state, &r.time,
                                             &r.reward, &r.done, nil, nil, nil), 0)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: out.obs, count: 4 * n)), r.obs)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: out.state, count: 4 * n)), r.state)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: out.reward, count: n)), r.reward)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: out.done, count: n)), r.done)

        // Integral floats are accepted; others are the eager path's error.
        let floats = UnsafeMutablePointer<Float>.allocate(capacity: n)
        floats.initialize(from: [1, 0, 1], count: n)
        XCTAssertNil(stepCall(Frame(env: env), actionBuffer: frame.buffer(floats, Int(SGX_XLA_DTYPE_F32), [3])))
        XCTAssertEqual(Array(UnsafeBufferPointer(start: out.obs, count: 4 * n)), r.obs)
        floats[2] = 0.5
        XCTAssertNotNil(stepCall(Frame(env: env), actionBuffer: frame.buffer(floats, Int(SGX_XLA_DTYPE_F32), [3])))
        XCTAssertEqual(Self.lastError?.code, Int32(SGX_XLA_ERROR_INVALID_ARGUMENT))
        XCTAssertTrue(Self.lastError!.message.contains("discrete actions must be integers"), Self.lastError!.message)

        actions[1] = 2
        XCTAssertNotNil(stepCall(Frame(env: env), actionBuffer: frame.buffer(actions, Int(SGX_XLA_DTYPE_S32), [3])))
        XCTAssertEqual(Self.lastError?.message,
                       "sgx_env_step_discrete: actions[1] = 2 is out of range for CartPole-v1: must be in [0, 2)")

        XCTAssertNotNil(stepCall(Frame(env: env), actionBuffer: frame.buffer(actions, Int(SGX_XLA_DTYPE_S32), [3]),
                                 keyShape: [3, 3]))
        XCTAssertTrue(Self.lastError!.message.contains("keys must be uint32 with last axis 2"), Self.lastError!.message)

        actions[1] = 0
        let wrong = Frame(env: env)
        XCTAssertNotNil(wrong.call(sgx_xla_ffi_env_step, args: [wrong.buffer(keys, Int(SGX_XLA_DTYPE_U32), [3, 2])],
                                   rets: []))
        XCTAssertTrue(Self.lastError!.message.contains("called with 1 operands, expected 4"), Self.lastError!.message)

        let noEnv = Frame(env: env)
        XCTAssertNotNil(noEnv.call(sgx_xla_ffi_env_reset, args: [noEnv.buffer(keys, Int(SGX_XLA_DTYPE_U32), [3, 2])],
                                   rets: [], withEnv: false))
        XCTAssertTrue(Self.lastError!.message.contains("missing attribute env"), Self.lastError!.message)

        let nullEnv = Frame(env: nil)
        XCTAssertNotNil(nullEnv.call(sgx_xla_ffi_env_reset, args: [nullEnv.buffer(keys, Int(SGX_XLA_DTYPE_U32), [3, 2])],
                                     rets: []))
        XCTAssertTrue(Self.lastError!.message.contains("attribute env is NULL"), Self.lastError!.message)

        let small = Frame(env: env)
        small.frame.struct_size = 16
        XCTAssertNotNil(small.call(sgx_xla_ffi_env_reset, args: [], rets: []))
        XCTAssertTrue(Self.lastError!.message.contains("disagree on the FFI ABI"), Self.lastError!.message)
    }
}
