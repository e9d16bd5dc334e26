import Foundation
import XCTest

/// JSON fixtures written by Tests/fixtures/generate.py with real JAX and
/// gymnax 0.0.9. Floats are stored as their float32 bit patterns.
enum Fixture {
    static func load(_ name: String) throws -> [String: Any] {
        let url = try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: "json",
                                                  subdirectory: "Fixtures"),
                                "fixture \(name).json missing")
        let data = try Data(contentsOf: url)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }
}

extension Dictionary where Key == String, Value == Any {
    func int(_ key: String) -> Int { (self[key] as! NSNumber).intValue }
    func double(_ key: String) -> Double { (self[key] as! NSNumber).doubleValue }
    func uint32(_ key: String) -> UInt32 { (self[key] as! NSNumber).uint32Value }
    func float(_ key: String) -> Float { Float(bitPattern: uint32(key)) }
    func uint32s(_ key: String) -> [UInt32] { (self[key] as! [NSNumber]).map(\.uint32Value) }
    func floats(_ key: String) -> [Float] { uint32s(key).map(Float.init(bitPattern:)) }
    func records(_ key: String) -> [[String: Any]] { self[key] as! [[String: Any]] }
    func dict(_ key: String) -> [String: Any] { self[key] as! [String: Any] }
}
