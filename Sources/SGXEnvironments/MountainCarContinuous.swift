import SGXSupport
import SGXRandom

#if canImport(Glibc)
import Glibc
#endif

/// MountainCarContinuous-v0 as gymnax 0.0.9 implements it
/// (`classic_control/continuous_mountain_car.py`): the car applies a force in
/// [-1, 1]; reward -0.1 a² per step (of the unclipped action, as in gymnax)
/// plus 100 on reaching the flag.
///
/// `addingProduct` (one rounding) sits exactly where XLA's CPU backend fuses
/// a multiply-add into an FMA when it compiles `jit(env.step)`, so the
/// float32 results match gymnax bit for bit.
public struct MountainCarContinuous: RegisteredEnvironment {
    public struct Params: NamedParameters, Equatable {
        public var minAction = -1.0
        public var maxAction = 1.0
        public var minPosition = -1.2
        public var maxPosition = 0.6
        public var maxSpeed = 0.07
        public var goalPosition = 0.45
        public var goalVelocity = 0.0
        public var power = 0.0015
        public var gravity = 0.0025
        public var maxStepsInEpisode = 999

        public init() {}

        public static let specs: [ParameterSpec<Params>] = [
            .init("min_action", \.minAction), .init("max_action", \.maxAction),
            .init("min_position", \.minPosition), .init("max_position", \.maxPosition),
            .init("max_speed", \.maxSpeed), .init("goal_position", \.goalPosition),
            .init("goal_velocity", \.goalVelocity), .init("power", \.power),
            .init("gravity", \.gravity),
            .init("max_steps_in_episode", integer: \.maxStepsInEpisode),
        ]
    }

    public let params: Params
    @usableFromInline let minAction, maxAction, minPosition, maxPosition, maxSpeed, goalPosition,
        goalVelocity, power, gravity: Float
    public let maxStepsInEpisode: Int32

    public init(params: Params = Params()) {
        self.params = params
        minAction = Float(params.minAction)
        maxAction = Float(params.maxAction)
        minPosition = Float(params.minPosition)
        maxPosition = Float(params.maxPosition)
        maxSpeed = Float(params.maxSpeed)
        goalPosition = Float(params.goalPosition)
        goalVelocity = Float(params.goalVelocity)
        power = Float(params.power)
        gravity = Float(params.gravity)
        maxStepsInEpisode = Int32(params.maxStepsInEpisode)
    }

    public static let id = "MountainCarContinuous-v0"
    public var observationSize: Int { 2 }
    public var actionSpace: ActionSpace {
        .box(BoxSpace(low: [Float(params.minAction)], high: [Float(params.maxAction)]))
    }
    public var parameters: [ParameterValue] { params.values }
    public var stateFields: [StateField] { StateField.scalars("position", "velocity") }
    public var observationSpace: BoxSpace {
        BoxSpace(low: [Float(params.minPosition), Float(-params.maxSpeed)],
                 high: [Float(params.maxPosition), Float(params.maxSpeed)])
    }

    /// One step of the car under action `a`, given cos(3 position); the
    /// reward and whether it reached the flag. (`&` evaluates both sides,
    /// branch-free.)
    @inlinable @inline(__always)
    func move(_ s: (position: Float, velocity: Float), action a: Float, cos3p: Float)
        -> (position: Float, velocity: Float, reward: Float, terminated: Bool)
    {
        let force = min(max(a, minAction), maxAction)
        var velocity = s.velocity.addingProduct(force, power).addingProduct(-cos3p, gravity)
        velocity = min(max(velocity, -maxSpeed), maxSpeed)
        var position = s.position + velocity
        position = min(max(position, minPosition), maxPosition)
        velocity = velocity * ((position >= goalPosition) & (velocity < 0) ? 0 : 1)
        let terminated = (position >= goalPosition) & (velocity >= goalVelocity)
        let reward = Float(terminated ? 100 : 0).addingProduct(-0.1, a * a)
        return (position, velocity, reward, terminated)
    }

    @inlinable
    public func stepEnv(key: PRNGKey, state s: CarState, action: UnsafePointer<Float>)
        -> (state: CarState, reward: Float, terminated: Bool)
    {
        let n = move((s.position, s.velocity), action: action.pointee, cos3p: cosf(3 * s.position))
        return (CarState(position: n.position, velocity: n.velocity, time: s.time &+ 1), n.reward, n.terminated)
    }

    /// `batch.stepOne` for every environment in `range`, 64 at a time.
    @inlinable
    public func step(_ range: Range<Int>, of batch: StepBatch<MountainCarContinuous>) {
        var tiles = batch.tiles(range)
        defer { tiles.deallocate() }
        while let tile = tiles.next() {
            let (position, velocity, action) = (tile.row(0), tile.row(1), tile.row(2))
            let (threeP, cos3p, reward) = (tile.row(3), tile.row(4), tile.row(5))
            batch.loadStates(tile, position, velocity)
            batch.loadActions(tile, action)
            for i in 0..<Tile.size { threeP[i] = 3 * position[i] }
            tile.cos(threeP, into: cos3p)
            for i in 0..<Tile.size {
                let n = move((position[i], velocity[i]), action: action[i], cos3p: cos3p[i])
                (position[i], velocity[i], reward[i], tile.terminated[i]) = n
            }
            batch.storeStates(tile, position, velocity)
            batch.storeObservations(tile, position, velocity)
            batch.finishTile(tile, rewards: reward)
        }
    }

    @inlinable
    public func resetEnv(key: PRNGKey) -> CarState {
        CarState(position: key.uniform(at: 0, minval: -0.6, maxval: -0.4), velocity: 0, time: 0)
    }

    @inlinable
    public func observation(of s: CarState, into out: UnsafeMutablePointer<Float>) {
        out[0] = s.position; out[1] = s.velocity
    }

    @inlinable
    public func loadState(_ v: UnsafePointer<Float>, time: Int32) -> CarState {
        CarState(position: v[0], velocity: v[1], time: time)
    }

    @inlinable
    public func storeState(_ s: CarState, into out: UnsafeMutablePointer<Float>) {
        observation(of: s, into: out)
    }
}
