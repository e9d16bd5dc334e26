#if canImport(Glibc)
import Glibc
#endif

/// CartPole-v1 as gymnax 0.0.9 implements it (`classic_control/cartpole.py`):
/// a pole on a cart pushed left (action 0) or right (action 1), Euler
/// integration, reward 1 per step unless the previous state was terminal.
///
/// `addingProduct` (one rounding) sits exactly where XLA's CPU backend fuses
/// a multiply-add into an FMA when it compiles `jit(env.step)`, so the
/// float32 results match gymnax bit for bit.
public struct CartPole: Environment {
    public struct Params: NamedParameters, Equatable {
        public var gravity = 9.8
        public var masscart = 1.0
        public var masspole = 0.1
        public var totalMass = 1.0 + 0.1
        public var length = 0.5
        public var polemassLength = 0.05
        public var forceMag = 10.0
        public var tau = 0.02
        public var thetaThresholdRadians = 12 * 2 * Double.pi / 360
        public var xThreshold = 2.4
        public var maxStepsInEpisode = 500

        public init() {}

        public static let specs: [ParameterSpec<Params>] = [
            .init("gravity", \.gravity), .init("masscart", \.masscart),
            .init("masspole", \.masspole), .init("total_mass", \.totalMass),
            .init("length", \.length), .init("polemass_length", \.polemassLength),
            .init("force_mag", \.forceMag), .init("tau", \.tau),
            .init("theta_threshold_radians", \.thetaThresholdRadians),
            .init("x_threshold", \.xThreshold),
            .init("max_steps_in_episode", integer: \.maxStepsInEpisode),
        ]
    }

    public struct State: EnvironmentState, Equatable {
        public var x: Float
        public var xDot: Float
        public var theta: Float
        public var thetaDot: Float
        public var time: Int32

        public init(x: Float, xDot: Float, theta: Float, thetaDot: Float, time: Int32) {
            (self.x, self.xDot, self.theta, self.thetaDot, self.time) = (x, xDot, theta, thetaDot, time)
        }
    }

    public let params: Params
    // The parameters as float32, as JAX sees them inside `jit`.
    @usableFromInline let gravity, masspole, totalMass, length, polemassLength, forceMag, tau,
        thetaThreshold, xThreshold: Float
    public let maxStepsInEpisode: Int32

    public init(params: Params = Params()) {
        self.params = params
        gravity = Float(params.gravity)
        masspole = Float(params.masspole)
        totalMass = Float(params.totalMass)
        length = Float(params.length)
        polemassLength = Float(params.polemassLength)
        forceMag = Float(params.forceMag)
        tau = Float(params.tau)
        thetaThreshold = Float(params.thetaThresholdRadians)
        xThreshold = Float(params.xThreshold)
        maxStepsInEpisode = Int32(params.maxStepsInEpisode)
    }

    public var name: String { "CartPole-v1" }
    public var observationSize: Int { 4 }
    public var actionSpace: ActionSpace { .discrete(2) }
    public var parameters: [ParameterValue] { params.values }
    public var stateFields: [StateField] { StateField.scalars("x", "x_dot", "theta", "theta_dot") }

    public var observationSpace: BoxSpace {
        let high = [Float(params.xThreshold * 2), .greatestFiniteMagnitude,
                    Float(params.thetaThresholdRadians * 2), .greatestFiniteMagnitude]
        return BoxSpace(low: high.map { -$0 }, high: high)
    }

    @inlinable
    func isTerminal(_ s: State) -> Bool {
        s.x < -xThreshold || s.x > xThreshold || s.theta < -thetaThreshold
            || s.theta > thetaThreshold || s.time >= maxStepsInEpisode
    }

    @inlinable
    public func stepEnv(key: PRNGKey, state s: State, action: UnsafePointer<Float>)
        -> (state: State, reward: Float, terminated: Bool)
    {
        let a = action.pointee
        let prevTerminal = isTerminal(s)
        let force = forceMag * a - forceMag * (1 - a)
        let costheta = cosf(s.theta), sintheta = sinf(s.theta)
        let temp = force.addingProduct(polemassLength * (s.thetaDot * s.thetaDot), sintheta)
            / totalMass
        let thetaacc = (-(costheta * temp)).addingProduct(gravity, sintheta)
            / (length * (Float(4.0 / 3.0) - masspole * (costheta * costheta) / totalMass))
        let xacc = temp - polemassLength * thetaacc * costheta / totalMass
        let next = State(x: s.x.addingProduct(tau, s.xDot), xDot: s.xDot.addingProduct(tau, xacc),
                         theta: s.theta.addingProduct(tau, s.thetaDot),
                         thetaDot: s.thetaDot.addingProduct(tau, thetaacc), time: s.time + 1)
        let terminated = next.x < -xThreshold || next.x > xThreshold
            || next.theta < -thetaThreshold || next.theta > thetaThreshold
        return (next, prevTerminal ? 0 : 1, terminated)
    }

    @inlinable
    public func resetEnv(key: PRNGKey) -> State {
        State(x: key.uniform(at: 0, minval: -0.05, maxval: 0.05),
              xDot: key.uniform(at: 1, minval: -0.05, maxval: 0.05),
              theta: key.uniform(at: 2, minval: -0.05, maxval: 0.05),
              thetaDot: key.uniform(at: 3, minval: -0.05, maxval: 0.05), time: 0)
    }

    @inlinable
    public func observation(of s: State, into out: UnsafeMutablePointer<Float>) {
        out[0] = s.x; out[1] = s.xDot; out[2] = s.theta; out[3] = s.thetaDot
    }

    @inlinable
    public func loadState(_ v: UnsafePointer<Float>, time: Int32) -> State {
        State(x: v[0], xDot: v[1], theta: v[2], thetaDot: v[3], time: time)
    }

    @inlinable
    public func storeState(_ s: State, into out: UnsafeMutablePointer<Float>) {
        observation(of: s, into: out)
    }
}
