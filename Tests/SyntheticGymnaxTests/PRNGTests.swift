import XCTest
@testable import SyntheticGymnax
@testable import SGXSupport
@testable import SGXRandom
@testable import SGXNN
@testable import SGXEnvironments
@testable import SGXAgents
@testable import SGXMetaLearning

/// jax.random against vectors produced by real JAX (fixture prng.json).
final class PRNGTests: XCTestCase {
    var fixture: [String: Any] = [:]

    override func setUpWithError() throws {
        fixture = try Fixture.load("prng")
    }

    private func key(_ record: [String: Any], _ name: String = "key") -> PRNGKey {
        let words = record.uint32s(name)
        return PRNGKey(words[0], words[1])
    }

    func testPRNGKeyFromSeed() {
        for r in fixture.records("key") {
            let seed = (r["seed"] as! NSNumber).int64Value
            XCTAssertEqual(PRNGKey(seed: seed), key(r), "seed \(seed)")
        }
        XCTAssertEqual(PRNGKey(seed64: (1 << 32) + 5), PRNGKey(1, 5))
    }

    func testSplitIsBitExact() {
        let records = fixture.records("split")
        XCTAssertFalse(records.isEmpty)
        for r in records {
            let expected = (r["out"] as! [[NSNumber]]).map { PRNGKey($0[0].uint32Value, $0[1].uint32Value) }
            XCTAssertEqual(key(r).split(r.int("num")), expected)
        }
        // The known first vector: jax.random.split(PRNGKey(0), 3)[0].
        XCTAssertEqual(PRNGKey(seed: 0).split(index: 0), PRNGKey(1_797_259_609, 2_579_123_966))
    }

    func testFoldInIsBitExact() {
        for r in fixture.records("fold_in") {
            let out = r.uint32s("out")
            XCTAssertEqual(key(r).foldIn(r.uint32("data")), PRNGKey(out[0], out[1]))
        }
    }

    func testBitsAreBitExact() {
        for r in fixture.records("bits") {
            XCTAssertEqual(key(r).bits(count: r.int("n")), r.uint32s("out"))
        }
    }

    func testUniformIsBitExact() {
        let records = fixture.records("uniform")
        XCTAssertGreaterThan(records.count, 10)
        for r in records {
            let got = key(r).uniform(count: r.int("n"), minval: r.float("minval"), maxval: r.float("maxval"))
            XCTAssertEqual(got.map(\.bitPattern), r.uint32s("out"),
                           "uniform(\(r.float("minval")), \(r.float("maxval")))")
        }
    }

    func testRandintIsExact() {
        for r in fixture.records("randint") {
            let got = key(r).randint(count: r.int("n"), minval: Int32(r.int("minval")),
                                     maxval: Int32(r.int("maxval")))
            XCTAssertEqual(got, (r["out"] as! [NSNumber]).map(\.int32Value),
                           "randint(\(r.int("minval")), \(r.int("maxval")))")
        }
    }

    func testNormalWithinOneMillionth() {
        var exact = 0, total = 0
        for r in fixture.records("normal") {
            let got = key(r).normal(count: r.int("n"))
            for (g, e) in zip(got, r.floats("out")) {
                XCTAssertEqual(g, e, accuracy: 1e-6 * max(1, abs(e)))
                exact += g == e ? 1 : 0
                total += 1
            }
        }
        XCTAssertGreaterThan(total, 0)
        print("normal: \(exact)/\(total) bit-exact")
    }

    func testBernoulliIsExact() {
        for r in fixture.records("bernoulli") {
            let got = key(r).bernoulli(count: r.int("n"), p: r.float("p"))
            XCTAssertEqual(got, (r["out"] as! [NSNumber]).map(\.boolValue))
        }
    }
}
