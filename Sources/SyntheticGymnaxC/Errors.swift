#if canImport(Glibc)
import Glibc
#endif
import CSyntheticGymnax
import SyntheticGymnax

/// A status code of include/synthetic_gymnax.h, its value taken from the
/// header (module CSyntheticGymnax).
struct Status: RawRepresentable, Equatable {
    let rawValue: Int32

    private init(_ code: Int) { rawValue = Int32(code) }

    /// One of the header's codes; nil for any other value.
    init?(rawValue: Int32) {
        guard Status.all.contains(where: { $0.status.rawValue == rawValue }) else { return nil }
        self.rawValue = rawValue
    }

    static let ok = Status(SGX_OK)
    static let nullPointer = Status(SGX_ERR_NULL_POINTER)
    static let invalidArgument = Status(SGX_ERR_INVALID_ARGUMENT)
    static let unknownID = Status(SGX_ERR_UNKNOWN_ID)
    static let unknownParameter = Status(SGX_ERR_UNKNOWN_PARAMETER)
    static let invalidAction = Status(SGX_ERR_INVALID_ACTION)
    static let wrongActionType = Status(SGX_ERR_WRONG_ACTION_TYPE)
    static let io = Status(SGX_ERR_IO)
    static let format = Status(SGX_ERR_FORMAT)
    static let stopped = Status(SGX_STOPPED)
    static let `internal` = Status(SGX_ERR_INTERNAL)

    /// Every code with its name as the header spells it (`sgx_status_name`,
    /// `sgx_abi_constant`).
    static let all: [(name: String, status: Status)] = [
        ("SGX_OK", .ok), ("SGX_ERR_NULL_POINTER", .nullPointer), ("SGX_ERR_INVALID_ARGUMENT", .invalidArgument),
        ("SGX_ERR_UNKNOWN_ID", .unknownID), ("SGX_ERR_UNKNOWN_PARAMETER", .unknownParameter),
        ("SGX_ERR_INVALID_ACTION", .invalidAction), ("SGX_ERR_WRONG_ACTION_TYPE", .wrongActionType),
        ("SGX_ERR_IO", .io), ("SGX_ERR_FORMAT", .format), ("SGX_STOPPED", .stopped),
        ("SGX_ERR_INTERNAL", .internal),
    ]

    var name: String { Status.all.first { $0.status == self }!.name }
}

/// A failure to report through the C ABI: a status and a message.
struct CError: Error {
    let status: Status
    let message: String

    init(_ status: Status, _ message: String) {
        self.status = status
        self.message = message
    }
}

/// The calling thread's last error message, a malloc'd C string freed on
/// replacement or thread exit.
private let lastErrorKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key) { free($0) }
    return key
}()

func setLastError(_ message: String) {
    free(pthread_getspecific(lastErrorKey))
    pthread_setspecific(lastErrorKey, strdup(message))
}

/// Runs the body of an exported function: maps thrown errors to a status
/// and the thread's last-error message.
@inline(__always)
func guarded(_ function: String, _ body: () throws -> Void) -> Int32 {
    do {
        try body()
        return Status.ok.rawValue
    } catch let error as CError {
        setLastError("\(function): \(error.message)")
        return error.status.rawValue
    } catch let error as EnvironmentError {
        let status: Status
        switch error {
        case .unknownID: status = .unknownID
        case .unknownParameter: status = .unknownParameter
        case .invalidParameter: status = .invalidArgument
        case .io, .noCheckpoint: status = .io
        }
        // The core names no function of this ABI; the one to call is said here.
        let advice = if case .noCheckpoint = error { "; use sgx_env_create_from_checkpoint" } else { "" }
        setLastError("\(function): \(error.description)\(advice)")
        return status.rawValue
    } catch let error as AgentError {
        let status: Status
        switch error {
        case .unknownHyperparameter: status = .unknownParameter
        case .invalidHyperparameter, .unsupportedEnvironment, .invalidArgument, .diverged: status = .invalidArgument
        case .invalidPolicy: status = .format
        }
        setLastError("\(function): \(error.description)")
        return status.rawValue
    } catch let error as TaskEncodingError {
        setLastError("\(function): \(error.description)")
        return Status.format.rawValue
    } catch let error as MetaConfigError {
        setLastError("\(function): \(error.description)")
        return Status.format.rawValue
    } catch let error as SafetensorsError {
        setLastError("\(function): \(error.description)")
        return (error.kind == .unreadable ? Status.io : Status.format).rawValue
    } catch let error as AtomicFile.WriteError {
        setLastError("\(function): \(error.description)")
        return Status.io.rawValue
    } catch {
        setLastError("\(function): \(error)")
        return Status.internal.rawValue
    }
}

/// Unwraps a required pointer argument.
@inline(__always)
func required<T>(_ pointer: T?, _ name: String) throws -> T {
    guard let pointer else { throw CError(.nullPointer, "\(name) is NULL") }
    return pointer
}

/// A C string that lives as long as the process (ids, names, versions).
func staticCString(_ string: String) -> UnsafePointer<CChar> {
    UnsafePointer(strdup(string)!)
}

private let statusNames: [Int32: UnsafePointer<CChar>] = {
    var names: [Int32: UnsafePointer<CChar>] = [:]
    for (name, status) in Status.all { names[status.rawValue] = staticCString(name) }
    return names
}()
private let unknownStatusName = staticCString("SGX_ERR_UNKNOWN_STATUS")
private let emptyString = staticCString("")

@_cdecl("sgx_last_error")
public func sgx_last_error() -> UnsafePointer<CChar> {
    if let message = pthread_getspecific(lastErrorKey) {
        return UnsafePointer(message.assumingMemoryBound(to: CChar.self))
    }
    return emptyString
}

@_cdecl("sgx_status_name")
public func sgx_status_name(_ status: Int32) -> UnsafePointer<CChar> {
    statusNames[status] ?? unknownStatusName
}
