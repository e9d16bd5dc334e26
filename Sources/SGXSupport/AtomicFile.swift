#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Files replaced whole or not at all, also across a power cut: the bytes go
/// to a temporary file beside the destination, which is flushed to disk
/// (fsync) before it is renamed over the destination, and the directory is
/// flushed after the rename. A reader sees the old file or the new one.
public enum AtomicFile {
    /// A file that could not be written: the path and what failed.
    public struct WriteError: Error, CustomStringConvertible, Equatable {
        public let path: String
        public let reason: String
        public var description: String { "\(path): \(reason)" }
    }

    /// Writes `data` to `path`. Throws `WriteError` naming the path.
    public static func write(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp").path
        func failure(_ what: String) -> WriteError {
            WriteError(path: path, reason: "cannot be written (\(what): \(String(cString: strerror(errno))))")
        }
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("creating \(temporary)") }
        var ok = data.withUnsafeBytes { buffer -> Bool in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return false }
                offset += n
            }
            return true
        }
        if !ok {
            let error = failure("writing")
            close(fd)
            unlink(temporary)
            throw error
        }
        ok = fsync(fd) == 0
        let fsyncError = ok ? nil : failure("fsync")
        close(fd)
        if let fsyncError {
            unlink(temporary)
            throw fsyncError
        }
        guard rename(temporary, path) == 0 else {
            let error = failure("renaming")
            unlink(temporary)
            throw error
        }
        // The rename itself is durable once the directory is flushed.
        let dir = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dir >= 0 {
            _ = fsync(dir)
            close(dir)
        }
    }
}
