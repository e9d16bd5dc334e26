import SGXRandom

/// `swimmer`: Brax's swimmer task (`brax.envs.swimmer.Swimmer`, the MuJoCo
/// Swimmer) on MuJoCo itself, with our model `Models/swimmer.xml`: three
/// links in a viscous fluid (2 motors of gear 150 on the two joints).
///
/// - Physics step 0.01 s, `n_frames` = 4 per environment step: dt = 0.04 s.
/// - Observation (8): heading (rot) and the two joint angles (rot2, rot3),
///   then the 5 velocities (ẋ, ẏ of the front link, angular velocity, the
///   two joints). The position (x, y) is left out.
/// - Action (2): motor controls in [-1, 1] (rot2, rot3).
/// - Reward: `forward_reward_weight * (x' - x) / dt - ctrl_cost_weight *
///   sum(action²)` (weights 1 and 1e-4), x = qpos[0].
/// - Termination: never (only an unstable simulation, see `MuJoCoState`);
///   episodes last `max_steps_in_episode` = 1000 steps.
/// - Reset: qpos = qpos0 + U(-s, s), qvel = U(-s, s), s =
///   `reset_noise_scale` = 0.1, with keys 1 and 2 of `split(key, 3)`.
public struct Swimmer: MuJoCoLocomotion, RegisteredEnvironment {
    public struct Params: NamedParameters, Equatable {
        public var forwardRewardWeight = 1.0
        public var ctrlCostWeight = 1e-4
        public var resetNoiseScale = 0.1
        public var nFrames = 4
        public var maxStepsInEpisode = 1000

        public init() {}

        public static let specs: [ParameterSpec<Params>] = [
            .init("forward_reward_weight", \.forwardRewardWeight), .init("ctrl_cost_weight", \.ctrlCostWeight),
            .init("reset_noise_scale", \.resetNoiseScale),
            .init("n_frames", integer: \.nFrames),
            .init("max_steps_in_episode", integer: \.maxStepsInEpisode),
        ]
    }

    public let params: Params
    public let simulation: MuJoCoSimulation
    public let frameSkip: Int
    public let maxStepsInEpisode: Int32
    let forwardWeight, ctrlWeight, noise: Float

    /// Throws when MuJoCo is unavailable or a parameter is invalid.
    public init(params: Params = Params()) throws {
        try Self.validate(frames: params.nFrames, maxSteps: params.maxStepsInEpisode)
        self.params = params
        simulation = try MuJoCoSimulation(name: "swimmer", xml: MuJoCoModels.swimmer)
        frameSkip = params.nFrames
        maxStepsInEpisode = Int32(params.maxStepsInEpisode)
        (forwardWeight, ctrlWeight, noise) =
            (Float(params.forwardRewardWeight), Float(params.ctrlCostWeight), Float(params.resetNoiseScale))
    }

    public static let id = "swimmer"
    public var observationSize: Int { 8 }
    public var parameters: [ParameterValue] { params.values }

    public func resetPositions(key: PRNGKey, qpos: UnsafeMutablePointer<Float>, qvel: UnsafeMutablePointer<Float>) {
        uniformNoise(key.split(index: 1), scale: noise, base: simulation.qpos0, count: simulation.nq, into: qpos)
        uniformNoise(key.split(index: 2), scale: noise, count: simulation.nv, into: qvel)
    }

    public func observe(_ s: MuJoCoStateView, kinematics: MuJoCoKinematics?, into obs: UnsafeMutablePointer<Float>) {
        for i in 2..<5 { obs[i - 2] = s.qpos[i] }
        for i in 0..<5 { obs[3 + i] = s.qvel[i] }
    }

    public func outcome(previous: MuJoCoStateView, next: MuJoCoStateView, action: UnsafePointer<Float>)
        -> (reward: Float, terminated: Bool)
    {
        let forward = forwardWeight * ((next.qpos[0] - previous.qpos[0]) / dt)
        return (forward - controlCost(action, weight: ctrlWeight), false)
    }
}
