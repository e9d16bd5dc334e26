#if canImport(Glibc)
import Glibc
#endif
import SyntheticGymnax

/// Status codes of include/synthetic_gymnax.h.
enum Status: Int32 {
    case ok = 0
    case nullPointer = 1
    case invalidArgument = 2
    case unknownID = 3
    case unknownParameter = 4
    case invalidAction = 5
    case wrongActionType = 6
    case io = 7
    case format = 8
    case stopped = 9
    case `internal` = 99

    var name: String {
        switch self {
        case .ok: return "SGX_OK"
        case .nullPointer: return "SGX_ERR_NULL_POINTER"
        case .invalidArgument: return "SGX_ERR_INVALID_ARGUMENT"
        case .unknownID: return "SGX_ERR_UNKNOWN_ID"
        case .unknownParameter: return "SGX_ERR_UNKNOWN_PARAMETER"
        case .invalidAction: return "SGX_ERR_INVALID_ACTION"
        case .wrongActionType: return "SGX_ERR_WRONG_ACTION_TYPE"
        case .io: return "SGX_ERR_IO"
        case .format: return "SGX_ERR_FORMAT"
        case .stopped: return "SGX_STOPPED"
        case .internal: return "SGX_ERR_INTERNAL"
        }
    }
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
        setLastError("\(function): \(error.description)")
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
    } catch let error as Safetensors.FormatError {
        setLastError("\(function): \(error.description)")
        return Status.format.rawValue
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
    for code: Int32 in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 99] {
        names[code] = staticCString(Status(rawValue: code)!.name)
    }
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
