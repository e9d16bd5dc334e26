import SGXRandom
import SGXEnvironments

/// Every agent behind one entry point: train by algorithm name with
/// hyperparameters by rejax's names, as the upstream meta-training configs
/// write them (nested keyword arguments joined with ".", e.g.
/// "agent_kwargs.activation"). Every caller (the meta-learner, the
/// library's interfaces, the command-line tool) trains through `Agents.train`.

/// What every agent's training returns.
public struct TrainingResult: Sendable {
    /// The trained acting network.
    public var policy: Policy
    /// Environment steps taken.
    public var environmentSteps: Int
    /// Optimiser steps of the main network (the critic's for actor-critic
    /// agents with a policy delay).
    public var updates: Int
    /// Multiply-adds of every network pass (forward, backward), all networks.
    public var multiplyAdds: Int

    public init(policy: Policy, environmentSteps: Int, updates: Int, multiplyAdds: Int) {
        (self.policy, self.environmentSteps, self.updates, self.multiplyAdds) = (policy, environmentSteps, updates, multiplyAdds)
    }

    /// Floating-point operations of the networks (two per multiply-add).
    public var flops: Double { 2 * Double(multiplyAdds) }
}

/// The algorithms, by the names rejax and the upstream configs use.
public enum Algorithm: String, Sendable, CaseIterable {
    case ppo, dqn, sac, ddpg, td3

    /// Whether the algorithm can train on this kind of action space
    /// (DQN: discrete only; DDPG, TD3: continuous only; PPO, SAC: both).
    public func supports(_ space: ActionSpace) -> Bool {
        switch self {
        case .ppo, .sac: return true
        case .dqn: return space.isDiscrete
        case .ddpg, .td3: return !space.isDiscrete
        }
    }

    /// Every hyperparameter name the algorithm accepts.
    public var hyperparameterNames: [String] {
        switch self {
        case .ppo: return PPO.Configuration.names
        case .dqn: return DQN.Configuration.names
        case .sac: return SAC.Configuration.names
        case .ddpg: return DDPG.Configuration.names
        case .td3: return TD3.Configuration.names
        }
    }

    /// The algorithm called `name` (case-insensitive).
    public init(name: String) throws {
        guard let a = Algorithm(rawValue: name.lowercased()) else {
            throw AgentError.invalidArgument(
                "unknown algorithm '\(name)'; known: \(Algorithm.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self = a
    }
}

public enum Agents {
    /// Trains `algorithm` on `env` from `seed` with the given
    /// hyperparameters over rejax's defaults. Unknown names, malformed or
    /// out-of-range values and unsupported action spaces throw, naming the
    /// problem. The same arguments give the same policy bit for bit.
    public static func train(_ algorithm: Algorithm, on env: AnyEnvironment, hyperparameters: [String: String] = [:],
                             seed: Int64 = 0) throws -> TrainingResult {
        var result = try train(algorithm, on: env, hyperparameters: hyperparameters, key: PRNGKey(seed: seed))
        result.policy.notes["seed"] = "\(seed)"
        return result
    }

    /// `train` from a JAX key (rejax's `train(config, rng)`), as the
    /// meta-learner draws one per inner-loop run. A run that diverges (its
    /// policy's parameters or observation statistics are not finite) throws
    /// `AgentError.diverged`: divergence is an outcome, not a policy.
    public static func train(_ algorithm: Algorithm, on env: AnyEnvironment, hyperparameters: [String: String] = [:],
                             key: PRNGKey) throws -> TrainingResult {
        let result = try trainUnchecked(algorithm, on: env, hyperparameters: hyperparameters, key: key)
        if let problem = result.policy.nonFiniteParameters {
            throw AgentError.diverged(
                "\(algorithm.rawValue.uppercased()) training on \(env.name) diverged: \(problem) after \(result.updates) updates"
                    + (hyperparameters.isEmpty ? "" : " (hyperparameters: \(hyperparameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")))"))
        }
        return result
    }

    private static func trainUnchecked(_ algorithm: Algorithm, on env: AnyEnvironment, hyperparameters: [String: String],
                                       key: PRNGKey) throws -> TrainingResult {
        guard algorithm.supports(env.actionSpace) else {
            throw AgentError.unsupportedEnvironment(
                "\(algorithm.rawValue.uppercased()) cannot train on \(env.name): its actions are \(env.actionSpace.isDiscrete ? "discrete" : "continuous")")
        }
        switch algorithm {
        case .ppo:
            let r = try PPO.train(on: env, configuration: try PPO.Configuration(hyperparameters), key: key)
            return TrainingResult(policy: r.policy, environmentSteps: r.environmentSteps, updates: r.updates,
                                  multiplyAdds: r.multiplyAdds)
        case .dqn: return try DQN.train(on: env, configuration: try DQN.Configuration(hyperparameters), key: key)
        case .sac: return try SAC.train(on: env, configuration: try SAC.Configuration(hyperparameters), key: key)
        case .ddpg: return try DDPG.train(on: env, configuration: try DDPG.Configuration(hyperparameters), key: key)
        case .td3: return try TD3.train(on: env, configuration: try TD3.Configuration(hyperparameters), key: key)
        }
    }

    /// `train` with the algorithm by name.
    public static func train(_ algorithm: String, on env: AnyEnvironment, hyperparameters: [String: String] = [:],
                             seed: Int64 = 0) throws -> TrainingResult {
        try train(try Algorithm(name: algorithm), on: env, hyperparameters: hyperparameters, seed: seed)
    }
}

extension AgentConfiguration {
    /// The notes saved with a trained policy: the key and every
    /// hyperparameter as "hp.<name>".
    func notes(key: PRNGKey) -> [String: String] {
        dictionary.reduce(into: ["key": "\(key.k0),\(key.k1)"]) { $0["hp." + $1.key] = $1.value }
    }
}
