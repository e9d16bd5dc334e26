import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Number of threads batched work may use: the online cores, or the
/// environment variable SGX_NUM_THREADS when set (at least 1).
public let availableCores: Int = {
    if let text = getenv("SGX_NUM_THREADS"), let n = Int(String(cString: text)), n >= 1 { return n }
    return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
}()

/// Runs `body` over `0..<count` split into contiguous chunks, one per core,
/// when the batch is large enough to pay for the threads; inline otherwise.
/// Chunks are disjoint, so writes to per-index slots never race; they start
/// at multiples of `granularity`.
///
/// The chunks go to `WorkerPool.shared`: threads that stay awake (spinning)
/// for a moment after each job, so that the back-to-back calls of a training
/// loop are handed over in well under a microsecond (GCD's
/// `concurrentPerform` takes several, more than a step of 1024 environments
/// itself). Chunk c goes to the same thread every time, so that the data of a
/// batch stepped over and over stays in that core's cache; a thread the
/// system delays has its chunk taken by one that is free. A call made while
/// the pool is busy (from another thread, or from inside a chunk) uses
/// `concurrentPerform`.
@inlinable
public func parallelChunks(count: Int, minimumPerChunk: Int = 256, granularity: Int = 1,
                           _ body: (Range<Int>) -> Void) {
    let chunks = min(availableCores, count / minimumPerChunk)
    if chunks <= 1 || SerialExecution.isActive {
        body(0..<count)
        return
    }
    withoutActuallyEscaping(body) { body in
        let units = (count + granularity - 1) / granularity
        func boundary(_ c: Int) -> Int { min(count, c * units / chunks * granularity) }
        let chunk = { (c: Int) in body(boundary(c)..<boundary(c + 1)) }
        if !WorkerPool.shared.run(chunks: chunks, chunk) {
            DispatchQueue.concurrentPerform(iterations: chunks, execute: chunk)
        }
    }
}

/// Batched work on the calling thread only, for callers that parallelise at
/// a coarser grain (the meta-learner trains one agent per thread): inside
/// `SerialExecution.run`, `parallelChunks` never hands work to other
/// threads. Per thread; nests.
public enum SerialExecution {
    @usableFromInline static let depthKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// Whether the calling thread is inside `run`.
    @inlinable public static var isActive: Bool { pthread_getspecific(depthKey) != nil }

    /// Runs `body` with batched work kept on this thread.
    public static func run<T>(_ body: () throws -> T) rethrows -> T {
        let outer = pthread_getspecific(depthKey)
        pthread_setspecific(depthKey, UnsafeRawPointer(bitPattern: 1))
        defer { pthread_setspecific(depthKey, outer) }
        return try body()
    }
}

/// `availableCores - 1` worker threads plus the calling thread, running the
/// chunks of one job at a time.
public final class WorkerPool: @unchecked Sendable {
    public static let shared = WorkerPool(workers: availableCores - 1)

    /// A worker busy-waits this long for the next job before it sleeps.
    static let spinNanoseconds: UInt64 = 200_000

    /// The job number (high 32 bits), its chunk count (bits 24..<32) and
    /// the chunks already claimed (bit c for chunk c): claiming a chunk is one
    /// compare-exchange, which fails for a stale job.
    private let ticket = Atomic<UInt64>(0)
    /// Chunks of the current job not finished yet.
    private let unfinished = Atomic<Int>(0)
    /// The current job's `(Int) -> Void`; read only by a thread that has
    /// claimed one of its chunks, while the caller waits for it.
    private var body: UnsafeRawPointer?
    /// One caller at a time; the others (and nested calls) use GCD.
    private let busy = Atomic<Bool>(false)
    /// Sleeping workers wait here for the job number to change.
    private var mutex = pthread_mutex_t()
    private var wakeUp = pthread_cond_t()
    private var sleepers = 0
    private let workers: Int

    init(workers: Int) {
        self.workers = workers
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&wakeUp, nil)
        for index in 1...max(1, workers) where workers > 0 {
            var thread = pthread_t()
            let context = Unmanaged.passRetained(Worker(pool: self, index: index)).toOpaque()
            pthread_create(&thread, nil, { context in
                let worker = Unmanaged<Worker>.fromOpaque(context!).takeRetainedValue()
                worker.pool.workerLoop(index: worker.index)
                return nil
            }, context)
            pthread_detach(thread)
        }
    }

    /// Runs chunk(0..<chunks) on the pool's threads and this one; false
    /// (nothing run) when the pool is busy or has no workers.
    @usableFromInline
    func run(chunks: Int, _ chunk: (Int) -> Void) -> Bool {
        guard workers > 0, chunks <= 24,
              busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
        else { return false }
        defer { busy.store(false, ordering: .releasing) }
        withoutActuallyEscaping(chunk) { chunk in
            withUnsafePointer(to: chunk) { pointer in
                body = UnsafeRawPointer(pointer)
                unfinished.store(chunks, ordering: .relaxed)
                // Publishing the new job number releases the stores above.
                let job = (ticket.load(ordering: .relaxed) >> 32) &+ 1
                ticket.store(job << 32 | UInt64(chunks) << 24, ordering: .releasing)
                // Wake sleeping workers. (If the lock is taken, its holder is a
                // worker about to check the job number, which it will find new;
                // never blocking here also keeps a forked child from hanging.)
                if pthread_mutex_trylock(&mutex) == 0 {
                    if sleepers > 0 { pthread_cond_broadcast(&wakeUp) }
                    pthread_mutex_unlock(&mutex)
                }
                runChunks(of: job, first: 0)
                while unfinished.load(ordering: .acquiring) > 0 {}
                body = nil
            }
        }
        return true
    }

    /// Claims and runs chunks of job `job`, chunk `first` first, then any
    /// other not claimed yet, until none is left.
    private func runChunks(of job: UInt64, first: Int) {
        var current = ticket.load(ordering: .acquiring)
        while current >> 32 == job {
            let chunks = Int((current >> 24) & 0xFF), claimed = current & 0xFF_FFFF
            let all: UInt64 = (1 << chunks) - 1
            guard claimed != all else { return }
            let chunk = first < chunks && claimed & (1 << first) == 0
                ? first : (~claimed & all).trailingZeroBitCount
            let (exchanged, original) = ticket.compareExchange(
                expected: current, desired: current | (1 << chunk), ordering: .acquiringAndReleasing)
            if exchanged {
                // The claim succeeded: the job is live and `body` is its closure.
                Self.run(body!, chunk: chunk)
                unfinished.subtract(1, ordering: .releasing)
                current = ticket.load(ordering: .acquiring)
            } else {
                current = original
            }
        }
    }

    /// Calls the closure at `body`. Out of line, so that its copy of the
    /// closure is released before the chunk is reported finished (the caller
    /// then checks, in `withoutActuallyEscaping`, that nothing kept it).
    @inline(never)
    private static func run(_ body: UnsafeRawPointer, chunk: Int) {
        body.assumingMemoryBound(to: ((Int) -> Void).self).pointee(chunk)
    }

    private final class Worker {
        let pool: WorkerPool, index: Int
        init(pool: WorkerPool, index: Int) { (self.pool, self.index) = (pool, index) }
    }

    /// Worker `index` runs chunk `index` of each job (and helps with others).
    private func workerLoop(index: Int) {
        var seen: UInt64 = 0
        while true {
            var job = ticket.load(ordering: .acquiring) >> 32
            if job == seen {
                let start = DispatchTime.now().uptimeNanoseconds
                var spins = 0
                while job == seen {
                    spins &+= 1
                    if spins & 1023 == 0,
                       DispatchTime.now().uptimeNanoseconds &- start > Self.spinNanoseconds {
                        pthread_mutex_lock(&mutex)
                        sleepers += 1
                        while ticket.load(ordering: .acquiring) >> 32 == seen {
                            pthread_cond_wait(&wakeUp, &mutex)
                        }
                        sleepers -= 1
                        pthread_mutex_unlock(&mutex)
                    }
                    job = ticket.load(ordering: .acquiring) >> 32
                }
            }
            seen = job
            runChunks(of: job, first: index)
        }
    }
}
