#if canImport(Glibc)
import Glibc
#endif

/// Acrobot-v1 as gymnax 0.0.9 implements it (`classic_control/acrobot.py`,
/// the "book" dynamics): a two-link pendulum actuated at the joint between
/// the links, one RK4 step of length `dt` per action, reward -1 per step
/// until the tip swings above the bar.
///
/// `addingProduct` (one rounding) sits exactly where XLA's CPU backend fuses
/// a multiply-add into an FMA when it compiles `jit(env.step)`, so the
/// float32 results match gymnax bit for bit.
public struct Acrobot: Environment {
    public struct Params: NamedParameters, Equatable {
        public var availableTorque0 = -1.0
        public var availableTorque1 = 0.0
        public var availableTorque2 = 1.0
        public var dt = 0.2
        public var linkLength1 = 1.0
        public var linkLength2 = 1.0
        public var linkMass1 = 1.0
        public var linkMass2 = 1.0
        public var linkComPos1 = 0.5
        public var linkComPos2 = 0.5
        public var linkMoi = 1.0
        public var maxVel1 = 4 * Double.pi
        public var maxVel2 = 9 * Double.pi
        public var torqueNoiseMax = 0.0
        public var maxStepsInEpisode = 500

        public init() {}

        public static let specs: [ParameterSpec<Params>] = [
            .init("available_torque[0]", \.availableTorque0),
            .init("available_torque[1]", \.availableTorque1),
            .init("available_torque[2]", \.availableTorque2),
            .init("dt", \.dt), .init("link_length_1", \.linkLength1),
            .init("link_length_2", \.linkLength2), .init("link_mass_1", \.linkMass1),
            .init("link_mass_2", \.linkMass2), .init("link_com_pos_1", \.linkComPos1),
            .init("link_com_pos_2", \.linkComPos2), .init("link_moi", \.linkMoi),
            .init("max_vel_1", \.maxVel1), .init("max_vel_2", \.maxVel2),
            .init("torque_noise_max", \.torqueNoiseMax),
            .init("max_steps_in_episode", integer: \.maxStepsInEpisode),
        ]
    }

    public struct State: EnvironmentState, Equatable {
        public var jointAngle1: Float
        public var jointAngle2: Float
        public var velocity1: Float
        public var velocity2: Float
        public var time: Int32

        public init(jointAngle1: Float, jointAngle2: Float, velocity1: Float, velocity2: Float, time: Int32) {
            (self.jointAngle1, self.jointAngle2, self.velocity1, self.velocity2, self.time) =
                (jointAngle1, jointAngle2, velocity1, velocity2, time)
        }
    }

    public let params: Params
    @usableFromInline let torques: (Float, Float, Float)
    @usableFromInline let dt, l1, lc1, lc2, m1, m2, moi, maxVel1, maxVel2, noise: Float
    public let maxStepsInEpisode: Int32

    public init(params: Params = Params()) {
        self.params = params
        torques = (Float(params.availableTorque0), Float(params.availableTorque1),
                   Float(params.availableTorque2))
        dt = Float(params.dt)
        l1 = Float(params.linkLength1)
        lc1 = Float(params.linkComPos1)
        lc2 = Float(params.linkComPos2)
        m1 = Float(params.linkMass1)
        m2 = Float(params.linkMass2)
        moi = Float(params.linkMoi)
        maxVel1 = Float(params.maxVel1)
        maxVel2 = Float(params.maxVel2)
        noise = Float(params.torqueNoiseMax)
        maxStepsInEpisode = Int32(params.maxStepsInEpisode)
    }

    public var name: String { "Acrobot-v1" }
    public var observationSize: Int { 6 }
    public var actionSpace: ActionSpace { .discrete(3) }
    public var parameters: [ParameterValue] { params.values }
    public static var stepUsesKey: Bool { true }
    public var stateFields: [StateField] {
        StateField.scalars("joint_angle1", "joint_angle2", "velocity_1", "velocity_2")
    }

    public var observationSpace: BoxSpace {
        let high: [Float] = [1, 1, 1, 1, Float(params.maxVel1), Float(params.maxVel2)]
        return BoxSpace(low: high.map { -$0 }, high: high)
    }

    /// Time derivative of (theta1, theta2, dtheta1, dtheta2) under torque `a`.
    @inlinable
    func dsdt(_ s: SIMD4<Float>, _ a: Float) -> SIMD4<Float> {
        let (theta1, theta2, dtheta1, dtheta2) = (s[0], s[1], s[2], s[3])
        let g: Float = 9.8
        let (i1, i2) = (moi, moi)
        let cos2 = cosf(theta2), sin2 = sinf(theta2)
        // d1 = m1 lc1² + m2 (l1² + lc2² + 2 l1 lc2 cos θ2) + i1 + i2
        let d1 = (m1 * (lc1 * lc1))
            .addingProduct(m2, (lc2 * lc2).addingProduct(l1, l1).addingProduct(2 * l1 * lc2, cos2))
            + i1 + i2
        // d2 = m2 (lc2² + l1 lc2 cos θ2) + i2
        let d2 = i2.addingProduct(m2, (l1 * lc2 * cos2).addingProduct(lc2, lc2))
        let phi2 = m2 * lc2 * g * cosf(theta1 + theta2 - Float(Double.pi / 2.0))
        // φ1 = -m2 l1 lc2 dθ2² sin θ2 - 2 m2 l1 lc2 dθ2 dθ1 sin θ2
        //      + (m1 lc1 + m2 l1) g cos(θ1 - π/2) + φ2
        let coriolis = 2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * sin2
        let phi1 = (-coriolis).addingProduct(-m2 * l1 * lc2 * (dtheta2 * dtheta2), sin2)
            .addingProduct((m2 * l1).addingProduct(m1, lc1) * g, cosf(theta1 - Float(Double.pi / 2)))
            + phi2
        // ddθ2 = (a + d2/d1 φ1 - m2 l1 lc2 dθ1² sin θ2 - φ2) / (m2 lc2² + i2 - d2²/d1)
        let numerator = a.addingProduct(d2 / d1, phi1)
            .addingProduct(-(m2 * l1 * lc2 * (dtheta1 * dtheta1)), sin2) - phi2
        let ddtheta2 = numerator / (i2.addingProduct(m2, lc2 * lc2) - (d2 * d2) / d1)
        // ddθ1 = -(d2 ddθ2 + φ1) / d1
        let ddtheta1 = -phi1.addingProduct(d2, ddtheta2) / d1
        return SIMD4(dtheta1, dtheta2, ddtheta1, ddtheta2)
    }

    /// gymnax's `wrap(x, -pi, pi)`, operation for operation (XLA turns the
    /// divisions by the constant `diff` into multiplications by its reciprocal).
    @inlinable
    static func wrap(_ x: Float) -> Float {
        let m = -Float(Double.pi), bigM = Float(Double.pi)
        let diff = bigM - m, inverseDiff = 1 / diff
        let goUp = x < m, goDown = x >= bigM
        let howOften = (goUp ? ((m - x) * inverseDiff).rounded(.up) : 0)
            + (goDown ? Float(1).addingProduct(x - bigM, inverseDiff).rounded(.down) : 0)
        return x - (goDown ? howOften * diff : 0) + (goUp ? howOften * diff : 0)
    }

    @inlinable
    func doneAngle(_ angle1: Float, _ angle2: Float) -> Bool {
        -cosf(angle1) - cosf(angle2 + angle1) > 1.0
    }

    @inlinable
    public func stepEnv(key: PRNGKey, state s: State, action: UnsafePointer<Float>)
        -> (state: State, reward: Float, terminated: Bool)
    {
        let index = Int(action.pointee)
        var torque = index == 0 ? torques.0 : (index == 1 ? torques.1 : torques.2)
        torque = torque + key.uniform(at: 0, minval: -noise, maxval: noise)
        // One RK4 step; the torque (fifth state component) has zero derivative.
        let y0 = SIMD4(s.jointAngle1, s.jointAngle2, s.velocity1, s.velocity2)
        let dt2 = dt / 2.0
        let k1 = dsdt(y0, torque)
        let k2 = dsdt(y0.addingProduct(dt2, k1), torque)
        let k3 = dsdt(y0.addingProduct(dt2, k2), torque)
        let k4 = dsdt(y0.addingProduct(dt, k3), torque)
        // XLA turns `dt / 6.0` into `dt * (1 / 6)`.
        let ns = y0.addingProduct(dt * (1 / 6 as Float), k1 + 2 * k2 + 2 * k3 + k4)
        let angle1 = Self.wrap(ns[0]), angle2 = Self.wrap(ns[1])
        let next = State(jointAngle1: angle1, jointAngle2: angle2,
                         velocity1: min(max(ns[2], -maxVel1), maxVel1),
                         velocity2: min(max(ns[3], -maxVel2), maxVel2), time: s.time + 1)
        let done = doneAngle(angle1, angle2)
        return (next, -1.0 * (done ? 0 : 1), done)
    }

    @inlinable
    public func resetEnv(key: PRNGKey) -> State {
        State(jointAngle1: key.uniform(at: 0, minval: -0.1, maxval: 0.1),
              jointAngle2: key.uniform(at: 1, minval: -0.1, maxval: 0.1),
              velocity1: key.uniform(at: 2, minval: -0.1, maxval: 0.1),
              velocity2: key.uniform(at: 3, minval: -0.1, maxval: 0.1), time: 0)
    }

    @inlinable
    public func observation(of s: State, into out: UnsafeMutablePointer<Float>) {
        out[0] = cosf(s.jointAngle1); out[1] = sinf(s.jointAngle1)
        out[2] = cosf(s.jointAngle2); out[3] = sinf(s.jointAngle2)
        out[4] = s.velocity1; out[5] = s.velocity2
    }

    @inlinable
    public func loadState(_ v: UnsafePointer<Float>, time: Int32) -> State {
        State(jointAngle1: v[0], jointAngle2: v[1], velocity1: v[2], velocity2: v[3], time: time)
    }

    @inlinable
    public func storeState(_ s: State, into out: UnsafeMutablePointer<Float>) {
        out[0] = s.jointAngle1; out[1] = s.jointAngle2; out[2] = s.velocity1; out[3] = s.velocity2
    }
}
