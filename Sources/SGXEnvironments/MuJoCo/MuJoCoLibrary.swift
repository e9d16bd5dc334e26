import CMuJoCo

#if canImport(Glibc)
import Glibc
#endif

/// MuJoCo's C library, opened at run time.
///
/// The package compiles against the MuJoCo header it finds (Debian's
/// `libmujoco-dev`, MuJoCo 2.2.2, through the `CMuJoCo` system-library
/// module) but does not link the library: it is opened with `dlopen` the first
/// time a MuJoCo environment is created. So a machine without libmujoco, or
/// with another MuJoCo version (whose structs may be laid out differently),
/// gets a clear error at creation (`EnvironmentError.io` naming the library),
/// and every other environment keeps working.
///
/// The library is looked up as `$SGX_MUJOCO_LIBRARY` when set, then
/// `libmujoco.so.<header version>` (e.g. `libmujoco.so.2.2.2`), then
/// `libmujoco.so`; its `mj_version()` must equal the header's.
///
/// Opening it installs a silent warning handler (`mju_user_warning`):
/// MuJoCo's default prints every warning and appends it to `MUJOCO_LOG.TXT`
/// in the working directory. The environments read the warning counters of
/// their `mjData` instead (see `MuJoCoLocomotion`).
struct MuJoCoLibrary: @unchecked Sendable {
    typealias ModelFunction = @convention(c) (UnsafePointer<mjModel>?, UnsafeMutablePointer<mjData>?) -> Void

    let path: String
    let loadXML: @convention(c) (UnsafePointer<CChar>?, OpaquePointer?, UnsafeMutablePointer<CChar>?, Int32)
        -> UnsafeMutablePointer<mjModel>?
    let deleteModel: @convention(c) (UnsafeMutablePointer<mjModel>?) -> Void
    let makeData: @convention(c) (UnsafePointer<mjModel>?) -> UnsafeMutablePointer<mjData>?
    let deleteData: @convention(c) (UnsafeMutablePointer<mjData>?) -> Void
    let step: ModelFunction
    let kinematics: ModelFunction
    let comPos: ModelFunction
    let comVel: ModelFunction
    let objectVelocity: @convention(c) (UnsafePointer<mjModel>?, UnsafePointer<mjData>?, Int32, Int32,
                                        UnsafeMutablePointer<mjtNum>?, Int32) -> Void
    let defaultVFS: @convention(c) (OpaquePointer?) -> Void
    let makeEmptyFileVFS: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, Int32) -> Int32
    let findFileVFS: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?) -> Int32
    let deleteVFS: @convention(c) (OpaquePointer?) -> Void

    /// The MuJoCo version this package was compiled against, as `mj_version()`
    /// reports it (222 for 2.2.2).
    static let headerVersion = Int32(mjVERSION_HEADER)

    static var headerVersionString: String {
        "\(headerVersion / 100).\(headerVersion / 10 % 10).\(headerVersion % 10)"
    }

    /// The library, opened once; or why it cannot be used.
    static let shared: Result<MuJoCoLibrary, EnvironmentError> = open()

    /// The library, or the error that explains why it is unavailable.
    static func get() throws -> MuJoCoLibrary { try shared.get() }

    private static func open() -> Result<MuJoCoLibrary, EnvironmentError> {
        var candidates = ["libmujoco.so.\(headerVersionString)", "libmujoco.so"]
        if let custom = getenv("SGX_MUJOCO_LIBRARY").map({ String(cString: $0) }), !custom.isEmpty {
            candidates = [custom]
        }
        var handle: UnsafeMutableRawPointer?
        var failures: [String] = []
        var path = candidates[0]
        for candidate in candidates {
            if let h = dlopen(candidate, RTLD_NOW | RTLD_LOCAL) {
                handle = h
                path = candidate
                break
            }
            failures.append(dlerror().map { String(cString: $0) } ?? "\(candidate): cannot be opened")
        }
        guard let handle else {
            return .failure(.io(path: candidates[0], reason:
                "MuJoCo \(headerVersionString) is not available (\(failures.joined(separator: "; "))); "
                + "install it (Debian/Ubuntu: apt-get install libmujoco-dev) or set SGX_MUJOCO_LIBRARY "
                + "to the path of libmujoco.so.\(headerVersionString)"))
        }
        var missing: [String] = []
        func symbol<T>(_ name: String, _ type: T.Type) -> T? {
            guard let pointer = dlsym(handle, name) else {
                missing.append(name)
                return nil
            }
            return unsafeBitCast(pointer, to: type)
        }
        typealias VersionFunction = @convention(c) () -> Int32
        let version = symbol("mj_version", VersionFunction.self)
        let library = MuJoCoLibrary(
            path: path,
            loadXML: symbol("mj_loadXML", type(of: placeholder.loadXML)) ?? placeholder.loadXML,
            deleteModel: symbol("mj_deleteModel", type(of: placeholder.deleteModel)) ?? placeholder.deleteModel,
            makeData: symbol("mj_makeData", type(of: placeholder.makeData)) ?? placeholder.makeData,
            deleteData: symbol("mj_deleteData", type(of: placeholder.deleteData)) ?? placeholder.deleteData,
            step: symbol("mj_step", ModelFunction.self) ?? placeholder.step,
            kinematics: symbol("mj_kinematics", ModelFunction.self) ?? placeholder.step,
            comPos: symbol("mj_comPos", ModelFunction.self) ?? placeholder.step,
            comVel: symbol("mj_comVel", ModelFunction.self) ?? placeholder.step,
            objectVelocity: symbol("mj_objectVelocity", type(of: placeholder.objectVelocity))
                ?? placeholder.objectVelocity,
            defaultVFS: symbol("mj_defaultVFS", type(of: placeholder.defaultVFS)) ?? placeholder.defaultVFS,
            makeEmptyFileVFS: symbol("mj_makeEmptyFileVFS", type(of: placeholder.makeEmptyFileVFS))
                ?? placeholder.makeEmptyFileVFS,
            findFileVFS: symbol("mj_findFileVFS", type(of: placeholder.findFileVFS)) ?? placeholder.findFileVFS,
            deleteVFS: symbol("mj_deleteVFS", type(of: placeholder.deleteVFS)) ?? placeholder.deleteVFS)
        let warningHandler = dlsym(handle, "mju_user_warning")
        if warningHandler == nil { missing.append("mju_user_warning") }
        guard missing.isEmpty, let version else {
            dlclose(handle)
            return .failure(.io(path: path, reason:
                "not a usable MuJoCo library: missing \(missing.joined(separator: ", "))"))
        }
        let found = version()
        guard found == headerVersion else {
            dlclose(handle)
            return .failure(.io(path: path, reason:
                "is MuJoCo \(found / 100).\(found / 10 % 10).\(found % 10), but this build was compiled "
                + "against the MuJoCo \(headerVersionString) header; install libmujoco \(headerVersionString) "
                + "or rebuild against the installed header"))
        }
        typealias WarningHandler = @convention(c) (UnsafePointer<CChar>?) -> Void
        warningHandler!.assumingMemoryBound(to: Optional<WarningHandler>.self).pointee = { _ in }
        return .success(library)
    }

    /// Stand-ins for the function pointers while they are looked up (never
    /// called: a library with any symbol missing is rejected).
    private static let placeholder = MuJoCoLibrary(
        path: "", loadXML: { _, _, _, _ in nil }, deleteModel: { _ in }, makeData: { _ in nil },
        deleteData: { _ in }, step: { _, _ in }, kinematics: { _, _ in }, comPos: { _, _ in },
        comVel: { _, _ in }, objectVelocity: { _, _, _, _, _, _ in }, defaultVFS: { _ in },
        makeEmptyFileVFS: { _, _, _ in 1 }, findFileVFS: { _, _ in -1 }, deleteVFS: { _ in })
}

/// A compiled MuJoCo model, shared (read-only) by every value of an
/// environment, and a pool of `mjData` for the threads that simulate it: a
/// batch takes one `mjData` per chunk of environments and loads each
/// environment's state into it in turn.
final class MuJoCoModel: @unchecked Sendable {
    let library: MuJoCoLibrary
    let model: UnsafeMutablePointer<mjModel>
    let name: String
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var pool: [UnsafeMutablePointer<mjData>] = []

    /// Compiles `xml` (an MJCF document) from memory, through MuJoCo's
    /// virtual file system.
    private init(name: String, xml: String, library: MuJoCoLibrary) throws {
        self.library = library
        self.name = name
        let vfs = OpaquePointer(UnsafeMutableRawPointer.allocate(byteCount: sgx_mjVFS_size(), alignment: 16))
        defer {
            library.deleteVFS(vfs)
            UnsafeMutableRawPointer(vfs).deallocate()
        }
        library.defaultVFS(vfs)
        let file = name + ".xml"
        let bytes = Array(xml.utf8)
        guard library.makeEmptyFileVFS(vfs, file, Int32(bytes.count)) == 0 else {
            throw EnvironmentError.io(path: file, reason: "MuJoCo could not hold the model in memory")
        }
        let index = library.findFileVFS(vfs, file)
        guard index >= 0 else {
            throw EnvironmentError.io(path: file, reason: "MuJoCo could not hold the model in memory")
        }
        bytes.withUnsafeBytes { sgx_mjVFS_fill(UnsafeMutableRawPointer(vfs), index, $0.baseAddress, Int32($0.count)) }
        var error = [CChar](repeating: 0, count: 1000)
        guard let model = library.loadXML(file, vfs, &error, Int32(error.count)) else {
            throw EnvironmentError.io(path: file, reason:
                "MuJoCo cannot compile the model: \(String(cString: error))")
        }
        self.model = model
        pthread_mutex_init(lock, nil)
        // One data now, so that a model MuJoCo cannot simulate fails here.
        guard let data = library.makeData(model) else {
            library.deleteModel(model)
            throw EnvironmentError.io(path: file, reason: "MuJoCo cannot allocate the model's data")
        }
        pool.append(data)
    }

    deinit {
        for data in pool { library.deleteData(data) }
        library.deleteModel(model)
        pthread_mutex_destroy(lock)
        lock.deallocate()
    }

    /// Runs `body` with an `mjData` of this model that no other thread uses.
    /// Its contents are whatever the previous user left: load a state fully.
    func withData<R>(_ body: (UnsafeMutablePointer<mjData>) throws -> R) rethrows -> R {
        pthread_mutex_lock(lock)
        let reused = pool.popLast()
        pthread_mutex_unlock(lock)
        guard let data = reused ?? library.makeData(model) else {
            fatalError("MuJoCo could not allocate data for \(name)")
        }
        defer {
            pthread_mutex_lock(lock)
            pool.append(data)
            pthread_mutex_unlock(lock)
        }
        return try body(data)
    }

    nonisolated(unsafe) private static var cache: [String: MuJoCoModel] = [:]
    private static let cacheLock: UnsafeMutablePointer<pthread_mutex_t> = {
        let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(lock, nil)
        return lock
    }()

    /// The model `name` (e.g. "hopper"), compiled from `xml` on first use and
    /// shared afterwards, for the life of the process.
    static func shared(_ name: String, xml: String) throws -> MuJoCoModel {
        let library = try MuJoCoLibrary.get()
        pthread_mutex_lock(cacheLock)
        defer { pthread_mutex_unlock(cacheLock) }
        if let model = cache[name] { return model }
        let model = try MuJoCoModel(name: name, xml: xml, library: library)
        cache[name] = model
        return model
    }
}
