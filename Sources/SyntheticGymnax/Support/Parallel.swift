import Dispatch

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
/// Chunks are disjoint, so writes to per-index slots never race.
@inlinable
public func parallelChunks(count: Int, minimumPerChunk: Int = 256, _ body: (Range<Int>) -> Void) {
    let chunks = min(availableCores, count / minimumPerChunk)
    if chunks <= 1 {
        body(0..<count)
        return
    }
    withoutActuallyEscaping(body) { body in
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            body((c * count / chunks)..<((c + 1) * count / chunks))
        }
    }
}
