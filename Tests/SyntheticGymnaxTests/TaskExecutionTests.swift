import Foundation
import XCTest
@testable import SyntheticGymnax
@testable import SGXSupport
@testable import SGXRandom
@testable import SGXNN
@testable import SGXEnvironments
@testable import SGXAgents
@testable import SGXMetaLearning

/// The seam where inner-loop runs execute (`TaskExecutor`): an executor
/// that ships every task as bytes to a runner made from the context's
/// bytes (as a worker process would), in reverse order and some twice,
/// gives the same log, state and checkpoints as the library's threads;
/// the byte encodings round-trip and refuse what is not theirs.
final class TaskExecutionTests: XCTestCase {
    /// Runs tasks the way a remote worker does: bytes in, bytes out.
    final class ShippingExecutor: TaskExecutor {
        var runner: TaskRunner?
        var contextBytes: [UInt8] = []
        var batches = 0, tasks = 0

        func execute(_ tasks: [InnerLoopTask], runner local: TaskRunner,
                     poll: @escaping (Int) -> Bool) throws -> [InnerLoop.Outcome]? {
            let bytes = local.context.encoded
            if runner == nil || bytes != contextBytes {
                runner = try TaskRunner(context: try TaskContext(encoded: bytes))
                contextBytes = bytes
            }
            batches += 1
            var outcomes = [InnerLoop.Outcome?](repeating: nil, count: tasks.count)
            for i in tasks.indices.reversed() {
                for _ in 0...(i % 3 == 0 ? 1 : 0) {
                    let task = try InnerLoopTask(encoded: tasks[i].encoded)
                    XCTAssertEqual(task, tasks[i])
                    var outcome = try InnerLoop.Outcome(encoded: try runner!.run(task).encoded)
                    outcome.hyperparameters = local.hyperparameters(for: tasks[i])
                    outcomes[i] = outcome
                }
                self.tasks += 1
                guard poll(tasks.count - i) else { return nil }
            }
            return outcomes.map { $0! }
        }
    }

    static func config() -> String {
        MetaTrainerTests.config(generations: 2, popsize: 6, algorithms: "[ppo, dqn]")
            .replacingOccurrences(of: "num_rollouts: 1,", with: "num_rollouts: 2, halving_keep: 0.5,")
    }

    func testShippedTasksGiveTheLocalRunsFiles() throws {
        let text = Self.config()
        let config = try MetaConfig(yaml: text)
        let (a, b) = (try MetaTrainerTests.directory(), try MetaTrainerTests.directory())
        defer { try? FileManager.default.removeItem(at: a); try? FileManager.default.removeItem(at: b) }
        let local = try MetaTrainer(config: config, configText: text, directory: a.path, workers: 2).run()
        let shipping = ShippingExecutor()
        let shipped = try MetaTrainer(config: config, configText: text, directory: b.path, executor: shipping).run()
        XCTAssertEqual(MetaTrainerTests.timeless(local), MetaTrainerTests.timeless(shipped))
        // Per generation: 6 first rollouts, 3 second ones, and the mean's 2 runs of each algorithm.
        XCTAssertEqual(shipping.batches, 2 * 3)
        XCTAssertEqual(shipping.tasks, 2 * (6 + 3 + 4))
        for name in ["mean.safetensors", "best_member.safetensors", "best_mean.safetensors"] {
            XCTAssertEqual(try Data(contentsOf: a.appendingPathComponent(name)),
                           try Data(contentsOf: b.appendingPathComponent(name)), name)
        }
        func timelessCSV(_ dir: URL) throws -> [String] {
            try String(contentsOf: dir.appendingPathComponent("log.csv"), encoding: .utf8).split(separator: "\n").map {
                var cells = $0.split(separator: ",", omittingEmptySubsequences: false)
                cells.remove(at: 1)
                return cells.joined(separator: ",")
            }
        }
        XCTAssertEqual(try timelessCSV(a), try timelessCSV(b))
    }

    func testShippedEvaluationEqualsTheLocalOne() throws {
        let text = Self.config()
        let dir = try MetaTrainerTests.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = try MetaConfig(yaml: text)
        let env = try SyntheticParameters(configuration: try config.syntheticConfiguration())
        let vector = NNTests.values(env.count, seed: 5).map { $0 * 0.3 }
        let path = dir.appendingPathComponent("c.safetensors").path
        try env.environment(vector).save(to: path)
        let context = TaskContext(configText: text, checkpoint: try Data(contentsOf: URL(fileURLWithPath: path)),
                                  checkpointName: path, episodes: 3)
        let local = try TransferEvaluation.run(context: context, algorithms: [.ppo, .dqn], runs: 4, seed: 7,
                                               executor: ThreadExecutor(workers: 2))
        let shipped = try TransferEvaluation.run(context: context, algorithms: [.ppo, .dqn], runs: 4, seed: 7,
                                                 executor: ShippingExecutor())
        XCTAssertEqual(local, shipped)
        XCTAssertEqual(local[0].hyperparameters.count, 4)
        XCTAssertFalse(local[0].hyperparameters[0].isEmpty)
        // The same as the protocol on environments given directly.
        let direct = try TransferEvaluation.run(
            synthetic: try AnyEnvironment(checkpoint: path), real: try AnyEnvironment(id: "CartPole-v1"),
            algorithms: [.ppo, .dqn], spaces: [.ppo: config.innerConfig["ppo"]!, .dqn: config.innerConfig["dqn"]!],
            runs: 4, episodes: 3, seed: 7, workers: 1)
        XCTAssertEqual(direct.map(\.returns), local.map(\.returns))
    }

    func testEncodingsRoundTripAndRefuseOthers() throws {
        let task = InnerLoopTask(algorithm: .sac, key: PRNGKey(7, 4_000_000_000), evaluationSteps: 200,
                                 parameters: [1.5, -0.0, .nan, .infinity])
        let back = try InnerLoopTask(encoded: task.encoded)
        XCTAssertEqual(back.algorithm, .sac)
        XCTAssertEqual(back.key, task.key)
        XCTAssertEqual(back.evaluationSteps, 200)
        XCTAssertEqual(back.parameters?.map(\.bitPattern), task.parameters?.map(\.bitPattern))
        let bare = InnerLoopTask(algorithm: .ppo, key: PRNGKey(1, 2))
        XCTAssertEqual(try InnerLoopTask(encoded: bare.encoded), bare)

        let context = TaskContext(configText: "env_name: x ü", checkpoint: Data([1, 2, 3]), checkpointName: "c", episodes: 9,
                                  deterministic: false)
        XCTAssertEqual(try TaskContext(encoded: context.encoded), context)

        let failed = InnerLoop.Outcome(meanReturn: .nan, meanLength: 3, hyperparameters: ["a": "b"],
                                       failure: String(repeating: "é", count: 10_000))
        let encoded = failed.encoded
        XCTAssertLessThanOrEqual(encoded.count, Limits.outcomeBytes)
        let decoded = try InnerLoop.Outcome(encoded: encoded)
        XCTAssertTrue(decoded.meanReturn.isNaN)
        XCTAssertEqual(decoded.meanLength, 3)
        XCTAssertTrue(decoded.failure!.hasSuffix("..."))
        XCTAssertEqual(decoded.hyperparameters, [:])
        let ok = InnerLoop.Outcome(meanReturn: 12.5, meanLength: 12, hyperparameters: [:], failure: nil)
        XCTAssertEqual(try InnerLoop.Outcome(encoded: ok.encoded), ok)

        func refused<T>(_ body: @autoclosure () throws -> T, _ needle: String, line: UInt = #line) {
            XCTAssertThrowsError(try body(), line: line) { error in
                XCTAssertTrue("\(error)".contains(needle), "\(error) lacks '\(needle)'", line: line)
            }
        }
        refused(try InnerLoopTask(encoded: context.encoded), "not a task")
        refused(try InnerLoopTask(encoded: task.encoded.dropLast()), "truncated")
        refused(try InnerLoopTask(encoded: task.encoded + [0]), "after its end")
        var format = task.encoded
        format[4] = 2
        refused(try InnerLoopTask(encoded: format), "format 2")
        var version = context.encoded
        let at = version.firstIndex(of: UInt8(ascii: "0"))!  // in "0.1.0"
        version[at] = UInt8(ascii: "9")
        refused(try TaskContext(encoded: version), "library version 9")
        var huge = bare.encoded
        huge.replaceSubrange((huge.count - 8)..<huge.count, with: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])
        refused(try InnerLoopTask(encoded: huge), "parameters, outside")
        refused(try InnerLoop.Outcome(encoded: [UInt8](repeating: 0, count: Limits.outcomeBytes + 1)), "SGX_MAX_OUTCOME_BYTES")
    }

    func testTasksThatDoNotFitTheContextAreErrors() throws {
        let text = Self.config()
        let runner = try TaskRunner(context: TaskContext(configText: text))
        let n = runner.parameters!.count
        XCTAssertThrowsError(try runner.run(InnerLoopTask(algorithm: .ppo, key: PRNGKey(0, 1), evaluationSteps: 10,
                                                          parameters: [Float](repeating: 0, count: n - 1))))
        XCTAssertThrowsError(try runner.run(InnerLoopTask(algorithm: .ppo, key: PRNGKey(0, 1))))
        XCTAssertThrowsError(try runner.run(InnerLoopTask(algorithm: .sac, key: PRNGKey(0, 1), evaluationSteps: 10,
                                                          parameters: [Float](repeating: 0, count: n))))
        // A member whose networks cannot be built is a failed run, as before.
        let outcome = try runner.run(InnerLoopTask(algorithm: .ppo, key: PRNGKey(0, 1), evaluationSteps: 10,
                                                   parameters: [Float](repeating: .nan, count: n)))
        XCTAssertNotNil(outcome.failure)
        XCTAssertTrue(outcome.meanReturn.isNaN)
    }

    func testAnAlgorithmGivenTwiceIsRefused() {
        let text = MetaTrainerTests.config(algorithms: "[ppo, dqn, ppo]")
        XCTAssertThrowsError(try MetaConfig(yaml: text)) { error in
            XCTAssertTrue("\(error)".contains("inner_loop_algorithm[2]"), "\(error)")
            XCTAssertTrue("\(error)".contains("given twice"), "\(error)")
        }
    }
}
