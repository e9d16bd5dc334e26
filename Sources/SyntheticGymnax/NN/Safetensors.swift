import Foundation

/// The safetensors file format (float32 tensors only): an 8-byte little-endian
/// header length, a JSON header mapping tensor names to dtype, shape and byte
/// offsets (plus a string-to-string `__metadata__`), then the raw data.
public enum Safetensors {
    public struct Tensor: Sendable, Equatable {
        public var shape: [Int]
        public var values: [Float]

        public init(shape: [Int], values: [Float]) {
            precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not hold \(values.count) values")
            self.shape = shape
            self.values = values
        }
    }

    /// What is wrong with a file, naming the file and the problem.
    public struct FormatError: Error, CustomStringConvertible, Equatable {
        public let path: String
        public let problem: String
        public var description: String { "\(path): \(problem)" }
    }

    /// Reads every tensor and the metadata. Throws `EnvironmentError.io` when
    /// the file cannot be read and `FormatError` when it is not valid.
    public static func read(path: String) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        guard let data = FileManager.default.contents(atPath: path) else {
            let exists = FileManager.default.fileExists(atPath: path)
            throw EnvironmentError.io(path: path, reason: exists ? "cannot be read" : "no such file")
        }
        return try parse(data, path: path)
    }

    static func parse(_ data: Data, path: String) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        func fail(_ problem: String) -> FormatError { FormatError(path: path, problem: problem) }
        let bytes = [UInt8](data)
        guard bytes.count >= 8 else { throw fail("truncated: \(bytes.count) bytes, shorter than the 8-byte header length") }
        let headerLength = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[$1]) << (8 * UInt64($1)) }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw fail("truncated or corrupt: header of \(headerLength) bytes, but only \(bytes.count - 8) follow")
        }
        let headerEnd = 8 + Int(headerLength)
        guard let header = try? JSONSerialization.jsonObject(with: Data(bytes[8..<headerEnd])) as? [String: Any] else {
            throw fail("corrupt: the header is not a JSON object")
        }
        var metadata: [String: String] = [:]
        if let meta = header["__metadata__"] {
            guard let meta = meta as? [String: String] else { throw fail("corrupt: __metadata__ is not a string map") }
            metadata = meta
        }
        let dataSize = bytes.count - headerEnd
        var tensors: [String: Tensor] = [:]
        var ranges: [(Int, Int, String)] = []
        for (name, value) in header where name != "__metadata__" {
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = (info["shape"] as? [NSNumber])?.map(\.intValue),
                  let offsets = (info["data_offsets"] as? [NSNumber])?.map(\.intValue), offsets.count == 2
            else { throw fail("corrupt: tensor '\(name)' lacks dtype, shape or data_offsets") }
            guard dtype == "F32" else { throw fail("tensor '\(name)' has dtype \(dtype); only F32 is supported") }
            guard shape.allSatisfy({ $0 >= 0 }) else { throw fail("tensor '\(name)' has a negative dimension \(shape)") }
            let (begin, end) = (offsets[0], offsets[1])
            guard 0 <= begin, begin <= end, end <= dataSize else {
                throw fail("truncated or corrupt: tensor '\(name)' spans bytes \(begin)..<\(end) of \(dataSize)")
            }
            let count = shape.reduce(1, *)
            guard end - begin == 4 * count else {
                throw fail("corrupt: tensor '\(name)' of shape \(shape) needs \(4 * count) bytes, has \(end - begin)")
            }
            ranges.append((begin, end, name))
            var values = [Float](repeating: 0, count: count)
            values.withUnsafeMutableBytes { out in
                bytes.withUnsafeBytes { src in
                    out.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[(headerEnd + begin)..<(headerEnd + end)]))
                }
            }
            // The file is little-endian; so is every platform this builds for.
            tensors[name] = Tensor(shape: shape, values: values)
        }
        ranges.sort { $0.0 < $1.0 }
        for (a, b) in zip(ranges, ranges.dropFirst()) where b.0 < a.1 {
            throw fail("corrupt: tensors '\(a.2)' and '\(b.2)' overlap")
        }
        return (tensors, metadata)
    }

    /// The file's bytes for `tensors` and `metadata` (tensors sorted by name).
    public static func encode(tensors: [String: Tensor], metadata: [String: String]) throws -> Data {
        var header: [String: Any] = ["__metadata__": metadata]
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            let t = tensors[name]!
            header[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + 4 * t.values.count]]
            offset += 4 * t.values.count
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data()
        var length = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
        out.append(json)
        for name in names {
            tensors[name]!.values.withUnsafeBytes { out.append(contentsOf: $0) }
        }
        return out
    }

    /// Writes `tensors` and `metadata` to `path` (atomically).
    public static func write(path: String, tensors: [String: Tensor], metadata: [String: String]) throws {
        let data = try encode(tensors: tensors, metadata: metadata)
        do {
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw EnvironmentError.io(path: path, reason: "cannot be written (\(error.localizedDescription))")
        }
    }
}
