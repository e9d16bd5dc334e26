#if canImport(Glibc)
import Glibc
#endif
import Foundation
import CSyntheticGymnax
import SyntheticGymnax

// The task-execution functions of include/synthetic_gymnax.h: an executor
// given by the caller (sgx_executor_fn) runs the inner-loop runs of
// sgx_metalearn_with_executor and sgx_evaluate_transfer_with_executor,
// reading the batch with sgx_task_batch_*; a worker runs the tasks it is
// sent with sgx_task_runner_*.

/// `sgx_executor_fn`.
public typealias ExecutorFunction = @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Int32

/// A `TaskExecutor` that hands each list of tasks, as an `sgx_task_batch`,
/// to the caller's executor function.
final class CallbackExecutor: TaskExecutor {
    let function: ExecutorFunction
    let user: UnsafeMutableRawPointer?
    /// The context's bytes, encoded once per run (the batches point into them).
    private var context: (of: TaskContext, bytes: UnsafeMutableRawBufferPointer)?
    /// Whether a batch ended with SGX_STOPPED.
    private(set) var stopped = false

    init(function: ExecutorFunction, user: UnsafeMutableRawPointer?) { (self.function, self.user) = (function, user) }

    deinit { context?.bytes.deallocate() }

    func execute(_ tasks: [InnerLoopTask], runner: TaskRunner, poll: @escaping (Int) -> Bool) throws -> [InnerLoop.Outcome]? {
        if context?.of != runner.context {
            context?.bytes.deallocate()
            context = (runner.context, Self.copy(runner.context.encoded))
        }
        let batch = TaskBatch(context: UnsafeRawBufferPointer(context!.bytes), tasks: tasks, poll: poll)
        let status = function(Unmanaged.passUnretained(batch).toOpaque(), user)
        withExtendedLifetime(batch) {}
        switch status {
        case Status.ok.rawValue:
            return try tasks.indices.map { i in
                guard var outcome = batch.outcome(i) else {
                    throw CError(.internal, "the executor returned SGX_OK without an outcome for task \(i) of \(tasks.count)")
                }
                outcome.hyperparameters = runner.hyperparameters(for: tasks[i])
                return outcome
            }
        case Status.stopped.rawValue:
            stopped = true
            return nil
        default:
            let code = Status(rawValue: status) ?? .internal
            let name = Status(rawValue: status)?.name ?? "\(status)"
            throw CError(code == .ok || code == .stopped ? .internal : code,
                         "the task executor failed (\(name)): \(batch.failure ?? "it gave no message (sgx_task_batch_fail)")")
        }
    }

    static func copy(_ bytes: [UInt8]) -> UnsafeMutableRawBufferPointer {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Swift.max(1, bytes.count), alignment: 8)
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
        return buffer
    }
}

/// `sgx_task_batch`: the tasks of one phase, their encodings, the outcomes set so far.
final class TaskBatch {
    let context: UnsafeRawBufferPointer
    let tasks: [InnerLoopTask]
    /// Every task's bytes, one after another; task i at offsets[i]..<offsets[i + 1].
    private let taskBytes: UnsafeMutableRawBufferPointer
    private let offsets: [Int]
    private var outcomes: [InnerLoop.Outcome?]
    private let lock = NSLock()
    let poll: (Int) -> Bool
    var failure: String?

    init(context: UnsafeRawBufferPointer, tasks: [InnerLoopTask], poll: @escaping (Int) -> Bool) {
        self.context = context
        self.tasks = tasks
        self.poll = poll
        let encoded = tasks.map(\.encoded)
        var offsets = [0]
        for e in encoded { offsets.append(offsets.last! + e.count) }
        self.offsets = offsets
        taskBytes = CallbackExecutor.copy(encoded.flatMap { $0 })
        outcomes = Array(repeating: nil, count: tasks.count)
    }

    deinit { taskBytes.deallocate() }

    func task(_ i: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(taskBytes)[offsets[i]..<offsets[i + 1]])
    }

    func setOutcome(_ i: Int, _ outcome: InnerLoop.Outcome) { lock.lock(); outcomes[i] = outcome; lock.unlock() }
    func outcome(_ i: Int) -> InnerLoop.Outcome? { lock.lock(); defer { lock.unlock() }; return outcomes[i] }
}

private func batch(_ pointer: UnsafeRawPointer?) throws -> TaskBatch {
    Unmanaged<TaskBatch>.fromOpaque(try required(pointer, "batch")).takeUnretainedValue()
}

private func index(_ i: Int32, _ b: TaskBatch) throws -> Int {
    guard i >= 0, Int(i) < b.tasks.count else {
        throw CError(.invalidArgument, "index \(i) is outside the batch's 0...\(b.tasks.count - 1)")
    }
    return Int(i)
}

@_cdecl("sgx_task_batch_context")
public func sgx_task_batch_context(_ pointer: UnsafeRawPointer?, _ outBytes: UnsafeMutablePointer<UnsafeRawPointer?>?,
                                   _ outSize: UnsafeMutablePointer<Int64>?) -> Int32 {
    guarded("sgx_task_batch_context") {
        let b = try batch(pointer)
        let (bytes, size) = (try required(outBytes, "out_bytes"), try required(outSize, "out_size"))
        bytes.pointee = b.context.baseAddress
        size.pointee = Int64(b.context.count)
    }
}

@_cdecl("sgx_task_batch_count")
public func sgx_task_batch_count(_ pointer: UnsafeRawPointer?) -> Int32 {
    var count: Int32 = 0
    let status = guarded("sgx_task_batch_count") { count = Int32(try batch(pointer).tasks.count) }
    return status == Status.ok.rawValue ? count : -status
}

@_cdecl("sgx_task_batch_task")
public func sgx_task_batch_task(_ pointer: UnsafeRawPointer?, _ i: Int32, _ outBytes: UnsafeMutablePointer<UnsafeRawPointer?>?,
                                _ outSize: UnsafeMutablePointer<Int64>?) -> Int32 {
    guarded("sgx_task_batch_task") {
        let b = try batch(pointer)
        let (bytes, size) = (try required(outBytes, "out_bytes"), try required(outSize, "out_size"))
        let task = b.task(try index(i, b))
        bytes.pointee = task.baseAddress
        size.pointee = Int64(task.count)
    }
}

@_cdecl("sgx_task_batch_set_outcome")
public func sgx_task_batch_set_outcome(_ pointer: UnsafeMutableRawPointer?, _ i: Int32, _ bytes: UnsafePointer<UInt8>?,
                                       _ size: Int64) -> Int32 {
    guarded("sgx_task_batch_set_outcome") {
        let b = try batch(pointer)
        let at = try index(i, b)
        let data = try required(bytes, "bytes")
        guard size >= 0, size <= Int64(SGX_MAX_OUTCOME_BYTES) else {
            throw CError(.format, "an outcome has at most \(SGX_MAX_OUTCOME_BYTES) bytes (SGX_MAX_OUTCOME_BYTES), got size \(size)")
        }
        do {
            b.setOutcome(at, try InnerLoop.Outcome(encoded: UnsafeBufferPointer(start: data, count: Int(size))))
        } catch let error as TaskEncodingError {
            throw CError(.format, "task \(i): \(error.problem)")
        }
    }
}

@_cdecl("sgx_task_batch_report")
public func sgx_task_batch_report(_ pointer: UnsafeMutableRawPointer?, _ done: Int32) -> Int32 {
    var goOn = true
    let status = guarded("sgx_task_batch_report") {
        let b = try batch(pointer)
        guard done >= 0, Int(done) <= b.tasks.count else {
            throw CError(.invalidArgument, "done must be in 0...\(b.tasks.count), got \(done)")
        }
        goOn = b.poll(Int(done))
    }
    if status != Status.ok.rawValue { return status }
    guard goOn else {
        setLastError("sgx_task_batch_report: the progress callback asked to stop")
        return Status.stopped.rawValue
    }
    return Status.ok.rawValue
}

@_cdecl("sgx_task_batch_fail")
public func sgx_task_batch_fail(_ pointer: UnsafeMutableRawPointer?, _ message: UnsafePointer<CChar>?) -> Int32 {
    guarded("sgx_task_batch_fail") {
        let b = try batch(pointer)
        b.failure = String(cString: try required(message, "message"))
    }
}

// MARK: Runners

@_cdecl("sgx_task_runner_create")
public func sgx_task_runner_create(_ bytes: UnsafePointer<UInt8>?, _ size: Int64,
                                   _ outRunner: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    guarded("sgx_task_runner_create") {
        let data = try required(bytes, "bytes")
        let out = try required(outRunner, "out_runner")
        guard size >= 0 else { throw CError(.invalidArgument, "size must be >= 0, got \(size)") }
        let runner: TaskRunner
        do {
            let context = try TaskContext(encoded: UnsafeBufferPointer(start: data, count: Int(size)))
            runner = try TaskRunner(context: context)
        } catch let error as TaskEncodingError {
            throw CError(.format, error.problem)
        } catch let error as MetaConfigError {
            throw CError(.format, "the context's config: \(error.description)")
        } catch let error as EnvironmentError {
            throw CError(.format, "the context's checkpoint: \(error.description)")
        }
        out.pointee = Unmanaged.passRetained(runner).toOpaque()
    }
}

@_cdecl("sgx_task_runner_run")
public func sgx_task_runner_run(_ pointer: UnsafeRawPointer?, _ bytes: UnsafePointer<UInt8>?, _ size: Int64,
                                _ outOutcome: UnsafeMutablePointer<UInt8>?, _ capacity: Int64,
                                _ outSize: UnsafeMutablePointer<Int64>?) -> Int32 {
    guarded("sgx_task_runner_run") {
        let runner = Unmanaged<TaskRunner>.fromOpaque(try required(pointer, "runner")).takeUnretainedValue()
        let data = try required(bytes, "bytes")
        let out = try required(outOutcome, "out_outcome")
        let outSize = try required(outSize, "out_size")
        guard size >= 0 else { throw CError(.invalidArgument, "size must be >= 0, got \(size)") }
        guard capacity >= 0 else { throw CError(.invalidArgument, "capacity must be >= 0, got \(capacity)") }
        let encoded: [UInt8]
        do {
            let task = try InnerLoopTask(encoded: UnsafeBufferPointer(start: data, count: Int(size)))
            encoded = try runner.run(task).encoded
        } catch let error as TaskEncodingError {
            throw CError(.format, error.problem)
        } catch let error as MetaConfigError {
            throw CError(.format, "the context's config: \(error.description)")
        }
        guard Int64(encoded.count) <= capacity else {
            outSize.pointee = Int64(encoded.count)
            throw CError(.invalidArgument, "the outcome has \(encoded.count) bytes; capacity is \(capacity) (SGX_MAX_OUTCOME_BYTES always suffice)")
        }
        encoded.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: encoded.count) }
        outSize.pointee = Int64(encoded.count)
    }
}

@_cdecl("sgx_task_runner_free")
public func sgx_task_runner_free(_ pointer: UnsafeMutableRawPointer?) {
    guard let pointer else { return }
    Unmanaged<TaskRunner>.fromOpaque(pointer).release()
}
