import SGXSupport
import SGXRandom

#if canImport(Glibc)
import Glibc
#endif

/// Pendulum-v1 as gymnax 0.0.9 implements it (`classic_control/pendulum.py`):
/// swing a pendulum up and keep it upright with a torque in [-2, 2]; reward
/// -(angle² + 0.1 velocity² + 0.001 torque²); episodes last 200 steps.
///
/// `addingProduct` (one rounding) sits exactly where XLA's CPU backend fuses
/// a multiply-add into an FMA when it compiles `jit(env.step)`, so the
/// float32 results match gymnax bit for bit.
public struct Pendulum: RegisteredEnvironment {
    public struct Params: NamedParameters, Equatable {
        public var maxSpeed = 8.0
        public var maxTorque = 2.0
        public var dt = 0.05
        public var g = 10.0
        public var m = 1.0
        public var l = 1.0
        public var maxStepsInEpisode = 200

        public init() {}

        public static let specs: [ParameterSpec<Params>] = [
            .init("max_speed", \.maxSpeed), .init("max_torque", \.maxTorque), .init("dt", \.dt),
            .init("g", \.g), .init("m", \.m), .init("l", \.l),
            .init("max_steps_in_episode", integer: \.maxStepsInEpisode),
        ]
    }

    public struct State: EnvironmentState, Equatable {
        public var theta: Float
        public var thetaDot: Float
        /// The last applied (clipped) torque; gymnax keeps it for rendering.
        public var lastU: Float
        public var time: Int32
        /// The velocity `jit(env.step)` puts in the observation. XLA recomputes
        /// the velocity update inside the observation kernel and fuses the
        /// other product of `g-term + u-term` there, so after a step it can be
        /// one ulp off `thetaDot`. Not part of gymnax's state (not stored,
        /// not compared); equal to `thetaDot` for any other state.
        @usableFromInline var observedThetaDot: Float

        public init(theta: Float, thetaDot: Float, lastU: Float, time: Int32) {
            (self.theta, self.thetaDot, self.lastU, self.time) = (theta, thetaDot, lastU, time)
            observedThetaDot = thetaDot
        }

        public static func == (a: State, b: State) -> Bool {
            (a.theta, a.thetaDot, a.lastU, a.time) == (b.theta, b.thetaDot, b.lastU, b.time)
        }
    }

    public let params: Params
    @usableFromInline let maxSpeed, maxTorque, dt, g, m, l: Float
    public let maxStepsInEpisode: Int32

    public init(params: Params = Params()) {
        self.params = params
        maxSpeed = Float(params.maxSpeed)
        maxTorque = Float(params.maxTorque)
        dt = Float(params.dt)
        g = Float(params.g)
        m = Float(params.m)
        l = Float(params.l)
        maxStepsInEpisode = Int32(params.maxStepsInEpisode)
    }

    public static let id = "Pendulum-v1"
    public var observationSize: Int { 3 }
    public var actionSpace: ActionSpace {
        .box(BoxSpace(low: [Float(-params.maxTorque)], high: [Float(params.maxTorque)]))
    }
    public var parameters: [ParameterValue] { params.values }
    public var stateFields: [StateField] { StateField.scalars("theta", "theta_dot", "last_u") }
    public var observationSpace: BoxSpace {
        let high: [Float] = [1, 1, Float(params.maxSpeed)]
        return BoxSpace(low: high.map { -$0 }, high: high)
    }

    /// gymnax's `angle_normalize`: ((x + pi) mod 2pi) - pi with the floored
    /// modulo of `jnp.remainder`, built on `fmod` (`fmodf`, or in batches
    /// `fmodWithoutCall`, equal wherever it is exact).
    @inlinable @inline(__always)
    static func angleNormalize(_ x: Float, fmod: (Float, Float) -> Float = fmodf) -> Float {
        let y = Float(2 * Double.pi)
        let pi = Float(Double.pi)  // round-to-nearest, as JAX; Float.pi rounds toward zero
        let r = fmod(x + pi, y)
        return ((r != 0) & ((r < 0) != (y < 0)) ? r + y : r) - pi
    }

    /// One step of the pendulum from (θ, θ̇) under action `a`, given sin θ and
    /// the normalised angle: the next state, the velocity the observation
    /// shows (see `State.observedThetaDot`) and the reward.
    @inlinable @inline(__always)
    func swing(theta: Float, thetaDot: Float, action: Float, sintheta: Float, angle: Float)
        -> (theta: Float, thetaDot: Float, u: Float, observedThetaDot: Float, reward: Float)
    {
        let u = min(max(action, -maxTorque), maxTorque)
        let reward = -(angle * angle).addingProduct(thetaDot * thetaDot, 0.1).addingProduct(u * u, 0.001)
        let gravityTerm = 3 * g / (2 * l), torqueTerm = 3.0 / (m * (l * l))
        let thetaDotDot = (gravityTerm * sintheta).addingProduct(torqueTerm, u)
        let newThetaDot = min(max(thetaDot.addingProduct(thetaDotDot, dt), -maxSpeed), maxSpeed)
        // The observation's copy of the same update, fused the other way round.
        let observedThetaDotDot = (torqueTerm * u).addingProduct(gravityTerm, sintheta)
        let observedThetaDot = min(max(thetaDot.addingProduct(observedThetaDotDot, dt), -maxSpeed), maxSpeed)
        return (theta.addingProduct(newThetaDot, dt), newThetaDot, u, observedThetaDot, reward)
    }

    @inlinable
    public func stepEnv(key: PRNGKey, state s: State, action: UnsafePointer<Float>)
        -> (state: State, reward: Float, terminated: Bool)
    {
        let n = swing(theta: s.theta, thetaDot: s.thetaDot, action: action.pointee,
                      sintheta: sinf(s.theta), angle: Self.angleNormalize(s.theta))
        var next = State(theta: n.theta, thetaDot: n.thetaDot, lastU: n.u, time: s.time &+ 1)
        next.observedThetaDot = n.observedThetaDot
        return (next, n.reward, false)
    }

    /// `batch.stepOne` for every environment in `range`, 64 at a time.
    @inlinable
    public func step(_ range: Range<Int>, of batch: StepBatch<Pendulum>) {
        var tiles = batch.tiles(range)
        defer { tiles.deallocate() }
        while let tile = tiles.next() {
            let (theta, thetaDot, lastU, action) = (tile.row(0), tile.row(1), tile.row(2), tile.row(3))
            let (sintheta, angle, reward, observedThetaDot) = (tile.row(4), tile.row(5), tile.row(6), tile.row(7))
            let (cosine, sine) = (tile.row(8), tile.row(9))
            batch.loadStates(tile, theta, thetaDot, lastU)
            batch.loadActions(tile, action)
            tile.sin(theta, into: sintheta)
            let inexact = tile.bytes
            for i in 0..<Tile.size {
                var exact = true
                angle[i] = Self.angleNormalize(theta[i]) { x, y in
                    let (r, isExact) = fmodWithoutCall(x, y)
                    exact = isExact
                    return r
                }
                inexact[i] = exact ? 0 : 1
            }
            for i in 0..<tile.count where inexact[i] != 0 { angle[i] = Self.angleNormalize(theta[i]) }
            for i in 0..<Tile.size {
                let n = swing(theta: theta[i], thetaDot: thetaDot[i], action: action[i],
                              sintheta: sintheta[i], angle: angle[i])
                (theta[i], thetaDot[i], lastU[i], observedThetaDot[i], reward[i]) = n
                tile.terminated[i] = false
            }
            tile.sinCos(theta, sin: sine, cos: cosine)
            batch.storeStates(tile, theta, thetaDot, lastU)
            batch.storeObservations(tile, cosine, sine, observedThetaDot)
            batch.finishTile(tile, rewards: reward)
        }
    }

    @inlinable
    public func resetEnv(key: PRNGKey) -> State {
        State(theta: key.uniform(at: 0, minval: -Float(Double.pi), maxval: Float(Double.pi)),
              thetaDot: key.uniform(at: 1, minval: -1, maxval: 1), lastU: 0, time: 0)
    }

    @inlinable
    public func observation(of s: State, into out: UnsafeMutablePointer<Float>) {
        out[0] = cosf(s.theta); out[1] = sinf(s.theta); out[2] = s.observedThetaDot
    }

    @inlinable
    public func loadState(_ v: UnsafePointer<Float>, time: Int32) -> State {
        State(theta: v[0], thetaDot: v[1], lastU: v[2], time: time)
    }

    @inlinable
    public func storeState(_ s: State, into out: UnsafeMutablePointer<Float>) {
        out[0] = s.theta; out[1] = s.thetaDot; out[2] = s.lastU
    }
}
