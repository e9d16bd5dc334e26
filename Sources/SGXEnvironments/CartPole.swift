import SGXSupport
import SGXRandom

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
public struct CartPole: RegisteredEnvironment {
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

    public static let id = "CartPole-v1"
    public var observationSize: Int { 4 }
    public var actionSpace: ActionSpace { .discrete(2) }
    public var parameters: [ParameterValue] { params.values }
    public var stateFields: [StateField] { StateField.scalars("x", "x_dot", "theta", "theta_dot") }

    public var observationSpace: BoxSpace {
        let high = [Float(params.xThreshold * 2), .greatestFiniteMagnitude,
                    Float(params.thetaThresholdRadians * 2), .greatestFiniteMagnitude]
        return BoxSpace(low: high.map { -$0 }, high: high)
    }

    /// The cart-pole equations: one Euler step of (x, ẋ, θ, θ̇) under action
    /// `a` (0 or 1), given sin θ and cos θ.
    @inlinable @inline(__always)
    func euler(_ x: Float, _ xDot: Float, _ theta: Float, _ thetaDot: Float, action a: Float,
               sintheta: Float, costheta: Float) -> (x: Float, xDot: Float, theta: Float, thetaDot: Float)
    {
        let force = forceMag * a - forceMag * (1 - a)
        let temp = force.addingProduct(polemassLength * (thetaDot * thetaDot), sintheta) / totalMass
        let thetaacc = (-(costheta * temp)).addingProduct(gravity, sintheta)
            / (length * (Float(4.0 / 3.0) - masspole * (costheta * costheta) / totalMass))
        let xacc = temp - polemassLength * thetaacc * costheta / totalMass
        return (x.addingProduct(tau, xDot), xDot.addingProduct(tau, xacc),
                theta.addingProduct(tau, thetaDot), thetaDot.addingProduct(tau, thetaacc))
    }

    /// The cart left the track or the pole fell (gymnax's terminal test
    /// without the time limit). `|` evaluates both sides, without branches.
    @inlinable @inline(__always)
    func outOfBounds(x: Float, theta: Float) -> Bool {
        (x < -xThreshold) | (x > xThreshold) | (theta < -thetaThreshold) | (theta > thetaThreshold)
    }

    @inlinable
    public func stepEnv(key: PRNGKey, state s: State, action: UnsafePointer<Float>)
        -> (state: State, reward: Float, terminated: Bool)
    {
        let prevTerminal = outOfBounds(x: s.x, theta: s.theta) | (s.time >= maxStepsInEpisode)
        let n = euler(s.x, s.xDot, s.theta, s.thetaDot, action: action.pointee,
                      sintheta: sinf(s.theta), costheta: cosf(s.theta))
        let next = State(x: n.x, xDot: n.xDot, theta: n.theta, thetaDot: n.thetaDot, time: s.time &+ 1)
        return (next, prevTerminal ? 0 : 1, outOfBounds(x: next.x, theta: next.theta))
    }

    /// `batch.stepOne` for every environment in `range`, 64 at a time.
    @inlinable
    public func step(_ range: Range<Int>, of batch: StepBatch<CartPole>) {
        var tiles = batch.tiles(range)
        defer { tiles.deallocate() }
        while let tile = tiles.next() {
            let (x, xDot, theta, thetaDot) = (tile.row(0), tile.row(1), tile.row(2), tile.row(3))
            let (action, sintheta, costheta, reward) = (tile.row(4), tile.row(5), tile.row(6), tile.row(7))
            batch.loadStates(tile, x, xDot, theta, thetaDot)
            batch.loadActions(tile, action)
            tile.sinCos(theta, sin: sintheta, cos: costheta)
            for i in 0..<Tile.size {
                let prevTerminal = outOfBounds(x: x[i], theta: theta[i]) | (tile.time[i] >= maxStepsInEpisode)
                let n = euler(x[i], xDot[i], theta[i], thetaDot[i], action: action[i],
                              sintheta: sintheta[i], costheta: costheta[i])
                (x[i], xDot[i], theta[i], thetaDot[i]) = n
                reward[i] = prevTerminal ? 0 : 1
                tile.terminated[i] = outOfBounds(x: n.x, theta: n.theta)
            }
            batch.storeStates(tile, x, xDot, theta, thetaDot)
            batch.storeObservations(tile, x, xDot, theta, thetaDot)
            batch.finishTile(tile, rewards: reward)
        }
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
