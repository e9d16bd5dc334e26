import SGXRandom

/// `walker2d`: Brax's walker2d task (`brax.envs.walker2d.Walker2d`, the
/// MuJoCo Walker2d) on MuJoCo itself, with our model `Models/walker2d.xml`:
/// a planar biped (torso; right and left thigh, leg, foot; 6 motors of gear
/// 100).
///
/// - Physics step 0.002 s, `n_frames` = 4 per environment step: dt = 0.008 s.
/// - Observation (17): torso height z (world, 1.25 + rootz), torso angle
///   (rooty), the 6 joint angles (thigh, leg, foot, thigh_left, leg_left,
///   foot_left), then the 9 velocities (ẋ, ż, torso angular velocity, the 6
///   joints) clipped to [-10, 10]. The torso's x is left out.
/// - Action (6): motor controls in [-1, 1], in the joint order above.
/// - Reward: `forward_reward_weight * (x' - x) / dt + healthy_reward
///   - ctrl_cost_weight * sum(action²)`, x the torso's x; the healthy reward
///   is paid every step when `terminate_when_unhealthy`, else only in healthy
///   states.
/// - Termination (when `terminate_when_unhealthy`): torso height outside
///   `healthy_z_range` (0.8, 2.0) or torso angle outside
///   `healthy_angle_range` (-1, 1) (open intervals). Also an unstable
///   simulation (see `MuJoCoState`).
/// - Reset: qpos = qpos0 + U(-s, s), qvel = U(-s, s), s =
///   `reset_noise_scale` = 0.005, with keys 1 and 2 of `split(key, 3)`.
/// - Episodes last at most `max_steps_in_episode` = 1000 steps.
public struct Walker2d: MuJoCoLocomotion, RegisteredEnvironment {
    public struct Params: NamedParameters, Equatable {
        public var forwardRewardWeight = 1.0
        public var ctrlCostWeight = 1e-3
        public var healthyReward = 1.0
        public var terminateWhenUnhealthy = 1
        public var healthyZMin = 0.8, healthyZMax = 2.0
        public var healthyAngleMin = -1.0, healthyAngleMax = 1.0
        public var resetNoiseScale = 5e-3
        public var nFrames = 4
        public var maxStepsInEpisode = 1000

        public init() {}

        public static let specs: [ParameterSpec<Params>] = [
            .init("forward_reward_weight", \.forwardRewardWeight), .init("ctrl_cost_weight", \.ctrlCostWeight),
            .init("healthy_reward", \.healthyReward),
            .init("terminate_when_unhealthy", integer: \.terminateWhenUnhealthy),
            .init("healthy_z_range[0]", \.healthyZMin), .init("healthy_z_range[1]", \.healthyZMax),
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
    let forwardWeight, ctrlWeight, healthyReward, zMin, zMax, angleMin, angleMax, noise: Float
    let terminates: Bool

    /// Throws when MuJoCo is unavailable or a parameter is invalid.
    public init(params: Params = Params()) throws {
        try Self.validate(frames: params.nFrames, maxSteps: params.maxStepsInEpisode)
        try Self.validate(flag: params.terminateWhenUnhealthy, name: "terminate_when_unhealthy")
        self.params = params
        simulation = try MuJoCoSimulation(name: "walker2d", xml: MuJoCoModels.walker2d)
        frameSkip = params.nFrames
        maxStepsInEpisode = Int32(params.maxStepsInEpisode)
        (forwardWeight, ctrlWeight, healthyReward) =
            (Float(params.forwardRewardWeight), Float(params.ctrlCostWeight), Float(params.healthyReward))
        (zMin, zMax, angleMin, angleMax) = (Float(params.healthyZMin), Float(params.healthyZMax),
                                            Float(params.healthyAngleMin), Float(params.healthyAngleMax))
        noise = Float(params.resetNoiseScale)
        terminates = params.terminateWhenUnhealthy == 1
    }

    public static let id = "walker2d"
    public var observationSize: Int { 17 }
    public var parameters: [ParameterValue] { params.values }

    public func resetPositions(key: PRNGKey, qpos: UnsafeMutablePointer<Float>, qvel: UnsafeMutablePointer<Float>) {
        uniformNoise(key.split(index: 1), scale: noise, base: simulation.qpos0, count: simulation.nq, into: qpos)
        uniformNoise(key.split(index: 2), scale: noise, count: simulation.nv, into: qvel)
    }

    public func observe(_ s: MuJoCoStateView, kinematics: MuJoCoKinematics?, into obs: UnsafeMutablePointer<Float>) {
        obs[0] = simulation.rootPosition.z + s.qpos[1]
        for i in 2..<9 { obs[i - 1] = s.qpos[i] }
        for i in 0..<9 { obs[8 + i] = Swift.min(Swift.max(s.qvel[i], -10), 10) }
    }

    public func outcome(previous: MuJoCoStateView, next: MuJoCoStateView, action: UnsafePointer<Float>)
        -> (reward: Float, terminated: Bool)
    {
        let forward = forwardWeight * ((next.qpos[0] - previous.qpos[0]) / dt)
        let z = simulation.rootPosition.z + next.qpos[1], angle = next.qpos[2]
        let healthy = zMin < z && z < zMax && angleMin < angle && angle < angleMax
        let healthyReward = terminates || healthy ? self.healthyReward : 0
        return (forward + healthyReward - controlCost(action, weight: ctrlWeight), terminates && !healthy)
    }
}
