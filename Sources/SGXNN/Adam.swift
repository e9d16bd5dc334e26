#if canImport(Glibc)
import Glibc
#endif

/// Adam as `optax.chain(optax.clip_by_global_norm(max_grad_norm),
/// optax.adam(learning_rate, b1, b2, eps))`, the optimiser rejax's agents
/// use, over one flat float32 parameter vector.
///
/// Per step t (from 1), with g the gradient:
///   g ← g                          if ‖g‖₂ < max_grad_norm
///       (g / ‖g‖₂) · max_grad_norm otherwise
///   m ← (1 − b1)·g + b1·m,   v ← (1 − b2)·g² + b2·v
///   p ← p − lr · (m / (1 − b1ᵗ)) / (√(v / (1 − b2ᵗ)) + eps)
public final class Adam {
    public struct Configuration: Sendable, Equatable {
        public var learningRate: Float
        public var b1: Float = 0.9
        public var b2: Float = 0.999
        public var eps: Float = 1e-8
        /// Global-norm clipping threshold; infinity disables it.
        public var maxGradNorm: Float = .infinity

        public init(learningRate: Float, b1: Float = 0.9, b2: Float = 0.999, eps: Float = 1e-8,
                    maxGradNorm: Float = .infinity) {
            (self.learningRate, self.b1, self.b2, self.eps, self.maxGradNorm) = (learningRate, b1, b2, eps, maxGradNorm)
        }
    }

    public var configuration: Configuration
    public let count: Int
    /// optax's `count`: steps taken.
    public private(set) var steps: Int32 = 0
    /// The global norm of the last step's gradient, before clipping.
    public private(set) var lastGradientNorm: Float = 0
    private let m: UnsafeMutablePointer<Float>
    private let v: UnsafeMutablePointer<Float>

    public init(count: Int, _ configuration: Configuration) {
        self.count = count
        self.configuration = configuration
        m = .allocate(capacity: count)
        m.initialize(repeating: 0, count: count)
        v = .allocate(capacity: count)
        v.initialize(repeating: 0, count: count)
    }

    deinit { m.deallocate(); v.deallocate() }

    /// The first and second moment estimates (copies).
    public var firstMoment: [Float] { Array(UnsafeBufferPointer(start: m, count: count)) }
    public var secondMoment: [Float] { Array(UnsafeBufferPointer(start: v, count: count)) }

    /// optax `tree.norm`: √Σg².
    public static func globalNorm(_ g: UnsafePointer<Float>, count: Int) -> Float {
        Kernels.sumOfSquares(g, count: count).squareRoot()
    }

    /// One step: clips `gradients` by global norm (in effect; the buffer is
    /// not changed) and updates `parameters` in place. `globalNorm`, when
    /// given, is the norm to clip by: that of a larger parameter tree this
    /// vector is part of (optax clips the whole tree at once).
    public func step(parameters p: UnsafeMutablePointer<Float>, gradients g: UnsafePointer<Float>, globalNorm: Float? = nil) {
        let c = configuration
        let norm = globalNorm ?? Adam.globalNorm(g, count: count)
        lastGradientNorm = norm
        // clip_by_global_norm: select(norm < max, g, (g / norm) * max), here g · (max / norm).
        let clip = !(norm < c.maxGradNorm)
        steps &+= 1
        let t = Float(steps)
        let correction1 = 1 - powf(c.b1, t), correction2 = 1 - powf(c.b2, t)
        let b1 = SIMD8(repeating: c.b1), b2 = SIMD8(repeating: c.b2)
        let oneMinusB1 = SIMD8(repeating: 1 - c.b1), oneMinusB2 = SIMD8(repeating: 1 - c.b2)
        // Reciprocals of the bias corrections: one division per element, not three.
        let c1 = SIMD8(repeating: 1 / correction1), c2 = SIMD8(repeating: 1 / correction2)
        let eps = SIMD8(repeating: c.eps), minusLR = SIMD8(repeating: -c.learningRate)
        let scale = SIMD8<Float>(repeating: clip ? c.maxGradNorm / norm : 1)
        @inline(__always) func update(_ g: SIMD8<Float>, _ m: inout SIMD8<Float>, _ v: inout SIMD8<Float>,
                                      _ p: inout SIMD8<Float>) {
            let gc = g * scale
            m = oneMinusB1 * gc + b1 * m
            v = oneMinusB2 * (gc * gc) + b2 * v
            p = p + minusLR * ((m * c1) / (Kernels.squareRoot(v * c2) + eps))
        }
        var i = 0
        while i &+ 8 <= count {
            var mi = Kernels.load(m + i), vi = Kernels.load(v + i), pi = Kernels.load(p + i)
            update(Kernels.load(g + i), &mi, &vi, &pi)
            Kernels.store(mi, m + i); Kernels.store(vi, v + i); Kernels.store(pi, p + i)
            i &+= 8
        }
        if i < count {
            var gi = SIMD8<Float>(), mi = SIMD8<Float>(), vi = SIMD8<Float>(), pi = SIMD8<Float>()
            for lane in 0..<(count &- i) { (gi[lane], mi[lane], vi[lane], pi[lane]) = (g[i + lane], m[i + lane], v[i + lane], p[i + lane]) }
            update(gi, &mi, &vi, &pi)
            for lane in 0..<(count &- i) { (m[i + lane], v[i + lane], p[i + lane]) = (mi[lane], vi[lane], pi[lane]) }
        }
    }

    /// `step` on a network's parameters and gradients (extras included).
    public func step(_ network: DenseNetwork, globalNorm: Float? = nil) {
        precondition(network.parameterCount == count)
        step(parameters: network.parameterPointer, gradients: network.gradientPointer, globalNorm: globalNorm)
    }

    /// The global norm of several networks' gradients together, for
    /// parameter trees optax clips as one (twin critics; DDPG's actor and
    /// critic).
    public static func globalNorm(_ networks: [DenseNetwork]) -> Float {
        networks.reduce(0) { $0 + Kernels.sumOfSquares($1.gradientPointer, count: $1.parameterCount) }.squareRoot()
    }
}
