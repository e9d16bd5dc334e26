import SGXRandom

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
public struct Acrobot: RegisteredEnvironment {
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

    public static let id = "Acrobot-v1"
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

    /// A point (θ1, θ2, θ̇1, θ̇2) of the acrobot's phase space, or a time
    /// derivative of one; arithmetic is component-wise.
    @frozen @usableFromInline
    struct Phase {
        @usableFromInline var theta1, theta2, dtheta1, dtheta2: Float

        @inlinable @inline(__always)
        init(_ theta1: Float, _ theta2: Float, _ dtheta1: Float, _ dtheta2: Float) {
            (self.theta1, self.theta2, self.dtheta1, self.dtheta2) = (theta1, theta2, dtheta1, dtheta2)
        }

        /// self + c * k, one rounding per component.
        @inlinable @inline(__always)
        func addingProduct(_ c: Float, _ k: Phase) -> Phase {
            Phase(theta1.addingProduct(c, k.theta1), theta2.addingProduct(c, k.theta2),
                  dtheta1.addingProduct(c, k.dtheta1), dtheta2.addingProduct(c, k.dtheta2))
        }

        @inlinable @inline(__always)
        static func + (a: Phase, b: Phase) -> Phase {
            Phase(a.theta1 + b.theta1, a.theta2 + b.theta2, a.dtheta1 + b.dtheta1, a.dtheta2 + b.dtheta2)
        }

        @inlinable @inline(__always)
        static func * (c: Float, a: Phase) -> Phase {
            Phase(c * a.theta1, c * a.theta2, c * a.dtheta1, c * a.dtheta2)
        }
    }

    /// The angles whose cosines (and the sine of θ2) `dsdt` needs at `s`:
    /// θ2, θ1 + θ2 - π/2 and θ1 - π/2.
    @inlinable @inline(__always)
    static func trigArguments(_ s: Phase) -> (theta2: Float, sum: Float, theta1: Float) {
        (s.theta2, s.theta1 + s.theta2 - Float(Double.pi / 2.0), s.theta1 - Float(Double.pi / 2))
    }

    /// Time derivative of (θ1, θ2, θ̇1, θ̇2) under torque `a`, given cos θ2,
    /// sin θ2, cos(θ1 + θ2 - π/2) and cos(θ1 - π/2).
    @inlinable @inline(__always)
    func dsdt(_ s: Phase, _ a: Float, cos2: Float, sin2: Float, cosSum: Float, cos1: Float) -> Phase {
        let (dtheta1, dtheta2) = (s.dtheta1, s.dtheta2)
        let g: Float = 9.8
        let (i1, i2) = (moi, moi)
        // d1 = m1 lc1² + m2 (l1² + lc2² + 2 l1 lc2 cos θ2) + i1 + i2
        let d1 = (m1 * (lc1 * lc1))
            .addingProduct(m2, (lc2 * lc2).addingProduct(l1, l1).addingProduct(2 * l1 * lc2, cos2))
            + i1 + i2
        // d2 = m2 (lc2² + l1 lc2 cos θ2) + i2
        let d2 = i2.addingProduct(m2, (l1 * lc2 * cos2).addingProduct(lc2, lc2))
        let phi2 = m2 * lc2 * g * cosSum
        // φ1 = -m2 l1 lc2 dθ2² sin θ2 - 2 m2 l1 lc2 dθ2 dθ1 sin θ2
        //      + (m1 lc1 + m2 l1) g cos(θ1 - π/2) + φ2
        let coriolis = 2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * sin2
        let phi1 = (-coriolis).addingProduct(-m2 * l1 * lc2 * (dtheta2 * dtheta2), sin2)
            .addingProduct((m2 * l1).addingProduct(m1, lc1) * g, cos1)
            + phi2
        // ddθ2 = (a + d2/d1 φ1 - m2 l1 lc2 dθ1² sin θ2 - φ2) / (m2 lc2² + i2 - d2²/d1)
        let numerator = a.addingProduct(d2 / d1, phi1)
            .addingProduct(-(m2 * l1 * lc2 * (dtheta1 * dtheta1)), sin2) - phi2
        let ddtheta2 = numerator / (i2.addingProduct(m2, lc2 * lc2) - (d2 * d2) / d1)
        // ddθ1 = -(d2 ddθ2 + φ1) / d1
        let ddtheta1 = -phi1.addingProduct(d2, ddtheta2) / d1
        return Phase(dtheta1, dtheta2, ddtheta1, ddtheta2)
    }

    /// `dsdt` with the C library's sines and cosines.
    @inlinable @inline(__always)
    func dsdt(_ s: Phase, _ a: Float) -> Phase {
        let (theta2, sum, theta1) = Self.trigArguments(s)
        return dsdt(s, a, cos2: cosf(theta2), sin2: sinf(theta2), cosSum: cosf(sum), cos1: cosf(theta1))
    }

    /// gymnax's `wrap(x, -pi, pi)`, operation for operation (XLA turns the
    /// divisions by the constant `diff` into multiplications by its reciprocal).
    @inlinable @inline(__always)
    static func wrap(_ x: Float) -> Float {
        let m = -Float(Double.pi), bigM = Float(Double.pi)
        let diff = bigM - m, inverseDiff = 1 / diff
        let goUp = x < m, goDown = x >= bigM
        let howOften = (goUp ? ((m - x) * inverseDiff).rounded(.up) : 0)
            + (goDown ? Float(1).addingProduct(x - bigM, inverseDiff).rounded(.down) : 0)
        return x - (goDown ? howOften * diff : 0) + (goUp ? howOften * diff : 0)
    }

    /// The tip is above the bar, given cos θ1 and cos(θ2 + θ1) of the new angles.
    @inlinable @inline(__always)
    static func tipAboveBar(cos1: Float, cosSum: Float) -> Bool {
        -cos1 - cosSum > 1.0
    }

    /// The applied torque for action `a` (its index, as a float), before noise.
    @inlinable @inline(__always)
    func torque(action a: Float) -> Float {
        // Int(a) for the valid actions 0, 1, 2; the same choice for any other
        // a that Int(a) accepts, without the conversion.
        let index = a.rounded(.towardZero)
        return index == 0 ? torques.0 : (index == 1 ? torques.1 : torques.2)
    }

    /// The new state after the RK4 step, before wrapping and clipping.
    @inlinable @inline(__always)
    func finish(_ y0: Phase, _ sum: Phase) -> (state: Phase, angleSum: Float) {
        // XLA turns `dt / 6.0` into `dt * (1 / 6)`.
        let ns = y0.addingProduct(dt * (1 / 6 as Float), sum)
        let angle1 = Self.wrap(ns.theta1), angle2 = Self.wrap(ns.theta2)
        let next = Phase(angle1, angle2, min(max(ns.dtheta1, -maxVel1), maxVel1),
                         min(max(ns.dtheta2, -maxVel2), maxVel2))
        return (next, angle2 + angle1)
    }

    @inlinable
    public func stepEnv(key: PRNGKey, state s: State, action: UnsafePointer<Float>)
        -> (state: State, reward: Float, terminated: Bool)
    {
        let torque = torque(action: action.pointee) + key.uniform(at: 0, minval: -noise, maxval: noise)
        // One RK4 step; the torque (fifth state component) has zero derivative.
        let y0 = Phase(s.jointAngle1, s.jointAngle2, s.velocity1, s.velocity2)
        let dt2 = dt / 2.0
        let k1 = dsdt(y0, torque)
        let k2 = dsdt(y0.addingProduct(dt2, k1), torque)
        let k3 = dsdt(y0.addingProduct(dt2, k2), torque)
        let k4 = dsdt(y0.addingProduct(dt, k3), torque)
        let (n, angleSum) = finish(y0, k1 + 2 * k2 + 2 * k3 + k4)
        let next = State(jointAngle1: n.theta1, jointAngle2: n.theta2,
                         velocity1: n.dtheta1, velocity2: n.dtheta2, time: s.time &+ 1)
        let done = Self.tipAboveBar(cos1: cosf(n.theta1), cosSum: cosf(angleSum))
        return (next, -1.0 * (done ? 0 : 1), done)
    }

    /// `batch.stepOne` for every environment in `range`, 64 at a time: the
    /// same RK4 step as `stepEnv`, one stage after the other for the tile.
    @inlinable
    public func step(_ range: Range<Int>, of batch: StepBatch<Acrobot>) {
        var tiles = batch.tiles(range)
        defer { tiles.deallocate() }
        let dt2 = dt / 2.0
        while let tile = tiles.next() {
            // Rows: the start point y0, the stage's point y, the weighted
            // sum of the stages' derivatives, the torque, and trigonometry.
            let y0 = (tile.row(0), tile.row(1), tile.row(2), tile.row(3))
            let y = (tile.row(4), tile.row(5), tile.row(6), tile.row(7))
            let sum = (tile.row(8), tile.row(9), tile.row(10), tile.row(11))
            let (torque, reward) = (tile.row(12), tile.row(13))
            let (theta2, angleSum, theta1) = (tile.row(14), tile.row(15), tile.row(16))
            let (cos2, sin2, cosSum, cos1, sin1) = (tile.row(17), tile.row(18), tile.row(19), tile.row(20), tile.row(21))
            batch.loadStates(tile, y0.0, y0.1, y0.2, y0.3)
            batch.loadActions(tile, torque)
            for i in 0..<Tile.size { torque[i] = self.torque(action: torque[i]) }
            if noise == 0 {
                // uniform(-0, 0) is +0 whatever the key.
                for i in 0..<Tile.size { torque[i] = torque[i] + 0 }
            } else {
                for i in 0..<tile.count {
                    let key = batch.key(tile.start + i).split(index: 0)
                    torque[i] = torque[i] + key.uniform(at: 0, minval: -noise, maxval: noise)
                }
            }
            for i in 0..<Tile.size { (y.0[i], y.1[i], y.2[i], y.3[i]) = (y0.0[i], y0.1[i], y0.2[i], y0.3[i]) }
            // Stage `stage` of RK4 at point y: its derivative k goes into the
            // sum with weight 1 2 2 1 (as k1 + 2 k2 + 2 k3 + k4 rounds), and
            // the next stage's point is y0 + h k with h = dt/2, dt/2, dt.
            @inline(__always) func stage(_ stage: Int) {
                for i in 0..<Tile.size {
                    (theta2[i], angleSum[i], theta1[i]) = Self.trigArguments(Phase(y.0[i], y.1[i], y.2[i], y.3[i]))
                }
                tile.sinCos(theta2, sin: sin2, cos: cos2)
                tile.cos(angleSum, into: cosSum)
                tile.cos(theta1, into: cos1)
                let weight: Float = stage == 2 || stage == 3 ? 2 : 1, h = stage == 3 ? dt : dt2
                for i in 0..<Tile.size {
                    let k = dsdt(Phase(y.0[i], y.1[i], y.2[i], y.3[i]), torque[i],
                                 cos2: cos2[i], sin2: sin2[i], cosSum: cosSum[i], cos1: cos1[i])
                    let total = stage == 1 ? k : Phase(sum.0[i], sum.1[i], sum.2[i], sum.3[i]) + weight * k
                    (sum.0[i], sum.1[i], sum.2[i], sum.3[i]) = (total.theta1, total.theta2, total.dtheta1, total.dtheta2)
                    if stage < 4 {
                        let next = Phase(y0.0[i], y0.1[i], y0.2[i], y0.3[i]).addingProduct(h, k)
                        (y.0[i], y.1[i], y.2[i], y.3[i]) = (next.theta1, next.theta2, next.dtheta1, next.dtheta2)
                    }
                }
            }
            stage(1)
            stage(2)
            stage(3)
            stage(4)
            for i in 0..<Tile.size {
                let (n, nAngleSum) = finish(Phase(y0.0[i], y0.1[i], y0.2[i], y0.3[i]),
                                            Phase(sum.0[i], sum.1[i], sum.2[i], sum.3[i]))
                (y.0[i], y.1[i], y.2[i], y.3[i]) = (n.theta1, n.theta2, n.dtheta1, n.dtheta2)
                angleSum[i] = nAngleSum
            }
            tile.sinCos(y.0, sin: sin1, cos: cos1)
            tile.sinCos(y.1, sin: sin2, cos: cos2)
            tile.cos(angleSum, into: cosSum)
            for i in 0..<Tile.size {
                let done = Self.tipAboveBar(cos1: cos1[i], cosSum: cosSum[i])
                tile.terminated[i] = done
                reward[i] = -1.0 * (done ? 0 : 1)
            }
            batch.storeStates(tile, y.0, y.1, y.2, y.3)
            batch.storeObservations(tile, cos1, sin1, cos2, sin2, y.2, y.3)
            batch.finishTile(tile, rewards: reward)
        }
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
