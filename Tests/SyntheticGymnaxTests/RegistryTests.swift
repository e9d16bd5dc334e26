import XCTest
@testable import SyntheticGymnax
@testable import SGXNN
@testable import SGXEnvironments
@testable import SGXMetaLearning

/// The registry (Environments/Registry.swift): the ids it exports (through the
/// C ABI's `sgx_env_registered_id`, in this order), that each id creates its
/// own environment, and the errors for ids it does not create.
final class RegistryTests: XCTestCase {
    func testIDsAndTheirOrder() {
        XCTAssertEqual(AnyEnvironment.realIDs, [
            "CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Pendulum-v1",
            "hopper", "walker2d", "halfcheetah", "swimmer", "humanoidstandup",
        ])
        XCTAssertEqual(AnyEnvironment.mujocoIDs, ["hopper", "walker2d", "halfcheetah", "swimmer", "humanoidstandup"])
        XCTAssertEqual(AnyEnvironment.syntheticIDs, AnyEnvironment.realIDs.map { "Synthetic-" + $0 })
        XCTAssertEqual(AnyEnvironment.registeredIDs, AnyEnvironment.realIDs + AnyEnvironment.syntheticIDs)
    }

    func testNoDuplicateIDs() {
        XCTAssertEqual(Set(AnyEnvironment.realIDs).count, AnyEnvironment.registry.count)
        XCTAssertEqual(Set(AnyEnvironment.registry.map { ObjectIdentifier($0) }).count, AnyEnvironment.registry.count)
        XCTAssertEqual(Set(AnyEnvironment.registeredIDs).count, AnyEnvironment.registeredIDs.count)
    }

    /// Every real id creates the registered type, whose name is the id.
    func testEveryRealIDRoundTrips() throws {
        for type in AnyEnvironment.registry {
            let env = try AnyEnvironment(id: type.id)
            XCTAssertEqual(env.name, type.id)
            XCTAssertTrue(Swift.type(of: env.base) == type, type.id)
            XCTAssertNil(env.environment(as: SyntheticEnvironment.self), type.id)
        }
        XCTAssertNotNil(try AnyEnvironment(id: "CartPole-v1").environment(as: CartPole.self))
        XCTAssertNil(try AnyEnvironment(id: "CartPole-v1").environment(as: Acrobot.self))
        XCTAssertEqual(try AnyEnvironment(id: "Pendulum-v1", parameters: [("max_steps_in_episode", 7)])
                           .environment(as: Pendulum.self)?.maxStepsInEpisode, 7)
    }

    func testIDsItDoesNotCreate() {
        XCTAssertThrowsError(try AnyEnvironment(id: "Synthetic-CartPole-v1")) {
            XCTAssertEqual($0 as? EnvironmentError, .noCheckpoint(id: "Synthetic-CartPole-v1"))
        }
        XCTAssertThrowsError(try AnyEnvironment(id: "cartpole")) {
            XCTAssertEqual($0 as? EnvironmentError, .unknownID("cartpole", known: AnyEnvironment.registeredIDs))
        }
        XCTAssertThrowsError(try AnyEnvironment(id: "CartPole-v1", parameters: [("mass", 1)])) {
            XCTAssertEqual($0 as? EnvironmentError, .unknownParameter(
                name: "mass", environment: "CartPole-v1", known: CartPole.Params.specs.map(\.name)))
        }
    }

    /// `visit` hands the environment on as its own type.
    func testVisitSeesTheConcreteType() throws {
        struct TypeName: EnvironmentVisitor {
            func visit<E: Environment>(_ env: E) -> String { "\(E.self)" }
        }
        XCTAssertEqual(try AnyEnvironment(id: "Acrobot-v1").visit(TypeName()), "Acrobot")
    }
}
