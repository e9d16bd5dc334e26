import SGXRandom

/// `humanoidstandup`: Brax's humanoidstandup task
/// (`brax.envs.humanoidstandup.HumanoidStandup`, the MuJoCo HumanoidStandup)
/// on MuJoCo itself, with our model `Models/humanoidstandup.xml`: a humanoid
/// lying on its back that should stand up (11 bodies, 17 hinge joints and
/// motors, ctrl in [-0.4, 0.4]).
///
/// - Physics step 0.003 s, `n_frames` = 5 per environment step: dt = 0.015 s.
/// - Action (17): in [-1, 1], mapped linearly onto the control ranges:
///   `ctrl = (a + 1) * (high - low) * 0.5 + low` (= 0.4 a), then clipped to
///   them by the actuators. Order: abdomen_y, abdomen_z, abdomen_x,
///   right_hip_x, right_hip_z, right_hip_y, right_knee, left_hip_x,
///   left_hip_z, left_hip_y, left_knee, right_shoulder1, right_shoulder2,
///   right_elbow, left_shoulder1, left_shoulder2, left_elbow.
/// - Observation (244), Brax's layout:
///   - qpos[2...] (22): torso height z, torso orientation quaternion (w, x,
///     y, z), the 17 joint angles (the x, y position is left out);
///   - qvel (23): the free joint's linear (world frame) and angular
///     (body frame) velocity, the 17 joint velocities;
///   - per body (torso, lwaist, pelvis, right_thigh, right_shin, left_thigh,
///     left_shin, right_upper_arm, right_lower_arm, left_upper_arm,
///     left_lower_arm), 10 values (110): its inertia tensor about the
///     whole body's centre of mass c, in world axes, row-major
///     (`R diag(I) Rᵀ + m (|p|² E - p pᵀ)`, p = the body's centre of mass
///     minus c), then its mass m;
///   - per body, 6 values (66): `m v / M` (v the velocity of the body's
///     centre of mass, world frame; M the total mass), then its angular
///     velocity (world frame);
///   - the actuator forces on the 23 degrees of freedom (23):
///     `gear * ctrl` of the last step (0 after a reset). The state keeps
///     the last `ctrl` for this.
/// - Reward: `uph_cost_weight * z / dt + 1 - ctrl_cost_weight * sum(ctrl²)`
///   (weights 1 and 0.01), z the torso's height after the step, ctrl the
///   mapped action before clipping.
/// - Termination: never (only an unstable simulation, see `MuJoCoState`);
///   episodes last `max_steps_in_episode` = 1000 steps.
/// - Reset: qpos = qpos0 + U(-s, s) (the quaternion too, unnormalised),
///   qvel = U(-s, s), s = `reset_noise_scale` = 0.01, with keys 1 and 2 of
///   `split(key, 3)`.
public struct HumanoidStandup: MuJoCoLocomotion, RegisteredEnvironment {
    public struct Params: NamedParameters, Equatable {
        public var uphCostWeight = 1.0
        public var ctrlCostWeight = 0.01
        public var resetNoiseScale = 0.01
        public var nFrames = 5
        public var maxStepsInEpisode = 1000

        public init() {}

        public static let specs: [ParameterSpec<Params>] = [
            .init("uph_cost_weight", \.uphCostWeight), .init("ctrl_cost_weight", \.ctrlCostWeight),
            .init("reset_noise_scale", \.resetNoiseScale),
            .init("n_frames", integer: \.nFrames),
            .init("max_steps_in_episode", integer: \.maxStepsInEpisode),
        ]
    }

    public static var storesControl: Bool { true }
    public static var observesKinematics: Bool { true }

    public let params: Params
    public let simulation: MuJoCoSimulation
    public let frameSkip: Int
    public let maxStepsInEpisode: Int32
    let uphWeight, ctrlWeight, noise: Float

    /// Throws when MuJoCo is unavailable or a parameter is invalid.
    public init(params: Params = Params()) throws {
        try Self.validate(frames: params.nFrames, maxSteps: params.maxStepsInEpisode)
        self.params = params
        simulation = try MuJoCoSimulation(name: "humanoidstandup", xml: MuJoCoModels.humanoidstandup)
        frameSkip = params.nFrames
        maxStepsInEpisode = Int32(params.maxStepsInEpisode)
        (uphWeight, ctrlWeight, noise) =
            (Float(params.uphCostWeight), Float(params.ctrlCostWeight), Float(params.resetNoiseScale))
    }

    public static let id = "humanoidstandup"
    public var observationSize: Int { 244 }
    public var parameters: [ParameterValue] { params.values }

    public func resetPositions(key: PRNGKey, qpos: UnsafeMutablePointer<Float>, qvel: UnsafeMutablePointer<Float>) {
        uniformNoise(key.split(index: 1), scale: noise, base: simulation.qpos0, count: simulation.nq, into: qpos)
        uniformNoise(key.split(index: 2), scale: noise, count: simulation.nv, into: qvel)
    }

    /// The action mapped onto the control range (not clipped).
    @inline(__always)
    func mapped(_ a: Float, _ k: Int) -> Float {
        let (low, high) = (simulation.controlLow[k], simulation.controlHigh[k])
        return (a + 1) * (high - low) * 0.5 + low
    }

    public func control(_ action: UnsafePointer<Float>, into ctrl: UnsafeMutablePointer<Float>) {
        for k in 0..<simulation.nu {
            ctrl[k] = Swift.min(Swift.max(mapped(action[k], k), simulation.controlLow[k]), simulation.controlHigh[k])
        }
    }

    public func observe(_ s: MuJoCoStateView, kinematics: MuJoCoKinematics?, into obs: UnsafeMutablePointer<Float>) {
        let (nq, nv) = (simulation.nq, simulation.nv)
        var o = obs
        for i in 2..<nq { o.pointee = s.qpos[i]; o += 1 }
        for i in 0..<nv { o.pointee = s.qvel[i]; o += 1 }
        guard let k = kinematics else { preconditionFailure("humanoidstandup observes kinematics") }
        let bodies = 1..<k.bodyCount
        var totalMass = 0.0, center = SIMD3<Double>()
        for b in bodies {
            totalMass += k.mass(b)
            center += k.mass(b) * k.centerOfMass(b)
        }
        center /= totalMass
        for b in bodies {
            let m = k.mass(b), p = k.centerOfMass(b) - center, r = k.inertialFrame(b), d = k.principalInertia(b)
            let p2 = (p * p).sum()
            for i in 0..<3 {
                for j in 0..<3 {
                    // (R diag(d) Rᵀ)_ij + m (|p|² δ_ij - p_i p_j)
                    var value = r[3 * i] * d.x * r[3 * j] + r[3 * i + 1] * d.y * r[3 * j + 1]
                        + r[3 * i + 2] * d.z * r[3 * j + 2]
                    value += m * ((i == j ? p2 : 0) - p[i] * p[j])
                    o.pointee = Float(value); o += 1
                }
            }
            o.pointee = Float(m); o += 1
        }
        for b in bodies {
            let (angular, linear) = k.velocity(b)
            let v = k.mass(b) * linear / totalMass
            (o[0], o[1], o[2]) = (Float(v.x), Float(v.y), Float(v.z))
            (o[3], o[4], o[5]) = (Float(angular.x), Float(angular.y), Float(angular.z))
            o += 6
        }
        o.initialize(repeating: 0, count: nv)
        for a in 0..<simulation.nu { o[simulation.actuatorDOF[a]] += simulation.actuatorGear[a] * s.ctrl[a] }
    }

    public func outcome(previous: MuJoCoStateView, next: MuJoCoStateView, action: UnsafePointer<Float>)
        -> (reward: Float, terminated: Bool)
    {
        let uph = uphWeight * ((next.qpos[2] - 0) / dt)
        var sum: Float = 0
        for k in 0..<simulation.nu { sum += mapped(action[k], k) * mapped(action[k], k) }
        return (uph + 1 - ctrlWeight * sum, false)
    }
}
