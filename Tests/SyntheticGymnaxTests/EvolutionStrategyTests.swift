import Foundation
import XCTest
@testable import SyntheticGymnax
@testable import SGXSupport
@testable import SGXRandom
@testable import SGXNN
@testable import SGXEnvironments
@testable import SGXAgents
@testable import SGXMetaLearning

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

    // MARK: - Behaviour beyond the fixture

    private func snes(popsize: Int = 8, dims: Int = 5, maximize: Bool = true) throws -> SNES {
        try SNES(options: SNES.Options(popsize: popsize, numDims: dims, sigmaInit: 0.1,
                                       fitnessShaping: FitnessShaping(maximize: maximize)),
                 key: PRNGKey(seed: 0))
    }

    private func sphere(_ p: Population) -> [Float] {
        p.members.map { m in -m.reduce(0) { $0 + ($1 - 0.3) * ($1 - 0.3) } }
    }

    func testAskIsDeterministicAndDependsOnTheKey() throws {
        let s = try snes()
        XCTAssertEqual(s.ask(key: PRNGKey(seed: 1)), s.ask(key: PRNGKey(seed: 1)))
        XCTAssertNotEqual(s.ask(key: PRNGKey(seed: 1)), s.ask(key: PRNGKey(seed: 2)))
        // ask does not change the state
        let before = s
        _ = s.ask(key: PRNGKey(seed: 3))
        XCTAssertEqual(s, before)
    }

    func testAntitheticPairsMirrorTheMean() throws {
        var o = try OpenES(options: OpenES.Options(popsize: 6, numDims: 3, sigmaInit: 0.2), key: PRNGKey(seed: 0))
        try o.setMean([1, -2, 0.5])
        let p = o.ask(key: PRNGKey(seed: 4))
        for i in 0..<3 {
            for j in 0..<3 {
                let a = p.member(i)[j] - o.mean[j], b = p.member(i + 3)[j] - o.mean[j]
                XCTAssertEqual(a, -b, accuracy: 1e-6)
            }
        }
    }

    func testBothStrategiesClimbASphere() throws {
        var strategies: [AnyEvolutionStrategy] = [
            .snes(try snes(popsize: 16, dims: 4)),
            .openES(try OpenES(options: OpenES.Options(popsize: 16, numDims: 4, sigmaInit: 0.1,
                                                       fitnessShaping: FitnessShaping(transform: .centeredRank, maximize: true)),
                               key: PRNGKey(seed: 0))),
        ]
        for k in strategies.indices {
            var key = PRNGKey(seed: 7)
            for _ in 0..<60 {
                let (next, ask) = key.split()
                key = next
                let p = strategies[k].ask(key: ask)
                try strategies[k].tell(p, fitness: sphere(p))
            }
            for x in strategies[k].mean { XCTAssertEqual(x, 0.3, accuracy: 0.1, "\(strategies[k].name)") }
            XCTAssertGreaterThan(strategies[k].bestFitness, -0.05)
            XCTAssertEqual(strategies[k].generation, 60)
        }
    }

    func testBestMemberTracksTheRawFitnessInEitherDirection() throws {
        for maximize in [true, false] {
            var s = try snes(popsize: 4, dims: 2, maximize: maximize)
            let p = try Population(members: [[0, 0], [1, 1], [2, 2], [3, 3]])
            try s.tell(p, fitness: [1, 5, -2, 5])
            XCTAssertEqual(s.bestFitness, maximize ? 5 : -2)
            XCTAssertEqual(s.bestMember, maximize ? [1, 1] : [2, 2])  // first of equal fitness
            try s.tell(p, fitness: [0, 0, 0, 0])  // no improvement: kept
            XCTAssertEqual(s.bestFitness, maximize ? 5 : -2)
            XCTAssertEqual(s.bestMember, maximize ? [1, 1] : [2, 2])
        }
    }

    func testSaveAndResumeContinuesBitForBit() throws {
        let kinds: [AnyEvolutionStrategy] = [
            .snes(try snes()),
            .openES(try OpenES(options: OpenES.Options(popsize: 8, numDims: 5, optimizer: .adan), key: PRNGKey(seed: 1))),
        ]
        for start in kinds {
            var a = start
            for g in 0..<3 {
                let p = a.ask(key: PRNGKey(seed: Int64(g)))
                try a.tell(p, fitness: sphere(p))
            }
            let data = try JSONEncoder().encode(a)
            var b = try JSONDecoder().decode(AnyEvolutionStrategy.self, from: data)
            XCTAssertEqual(a, b, "\(a.name): the decoded state equals the saved one")
            for g in 3..<6 {
                let pa = a.ask(key: PRNGKey(seed: Int64(g))), pb = b.ask(key: PRNGKey(seed: Int64(g)))
                XCTAssertEqual(pa, pb)
                try a.tell(pa, fitness: sphere(pa))
                try b.tell(pb, fitness: sphere(pb))
            }
            XCTAssertEqual(a.mean.map(\.bitPattern), b.mean.map(\.bitPattern))
            XCTAssertEqual(a.sigma.map(\.bitPattern), b.sigma.map(\.bitPattern))
        }
    }

    func testFloatsSurviveJSON() throws {
        // Saved states are JSON: every float32 must come back bit for bit.
        var key = PRNGKey(seed: 11)
        var values = key.normal(count: 20_000).map { $0 * 0.05 }
        values += [Float.greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude, 1e-30, 0, -0.0]
        key = key.split().0
        let back = try JSONDecoder().decode([Float].self, from: try JSONEncoder().encode(values))
        XCTAssertEqual(back.map(\.bitPattern), values.map(\.bitPattern))
    }

    func testResumeRejectsAStateThatDoesNotFitItsOptions() throws {
        let s = try snes()
        var state = s.state
        state.mean = [1, 2]
        XCTAssertThrowsError(try SNES(options: s.options, state: state)) { error in
            XCTAssertEqual(error as? EvolutionStrategyError, .wrongLength(name: "mean", expected: 5, got: 2))
        }
        state = s.state
        state.sigma[0] = 0
        XCTAssertThrowsError(try SNES(options: s.options, state: state))
        // through Codable too
        var json = String(decoding: try JSONEncoder().encode(s), as: UTF8.self)
        json = json.replacingOccurrences(of: "\"popsize\":8", with: "\"popsize\":9")
        XCTAssertThrowsError(try JSONDecoder().decode(SNES.self, from: Data(json.utf8)))
    }

    func testInvalidOptionsAreErrorsNamingTheOption() {
        func name(_ body: () throws -> Void) -> String? {
            do { try body(); return nil } catch let EvolutionStrategyError.invalidOption(name, _) { return name } catch { return "\(error)" }
        }
        let key = PRNGKey(seed: 0)
        XCTAssertEqual(name { _ = try SNES(options: .init(popsize: 1, numDims: 3), key: key) }, "popsize")
        XCTAssertEqual(name { _ = try SNES(options: .init(popsize: 4, numDims: 0), key: key) }, "num_dims")
        XCTAssertEqual(name { _ = try SNES(options: .init(popsize: 4, numDims: 3, sigmaInit: 0), key: key) }, "sigma_init")
        XCTAssertEqual(name { _ = try SNES(options: .init(popsize: 4, numDims: 3, sigmaInit: -1), key: key) }, "sigma_init")
        XCTAssertEqual(name { _ = try SNES(options: .init(popsize: 4, numDims: 3, sigmaInit: .nan), key: key) }, "sigma_init")
        XCTAssertEqual(name { _ = try SNES(options: .init(popsize: 4, numDims: 3, temperature: -1), key: key) }, "temperature")
        XCTAssertEqual(name { _ = try OpenES(options: .init(popsize: 5, numDims: 3), key: key) }, "popsize")
        XCTAssertNil(name { _ = try OpenES(options: .init(popsize: 5, numDims: 3, antitheticSampling: false), key: key) })
        XCTAssertEqual(name { _ = try OpenES(options: .init(popsize: 4, numDims: 3, sigmaInit: 0), key: key) }, "sigma_init")
        var o = OpenES.Options(popsize: 4, numDims: 3)
        o.beta1 = 1
        XCTAssertEqual(name { _ = try OpenES(options: o, key: key) }, "beta_1")
        var w = SNES.Options(popsize: 4, numDims: 3)
        w.fitnessShaping.weightDecay = -1
        XCTAssertEqual(name { _ = try SNES(options: w, key: key) }, "w_decay")
        w = SNES.Options(popsize: 4, numDims: 3)
        w.meanDecay = 1
        XCTAssertEqual(name { _ = try SNES(options: w, key: key) }, "mean_decay")
    }

    func testKeywordsAreCheckedAndNamed() {
        func name(_ kw: [String: String], _ strategy: String = "SNES") -> String? {
            let scalars = kw.mapValues { ConfigScalar(yaml: $0) }
            do {
                _ = try AnyEvolutionStrategy(name: strategy, numDims: 3, parameters: scalars, maximize: true, key: PRNGKey(seed: 0))
                return nil
            } catch let EvolutionStrategyError.invalidOption(name, _) { return name } catch { return "\(error)" }
        }
        XCTAssertNil(name(["popsize": "128", "sigma_init": "0.05", "temperature": "0"]))
        XCTAssertNil(name(["popsize": "16", "opt_name": "clipup", "centered_rank": "true"], "OpenES"))
        XCTAssertEqual(name(["popsize": "16", "sigma": "0.1"]), "strategy_params.sigma")
        XCTAssertEqual(name(["sigma_init": "0.1"]), "strategy_params.popsize")
        XCTAssertEqual(name(["popsize": "16.5"]), "strategy_params.popsize")
        XCTAssertEqual(name(["popsize": "16", "sigma_init": "big"]), "strategy_params.sigma_init")
        XCTAssertEqual(name(["popsize": "16", "maximize": "true"]), "strategy_params.maximize")
        XCTAssertEqual(name(["popsize": "16", "z_score": "true", "centered_rank": "true"]), "strategy_params.centered_rank")
        XCTAssertEqual(name(["popsize": "16", "fitness_trafo": "rank"]), "strategy_params.fitness_trafo")
        XCTAssertEqual(name(["popsize": "16", "opt_name": "lion"], "OpenES"), "strategy_params.opt_name")
        XCTAssertEqual(name(["popsize": "15"], "OpenES"), "popsize")
        XCTAssertThrowsError(try AnyEvolutionStrategy(name: "CMA_ES", numDims: 3, parameters: [:], maximize: true,
                                                      key: PRNGKey(seed: 0))) { error in
            XCTAssertEqual(error as? EvolutionStrategyError, .unknownStrategy(name: "CMA_ES"))
        }
    }

    func testTellRejectsBadInputWithoutChangingTheState() throws {
        var s = try snes(popsize: 4, dims: 2)
        let before = s
        let p = s.ask(key: PRNGKey(seed: 1))
        XCTAssertThrowsError(try s.tell(p, fitness: [1, 2, 3])) {
            XCTAssertEqual($0 as? EvolutionStrategyError, .wrongFitnessCount(expected: 4, got: 3))
        }
        XCTAssertThrowsError(try s.tell(p, fitness: [1, .nan, 3, 4])) {
            guard case let .nonFiniteFitness(index, value)? = $0 as? EvolutionStrategyError else { return XCTFail("\($0)") }
            XCTAssertEqual(index, 1)
            XCTAssertTrue(value.isNaN)
        }
        XCTAssertThrowsError(try s.tell(p, fitness: [1, 2, -.infinity, 4]))
        let wrong = try Population(size: 3, dimensions: 2, values: [0, 0, 0, 0, 0, 0])
        XCTAssertThrowsError(try s.tell(wrong, fitness: [1, 2, 3, 4])) {
            guard case .wrongPopulationShape? = $0 as? EvolutionStrategyError else { return XCTFail("\($0)") }
        }
        var bad = p
        bad.values[3] = .infinity
        XCTAssertThrowsError(try s.tell(bad, fitness: [1, 2, 3, 4])) {
            XCTAssertEqual($0 as? EvolutionStrategyError, .nonFiniteParameter(name: "population", index: 3))
        }
        XCTAssertThrowsError(try s.setMean([1])) {
            XCTAssertEqual($0 as? EvolutionStrategyError, .wrongLength(name: "mean", expected: 2, got: 1))
        }
        XCTAssertThrowsError(try s.setMean([1, .nan]))
        XCTAssertEqual(s, before)
        XCTAssertThrowsError(try Population(size: 2, dimensions: 2, values: [1, 2, 3]))
        XCTAssertThrowsError(try Population(members: [[1, 2], [3]]))
        XCTAssertNotNil(EvolutionStrategyError.nonFiniteFitness(index: 1, value: .nan).description.range(of: "fitness[1]"))
    }

    func testFitnessShapingTransforms() throws {
        let p = try Population(members: [[1, 1], [0, 0], [2, 0], [0, 3]])
        let f: [Float] = [3, 1, 4, 1]
        let ranks = FitnessShaping(transform: .centeredRank).apply(population: p, fitness: f)
        let expected: [Float] = [Float(2.0 / 3 - 0.5), -0.5, 0.5, Float(1.0 / 3 - 0.5)]  // ties ranked by position
        for (a, e) in zip(ranks, expected) { XCTAssertEqual(a, e, accuracy: 1e-6) }
        XCTAssertEqual(FitnessShaping(maximize: true).apply(population: p, fitness: f), [-3, -1, -4, -1])
        let z = FitnessShaping(transform: .zScore).apply(population: p, fitness: f)
        XCTAssertEqual(z.reduce(0, +), 0, accuracy: 1e-5)
        let r = FitnessShaping(transform: .normRange).apply(population: p, fitness: f)
        XCTAssertEqual(r.min()!, -1, accuracy: 1e-6)
        XCTAssertEqual(r.max()!, 1, accuracy: 1e-6)
        let w = FitnessShaping(weightDecay: 0.5).apply(population: p, fitness: f)
        XCTAssertEqual(w, [3 + 0.5, 1, 4 + 1, 1 + 0.5 * 4.5])
    }
}

