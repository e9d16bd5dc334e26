import SGXRandom

/// `halfcheetah`: Brax's halfcheetah task (`brax.envs.half_cheetah`, the
/// MuJoCo HalfCheetah) on MuJoCo itself, with our model
/// `Models/halfcheetah.xml`: a planar cheetah (torso and head; back and front
/// thigh, shin, foot; 6 motors of gears 120, 90, 60, 120, 60, 30).
///
/// - Physics step 0.01 s, `n_frames` = 5 per environment step: dt = 0.05 s.
/// - Observation (17): qpos[1...] (rootz, rooty, bthigh, bshin, bfoot,
///   fthigh, fshin, ffoot; rootz is the torso's height relative to its
///   initial 0.7 m), then the 9 velocities qvel (ẋ, ż, torso angular
///   velocity, the 6 joints), unclipped. The torso's x is left out.
/// - Action (6): motor controls in [-1, 1], in the joint order above.
/// - Reward: `forward_reward_weight * (x' - x) / dt - ctrl_cost_weight *
///   sum(action²)` (weights 1 and 0.1), x the torso's x.
/// - Termination: never (only an unstable simulation, see `MuJoCoState`);
///   episodes last `max_steps_in_episode` = 1000 steps.
/// - Reset: qpos = qpos0 + U(-s, s), qvel = s · N(0, 1), s =
///   `reset_noise_scale` = 0.1, with keys 1 and 2 of `split(key, 3)`.
public struct HalfCheetah: MuJoCoLocomotion, RegisteredEnvironment {
    public struct Params: NamedParameters, Equatable {
        public var forwardRewardWeight = 1.0
        public var ctrlCostWeight = 0.1
        public var resetNoiseScale = 0.1
        public var nFrames = 5
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
        simulation = try MuJoCoSimulation(name: "halfcheetah", xml: MuJoCoModels.halfcheetah)
        frameSkip = params.nFrames
        maxStepsInEpisode = Int32(params.maxStepsInEpisode)
        (forwardWeight, ctrlWeight, noise) =
            (Float(params.forwardRewardWeight), Float(params.ctrlCostWeight), Float(params.resetNoiseScale))
    }

    public static let id = "halfcheetah"
    public var observationSize: Int { 17 }
    public var parameters: [ParameterValue] { params.values }

    public func resetPositions(key: PRNGKey, qpos: UnsafeMutablePointer<Float>, qvel: UnsafeMutablePointer<Float>) {
        uniformNoise(key.split(index: 1), scale: noise, base: simulation.qpos0, count: simulation.nq, into: qpos)
        let velocityKey = key.split(index: 2)
        for j in 0..<simulation.nv { qvel[j] = noise * velocityKey.normal(at: j) }
    }

    public func observe(_ s: MuJoCoStateView, kinematics: MuJoCoKinematics?, into obs: UnsafeMutablePointer<Float>) {
        for i in 1..<9 { obs[i - 1] = s.qpos[i] }
        for i in 0..<9 { obs[8 + i] = s.qvel[i] }
    }

    public func outcome(previous: MuJoCoStateView, next: MuJoCoStateView, action: UnsafePointer<Float>)
        -> (reward: Float, terminated: Bool)
    {
        let forward = forwardWeight * ((next.qpos[0] - previous.qpos[0]) / dt)
        return (forward - controlCost(action, weight: ctrlWeight), false)
    }
}
