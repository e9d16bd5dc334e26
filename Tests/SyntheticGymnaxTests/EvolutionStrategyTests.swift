import Foundation
import XCTest
@testable import SyntheticGymnax

/// SNES and OpenES against evosax 0.1.6 (fixture evosax.json, written by
/// Tests/fixtures/generate_evosax.py), option validation, errors, and
/// saving / resuming.
final class EvolutionStrategyTests: XCTestCase {
    /// Agreement with evosax, norm-wise: for every compared vector (a
    /// population row, a mean, a sigma), max |ours - evosax| <= tolerance ·
    /// max |evosax|. Element-wise relative error is the wrong measure for a
    /// mean component that cancels to nearly zero; float32 rounding of the
    /// sums is relative to the vector's scale.
    static let tolerance: Float = 1e-6

    /// Running comparison statistics, printed once per test.
    struct Parity {
        var compared = 0, identical = 0
        var maxRelative: Float = 0
        var failures: [String] = []

        mutating func check(_ ours: [Float], _ theirs: [Float], _ what: @autoclosure () -> String, rowLength: Int? = nil) {
            guard ours.count == theirs.count else {
                failures.append("\(what()): \(ours.count) values, expected \(theirs.count)")
                return
            }
            let n = rowLength ?? max(theirs.count, 1)
            for start in stride(from: 0, to: theirs.count, by: n) {
                let a = ours[start ..< min(start + n, ours.count)], b = theirs[start ..< min(start + n, theirs.count)]
                let scale = max(b.map(abs).max() ?? 0, Float.leastNormalMagnitude)
                var worst: Float = 0
                for (x, y) in zip(a, b) {
                    compared += 1
                    if x.bitPattern == y.bitPattern { identical += 1; continue }
                    let d = abs(x - y)
                    worst = max(worst, d.isNaN ? .infinity : d)
                }
                let rel = worst / scale
                maxRelative = max(maxRelative, rel)
                if !(rel <= EvolutionStrategyTests.tolerance) && failures.count < 20 {
                    failures.append("\(what()) (from \(start)): norm-wise difference \(rel)")
                }
            }
        }

        var summary: String {
            "\(identical)/\(compared) bit-identical, largest norm-wise difference \(maxRelative)"
        }
    }

    /// evosax keyword arguments from the fixture as config scalars.
    static func keywords(_ options: [String: Any]) -> (keywords: [String: ConfigScalar], maximize: Bool) {
        var out: [String: ConfigScalar] = [:]
        var maximize = false
        for (k, v) in options {
            if k == "maximize" { maximize = (v as! NSNumber).boolValue; continue }
            if let s = v as? String { out[k] = ConfigScalar(kind: .string, text: s); continue }
            let n = v as! NSNumber
            if ["centered_rank", "z_score", "norm_range", "use_antithetic_sampling"].contains(k) {
                out[k] = ConfigScalar(kind: .bool, text: n.boolValue ? "true" : "false")
            } else if k == "popsize" {
                out[k] = ConfigScalar(kind: .int, text: "\(n.intValue)")
            } else {
                out[k] = ConfigScalar(kind: .float, text: "\(n.doubleValue)")
            }
        }
        return (out, maximize)
    }

    func runFixtureCases(strategy name: String) throws {
        let fixture = try Fixture.load("evosax")
        let cases = fixture.records("strategies").filter { ($0["strategy"] as! String) == name }
        XCTAssertFalse(cases.isEmpty)
        var populations = Parity(), states = Parity()
        var bestExact = 0, bestCount = 0
        for c in cases {
            let caseName = c["name"] as! String
            let d = c.int("num_dims")
            let (kw, maximize) = Self.keywords(c.dict("options"))
            let initKey = c.uint32s("init_key")
            var es = try AnyEvolutionStrategy(name: name, numDims: d, parameters: kw, maximize: maximize,
                                              key: PRNGKey(initKey[0], initKey[1]))
            if c["init_mean"] is [NSNumber] { try es.setMean(c.floats("init_mean")) }
            let initial = c.dict("initial")
            states.check(es.mean, initial.floats("mean"), "\(caseName) initial mean")
            states.check(es.sigma, initial.floats("sigma"), "\(caseName) initial sigma")
            if case let .snes(s) = es {
                states.check(s.state.weights, initial.floats("weights"), "\(caseName) weights")
                states.check([s.options.effectiveLrateSigma], [initial.float("lrate_sigma")], "\(caseName) lrate_sigma")
            }
            let rows = (c["rows"] as? [NSNumber])?.map(\.intValue)
            for (g, record) in c.records("generations").enumerated() {
                let k = record.uint32s("key")
                let population = es.ask(key: PRNGKey(k[0], k[1]))
                let ours = (rows ?? Array(0..<es.popsize)).flatMap { population.member($0) }
                populations.check(ours, record.floats("population"), "\(caseName) gen \(g) population", rowLength: d)
                try es.tell(population, fitness: record.floats("fitness"))
                states.check(es.mean, record.floats("mean"), "\(caseName) gen \(g) mean")
                states.check(es.sigma, record.floats("sigma"), "\(caseName) gen \(g) sigma")
                states.check(es.bestMember, record.floats("best_member"), "\(caseName) gen \(g) best member")
                states.check([es.bestFitness], [record.float("best_fitness")], "\(caseName) gen \(g) best fitness")
                bestCount += 1
                if es.bestMember.elementsEqual(record.floats("best_member"), by: { $0.bitPattern == $1.bitPattern }) {
                    bestExact += 1
                }
                XCTAssertEqual(es.generation, record.int("gen_counter"), "\(caseName) gen \(g)")
                if case let .openES(o) = es {
                    states.check([o.state.lrate], [record.float("lrate")], "\(caseName) gen \(g) lrate")
                }
            }
        }
        print("evosax parity \(name): \(cases.count) runs; populations \(populations.summary); " +
              "mean/sigma/best \(states.summary); best member bit-identical \(bestExact)/\(bestCount)")
        XCTAssert(populations.failures.isEmpty, populations.failures.joined(separator: "\n"))
        XCTAssert(states.failures.isEmpty, states.failures.joined(separator: "\n"))
    }

    func testSNESMatchesEvosax() throws { try runFixtureCases(strategy: "SNES") }

    func testOpenESMatchesEvosax() throws { try runFixtureCases(strategy: "OpenES") }
}
