#if canImport(Glibc)
import Glibc
#endif

/// Acrobot-v1 as gymnax 0.0.9 implements it (`classic_control/acrobot.py`,
/// the "book" dynamics): a two-link pendulum actuated at the joint between
/// the links, one RK4 step of length `dt` per action, reward -1 per step
/// until the tip swings above the bar.
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
        let d1 = m1 * (lc1 * lc1) + m2 * ((l1 * l1 + lc2 * lc2) + 2 * l1 * lc2 * cos2) + i1 + i2
        let d2 = m2 * (lc2 * lc2 + l1 * lc2 * cos2) + i2
        let phi2 = m2 * lc2 * g * cosf(theta1 + theta2 - Float(Double.pi / 2.0))
        let phi1 = -m2 * l1 * lc2 * (dtheta2 * dtheta2) * sin2
            - 2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * sin2
            + (m1 * lc1 + m2 * l1) * g * cosf(theta1 - Float(Double.pi / 2))
            + phi2
        let ddtheta2 = (a + d2 / d1 * phi1 - m2 * l1 * lc2 * (dtheta1 * dtheta1) * sin2 - phi2)
            / (m2 * (lc2 * lc2) + i2 - (d2 * d2) / d1)
        let ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
        return SIMD4(dtheta1, dtheta2, ddtheta1, ddtheta2)
    }

    /// gymnax's `wrap(x, -pi, pi)`, operation for operation.
    @inlinable
    static func wrap(_ x: Float) -> Float {
        let m = -Float(Double.pi), bigM = Float(Double.pi)
        let diff = bigM - m
        let goUp: Float = x < m ? 1 : 0
        let goDown: Float = x >= bigM ? 1 : 0
        let howOften = goUp * ((m - x) / diff).rounded(.up) + goDown * ((x - bigM) / diff + 1).rounded(.down)
        return x - howOften * diff * goDown + howOften * diff * goUp
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
        let k2 = dsdt(y0 + dt2 * k1, torque)
        let k3 = dsdt(y0 + dt2 * k2, torque)
        let k4 = dsdt(y0 + dt * k3, torque)
        let ns = y0 + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
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
