import SGXRandom

/// `hopper`: Brax's hopper task (`brax.envs.hopper.Hopper`, the MuJoCo
/// Hopper) on MuJoCo itself, with our model `Models/hopper.xml`: a planar
/// one-legged robot (torso, thigh, leg, foot; 3 motors of gear 200).
///
/// - Physics step 0.002 s, `n_frames` = 4 per environment step: dt = 0.008 s.
/// - Observation (11): torso height z (world, 1.25 + rootz), torso angle
///   (rooty), thigh, leg and foot angles, then the 6 velocities
///   (ẋ, ż, torso angular velocity, thigh, leg, foot) clipped to [-10, 10].
///   The torso's x is left out.
/// - Action (3): motor controls in [-1, 1] (thigh, leg, foot).
/// - Reward: `forward_reward_weight * (x' - x) / dt + healthy_reward
///   - ctrl_cost_weight * sum(action²)`, x the torso's x before and after
///   the step; the healthy reward is paid every step when
///   `terminate_when_unhealthy`, else only in healthy states.
/// - Termination (when `terminate_when_unhealthy`): the next state is
///   unhealthy: a value of qpos[2...] or qvel outside `healthy_state_range`
///   (-100, 100), the torso height outside `healthy_z_range` (0.7, ∞), or
///   the torso angle outside `healthy_angle_range` (-0.2, 0.2) (open
///   intervals). Also an unstable simulation (see `MuJoCoState`).
/// - Reset: qpos = qpos0 + U(-s, s), qvel = U(-s, s), s =
///   `reset_noise_scale` = 0.005, with keys 1 and 2 of `split(key, 3)`.
/// - Episodes last at most `max_steps_in_episode` = 1000 steps.
public struct Hopper: MuJoCoLocomotion, RegisteredEnvironment {
    public struct Params: NamedParameters, Equatable {
        public var forwardRewardWeight = 1.0
        public var ctrlCostWeight = 1e-3
        public var healthyReward = 1.0
        public var terminateWhenUnhealthy = 1
        public var healthyStateMin = -100.0, healthyStateMax = 100.0
        public var healthyZMin = 0.7, healthyZMax = Double.infinity
        public var healthyAngleMin = -0.2, healthyAngleMax = 0.2
        public var resetNoiseScale = 5e-3
        public var nFrames = 4
        public var maxStepsInEpisode = 1000

        public init() {}

        public static let specs: [ParameterSpec<Params>] = [
            .init("forward_reward_weight", \.forwardRewardWeight), .init("ctrl_cost_weight", \.ctrlCostWeight),
            .init("healthy_reward", \.healthyReward),
            .init("terminate_when_unhealthy", integer: \.terminateWhenUnhealthy),
            .init("healthy_state_range[0]", \.healthyStateMin), .init("healthy_state_range[1]", \.healthyStateMax),
            .init("healthy_z_range[0]", \.healthyZMin), .init("healthy_z_range[1]", \.healthyZMax, allowsInfinity: true),
            .init("healthy_angle_range[0]", \.healthyAngleMin), .init("healthy_angle_range[1]", \.healthyAngleMax),
            .init("reset_noise_scale", \.resetNoiseScale),
            .init("n_frames", integer: \.nFrames),
            .init("max_steps_in_episode", integer: \.maxStepsInEpisode),
        ]
    }

    public let params: Params
    public let simulation: MuJoCoSimulation
    public let frameSkip: Int
    public let maxStepsInEpisode: Int32
    let forwardWeight, ctrlWeight, healthyReward, stateMin, stateMax, zMin, zMax, angleMin, angleMax, noise: Float
    let terminates: Bool

    /// Throws when MuJoCo is unavailable or a parameter is invalid.
    public init(params: Params = Params()) throws {
        try Self.validate(frames: params.nFrames, maxSteps: params.maxStepsInEpisode)
        try Self.validate(flag: params.terminateWhenUnhealthy, name: "terminate_when_unhealthy")
        self.params = params
        simulation = try MuJoCoSimulation(name: "hopper", xml: MuJoCoModels.hopper)
        frameSkip = params.nFrames
        maxStepsInEpisode = Int32(params.maxStepsInEpisode)
        (forwardWeight, ctrlWeight, healthyReward) =
            (Float(params.forwardRewardWeight), Float(params.ctrlCostWeight), Float(params.healthyReward))
        (stateMin, stateMax, zMin, zMax) = (Float(params.healthyStateMin), Float(params.healthyStateMax),
                                            Float(params.healthyZMin), Float(params.healthyZMax))
        (angleMin, angleMax, noise) =
            (Float(params.healthyAngleMin), Float(params.healthyAngleMax), Float(params.resetNoiseScale))
        terminates = params.terminateWhenUnhealthy == 1
    }

    public static let id = "hopper"
    public var observationSize: Int { 11 }
    public var parameters: [ParameterValue] { params.values }

    public func resetPositions(key: PRNGKey, qpos: UnsafeMutablePointer<Float>, qvel: UnsafeMutablePointer<Float>) {
        uniformNoise(key.split(index: 1), scale: noise, base: simulation.qpos0, count: simulation.nq, into: qpos)
        uniformNoise(key.split(index: 2), scale: noise, count: simulation.nv, into: qvel)
    }

    public func observe(_ s: MuJoCoStateView, kinematics: MuJoCoKinematics?, into obs: UnsafeMutablePointer<Float>) {
        obs[0] = simulation.rootPosition.z + s.qpos[1]
        for i in 2..<6 { obs[i - 1] = s.qpos[i] }
        for i in 0..<6 { obs[5 + i] = Swift.min(Swift.max(s.qvel[i], -10), 10) }
    }

    public func outcome(previous: MuJoCoStateView, next: MuJoCoStateView, action: UnsafePointer<Float>)
        -> (reward: Float, terminated: Bool)
    {
        let forward = forwardWeight * ((next.qpos[0] - previous.qpos[0]) / dt)
        var healthy = true
        for i in 2..<6 where !(stateMin < next.qpos[i] && next.qpos[i] < stateMax) { healthy = false }
        for i in 0..<6 where !(stateMin < next.qvel[i] && next.qvel[i] < stateMax) { healthy = false }
        let z = simulation.rootPosition.z + next.qpos[1], angle = next.qpos[2]
        healthy = healthy && zMin < z && z < zMax && angleMin < angle && angle < angleMax
        let healthyReward = terminates || healthy ? self.healthyReward : 0
        return (forward + healthyReward - controlCost(action, weight: ctrlWeight), terminates && !healthy)
    }
}
