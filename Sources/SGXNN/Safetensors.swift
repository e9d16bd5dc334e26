import SGXSupport

#if canImport(Glibc)
import Glibc
#endif
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

    /// The error of a file that is not valid.
    public typealias FormatError = SafetensorsError

    /// Reads every tensor and the metadata. Throws a `SafetensorsError`:
    /// `unreadable` when the file cannot be read, `format` when it is not
    /// valid or larger than `Limits.fileBytes` (checked before reading it).
    public static func read(path: String) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw SafetensorsError(unreadable: path, errno == ENOENT ? "no such file" : "cannot be read")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw SafetensorsError(unreadable: path, "cannot be read (not a regular file)")
        }
        guard Int(info.st_size) <= Limits.fileBytes else {
            throw FormatError(path: path, problem: "the file has \(info.st_size) bytes, more than the bound of \(Limits.fileBytes) (1 GiB)")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SafetensorsError(unreadable: path, "cannot be read")
        }
        return try parse(data, path: path)
    }

    /// A JSON integer (written without fraction or exponent, not a boolean)
    /// in 0...2^53, or nil.
    private static func count(_ value: Any) -> Int? {
        guard let n = value as? NSNumber else { return nil }
        // JSONSerialization gives integer literals an integer type, "4.0"
        // and "1e0" a double ("d"), true and false a char ("c").
        switch String(cString: n.objCType) {
        case "Q", "L", "I", "S":
            let u = n.uint64Value
            return u <= 1 << 53 ? Int(u) : nil
        case "q", "l", "i", "s":
            let i = n.int64Value
            return i >= 0 && i <= 1 << 53 ? Int(i) : nil
        default:
            return nil
        }
    }

    /// The first object key of the JSON text `json` (already known to be
    /// valid JSON) that repeats an earlier key of its object, exactly or as
    /// canonically equivalent Unicode, described; nil when there is none.
    /// A scan with its own stack: no recursion, whatever the nesting.
    static func duplicateKey(_ json: ArraySlice<UInt8>) -> String? {
        // A class: mutated in place on the stack (a struct copied out and
        // back would copy its sets for every key, quadratic in the keys).
        final class Object { var expectKey = true; var scalars = Set<[UInt32]>(); var texts: [String: [UInt32]] = [:] }
        var stack: [Object?] = []  // nil: an array
        var i = json.startIndex
        while i < json.endIndex {
            let c = json[i]
            switch c {
            case UInt8(ascii: "{"): stack.append(Object())
            case UInt8(ascii: "["): stack.append(nil)
            case UInt8(ascii: "}"), UInt8(ascii: "]"): _ = stack.popLast()
            case UInt8(ascii: ","): if let object = stack.last ?? nil { object.expectKey = true }
            case UInt8(ascii: "\""):
                // The string's bytes, escapes decoded to scalars.
                var scalars: [UInt32] = [], raw: [UInt8] = []
                i += 1
                while i < json.endIndex && json[i] != UInt8(ascii: "\"") {
                    if json[i] == UInt8(ascii: "\\"), i + 1 < json.endIndex {
                        if !raw.isEmpty { scalars += String(decoding: raw, as: UTF8.self).unicodeScalars.map(\.value); raw = [] }
                        let e = json[i + 1]
                        if e == UInt8(ascii: "u"), i + 5 < json.endIndex,
                           let v = UInt32(String(decoding: json[(i + 2)...(i + 5)], as: UTF8.self), radix: 16) {
                            i += 6
                            if (0xDC00...0xDFFF).contains(v), let high = scalars.last, (0xD800...0xDBFF).contains(high) {
                                scalars[scalars.count - 1] = 0x10000 + ((high - 0xD800) << 10) + (v - 0xDC00)
                            } else {
                                scalars.append(v)
                            }
                        } else {
                            scalars.append(UInt32(e))
                            i += 2
                        }
                    } else {
                        raw.append(json[i])
                        i += 1
                    }
                }
                if !raw.isEmpty { scalars += String(decoding: raw, as: UTF8.self).unicodeScalars.map(\.value) }
                if let object = stack.last ?? nil, object.expectKey {
                    object.expectKey = false
                    let text = String(String.UnicodeScalarView(scalars.compactMap(Unicode.Scalar.init)))
                    if object.scalars.contains(scalars) { return "key '\(text)' appears twice in one object of the header" }
                    if let other = object.texts[text] {
                        let show = { (s: [UInt32]) in s.map { $0 < 128 ? String(UnicodeScalar(UInt8($0))) : String(format: "\\u{%X}", $0) }.joined() }
                        return "keys '\(show(other))' and '\(show(scalars))' of one object of the header are the same text in different Unicode forms"
                    }
                    object.scalars.insert(scalars)
                    object.texts[text] = scalars
                }
            default: break
            }
            i += 1
        }
        return nil
    }

    /// Bytes per element of the dtypes safetensors defines; only F32 is read.
    static let dtypeSizes: [String: Int] = [
        "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
        "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
    ]

    /// Parses a file's bytes. Every number of the header is checked before
    /// it is used: the header length against the file and `Limits.headerBytes`,
    /// each shape's element count and byte size with overflow-checked
    /// arithmetic, offsets inside the data section; the tensors must cover
    /// the data section exactly, without gaps or overlaps (as the
    /// safetensors library requires).
    package static func parse(_ data: Data, path: String) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        func fail(_ problem: String) -> FormatError { FormatError(path: path, problem: problem) }
        let bytes = [UInt8](data)
        guard bytes.count >= 8 else { throw fail("truncated: \(bytes.count) bytes, shorter than the 8-byte header length") }
        let headerLength = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[$1]) << (8 * UInt64($1)) }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw fail("truncated or corrupt: header of \(headerLength) bytes, but only \(bytes.count - 8) follow")
        }
        guard headerLength <= UInt64(Limits.headerBytes) else {
            throw fail("corrupt: header of \(headerLength) bytes exceeds the bound of \(Limits.headerBytes) (16 MiB)")
        }
        let headerEnd = 8 + Int(headerLength)
        // The spec: the header MUST begin with "{" (padding is trailing spaces).
        guard headerEnd > 8, bytes[8] == UInt8(ascii: "{") else {
            throw fail("corrupt: the header does not begin with '{'")
        }
        guard let header = try? JSONSerialization.jsonObject(with: Data(bytes[8..<headerEnd])) as? [String: Any] else {
            throw fail("corrupt: the header is not a JSON object")
        }
        // Keys are byte strings in safetensors; a Swift dictionary merges
        // keys given twice, and keys that are the same text in different
        // Unicode forms ("caf\u{E9}", "cafe\u{301}"): refuse both.
        if let problem = duplicateKey(bytes[8..<headerEnd]) { throw fail("corrupt: \(problem)") }
        var metadata: [String: String] = [:]
        if let meta = header["__metadata__"] {
            guard let meta = meta as? [String: String] else { throw fail("corrupt: __metadata__ is not a string map") }
            metadata = meta
        }
        let dataSize = bytes.count - headerEnd
        var tensors: [String: Tensor] = [:]
        var ranges: [(begin: Int, end: Int, name: String)] = []
        for (name, value) in header.sorted(by: { $0.key < $1.key }) where name != "__metadata__" {
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let rawShape = info["shape"] as? [Any], let rawOffsets = info["data_offsets"] as? [Any],
                  rawOffsets.count == 2
            else { throw fail("corrupt: tensor '\(name)' lacks dtype, shape or data_offsets") }
            guard let elementSize = dtypeSizes[dtype] else { throw fail("tensor '\(name)' has an unknown dtype '\(dtype)'") }
            guard dtype == "F32" else { throw fail("tensor '\(name)' has dtype \(dtype); only F32 is supported") }
            guard rawShape.count <= 16 else { throw fail("corrupt: tensor '\(name)' has \(rawShape.count) dimensions (at most 16)") }
            let dims = rawShape.map(count)
            guard dims.allSatisfy({ $0 != nil }) else {
                throw fail("corrupt: tensor '\(name)' has a shape \(rawShape) that is not a list of non-negative JSON integers")
            }
            let shape = dims.map { $0! }
            let offsets = rawOffsets.map(count)
            guard let begin = offsets[0], let end = offsets[1] else {
                throw fail("truncated or corrupt: tensor '\(name)' has data_offsets \(rawOffsets), not two non-negative JSON integers")
            }
            guard begin <= end, end <= dataSize else {
                throw fail("truncated or corrupt: tensor '\(name)' spans bytes \(begin)..<\(end) of \(dataSize)")
            }
            guard let count = Limits.product(shape), let byteCount = Limits.product(count, elementSize) else {
                throw fail("corrupt: tensor '\(name)' has shape \(shape), whose size overflows")
            }
            guard end - begin == byteCount else {
                throw fail("corrupt: tensor '\(name)' of shape \(shape) needs \(byteCount) bytes, has \(end - begin)")
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
        ranges.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var covered = 0
        for (i, r) in ranges.enumerated() {
            if r.begin < covered {
                throw fail("corrupt: tensors '\(ranges[i - 1].name)' and '\(r.name)' overlap")
            }
            if r.begin > covered {
                throw fail("corrupt: bytes \(covered)..<\(r.begin) of the data belong to no tensor")
            }
            covered = r.end
        }
        guard covered == dataSize else {
            throw fail("corrupt: bytes \(covered)..<\(dataSize) of the data belong to no tensor")
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

    /// Writes `tensors` and `metadata` to `path` (atomically and durably:
    /// `AtomicFile`, whose `AtomicFile.WriteError` says what failed).
    public static func write(path: String, tensors: [String: Tensor], metadata: [String: String]) throws {
        try AtomicFile.write(try encode(tensors: tensors, metadata: metadata), to: path)
    }
}

/// What is wrong with a safetensors file, naming the file and the problem:
/// it cannot be read, or it is not valid (`Safetensors.FormatError`).
public struct SafetensorsError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable { case unreadable, format }
    public let kind: Kind
    public let path: String
    public let problem: String
    public var description: String { "\(path): \(problem)" }

    /// A file that is not valid.
    public init(path: String, problem: String) { (kind, self.path, self.problem) = (.format, path, problem) }

    /// A file that cannot be read.
    public init(unreadable path: String, _ problem: String) { (kind, self.path, self.problem) = (.unreadable, path, problem) }
}
