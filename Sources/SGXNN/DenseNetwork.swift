import SGXRandom

#if canImport(Glibc)
import Glibc
#endif

/// The shape of a fully connected network: layer widths from the input to the
/// output, and the activation after every layer but the last (as rejax's
/// `MLP` followed by an output `nn.Dense`).
public struct NetworkShape: Sendable, Hashable {
    /// [input, hidden..., output]
    public var sizes: [Int]
    public var activation: Activation

    public init(sizes: [Int], activation: Activation) {
        precondition(sizes.count >= 2 && sizes.allSatisfy { $0 >= 1 }, "a network needs an input and an output size, all >= 1")
        self.sizes = sizes
        self.activation = activation
    }

    public init(input: Int, hidden: [Int], output: Int, activation: Activation) {
        self.init(sizes: [input] + hidden + [output], activation: activation)
    }

    public var inputSize: Int { sizes[0] }
    public var outputSize: Int { sizes[sizes.count - 1] }
    public var layerCount: Int { sizes.count - 1 }
    /// The widest layer output.
    public var maxWidth: Int { sizes.dropFirst().max()! }

    /// Where layer l's kernel ([in, out] row-major, as Flax) starts in the
    /// flat parameter vector; its bias (out) follows it.
    public func kernelOffset(_ layer: Int) -> Int {
        (0..<layer).reduce(0) { $0 + sizes[$1] * sizes[$1 + 1] + sizes[$1 + 1] }
    }
    public func biasOffset(_ layer: Int) -> Int { kernelOffset(layer) + sizes[layer] * sizes[layer + 1] }
    /// Floats in the flat parameter vector: per layer the kernel then the bias.
    public var parameterCount: Int { kernelOffset(layerCount) }
    /// Multiply-adds of one forward pass of one row.
    public var multiplyAddsPerRow: Int { (0..<layerCount).reduce(0) { $0 + sizes[$1] * sizes[$1 + 1] } }
}

/// How a kernel is initialised; biases start at zero (Flax's default).
public enum WeightInitializer: Sendable, Hashable {
    /// Flax's default `lecun_normal`: truncated normal in ±2 standard
    /// deviations, scaled to variance 1 / fan_in. rejax's networks use it.
    case lecunNormal
    /// `jax.nn.initializers.orthogonal(gain)`: a random orthogonal matrix
    /// (QR of a normal one, signs fixed by R's diagonal) times `gain`, as
    /// CleanRL / PureJaxRL (sqrt 2 for hidden layers, 0.01 / 1 for heads).
    case orthogonal(gain: Float)
    case zeros

    /// Fills a [fanIn, fanOut] row-major kernel from `key`.
    public func fill(_ out: UnsafeMutablePointer<Float>, fanIn: Int, fanOut: Int, key: PRNGKey) {
        let count = fanIn * fanOut
        switch self {
        case .zeros:
            out.initialize(repeating: 0, count: count)
        case .lecunNormal:
            // jax.random.truncated_normal(key, -2, 2): sqrt2·erfinv(u) with u
            // uniform in (erf(-√2), erf(√2)), clipped inside the bounds.
            let sqrt2 = Float(2).squareRoot()
            let lower = erff(-2 / sqrt2), upper = erff(2 / sqrt2)
            let stddev = (1 / Float(fanIn)).squareRoot() / 0.87962566103423978
            let lo = Float(-2).nextUp, hi = Float(2).nextDown
            for i in 0..<count {
                let u = key.uniform(at: i, minval: lower, maxval: upper)
                out[i] = Swift.min(Swift.max(sqrt2 * erfInv(u), lo), hi) * stddev
            }
        case .orthogonal(let gain):
            let rows = Swift.max(fanIn, fanOut), cols = Swift.min(fanIn, fanOut)
            // A rows×cols normal matrix; modified Gram-Schmidt (twice, in
            // double) gives Q with R's diagonal positive: Householder's Q
            // times sign(diag R), which is what JAX returns.
            var q = key.normal(count: rows * cols).map(Double.init)
            for j in 0..<cols {
                for _ in 0..<2 {
                    for p in 0..<j {
                        var dot = 0.0
                        for i in 0..<rows { dot += q[i * cols + p] * q[i * cols + j] }
                        for i in 0..<rows { q[i * cols + j] -= dot * q[i * cols + p] }
                    }
                }
                var norm = 0.0
                for i in 0..<rows { norm += q[i * cols + j] * q[i * cols + j] }
                norm = norm.squareRoot()
                for i in 0..<rows { q[i * cols + j] /= norm }
            }
            for i in 0..<fanIn {
                for j in 0..<fanOut {
                    // Q is fanIn×fanOut when fanIn >= fanOut, else its transpose.
                    let v = fanIn >= fanOut ? q[i * cols + j] : q[j * cols + i]
                    out[i * fanOut + j] = Float(gain) * Float(v)
                }
            }
        }
    }
}

/// A trainable multi-layer perceptron: flat float32 parameters, a forward
/// pass over a batch that keeps what the backward pass needs, and a
/// hand-written backward pass giving the gradients with respect to the
/// parameters (summed over the rows) and, optionally, to the inputs.
///
/// A reference type owning its buffers: scratch grows to the largest batch
/// seen and is reused, so a training loop allocates nothing per step. Not
/// for concurrent use; `copy()` gives an independent network.
///
/// The flat parameter vector is, layer by layer, the kernel ([in, out]
/// row-major, Flax's layout) then the bias, followed by `extraCount` free
/// parameters the network does not use itself (e.g. a Gaussian policy's
/// log standard deviations), so that one vector holds everything an
/// optimiser updates.
public final class DenseNetwork {
    public let shape: NetworkShape
    /// Free parameters after the layers' (not touched by forward/backward).
    public let extraCount: Int
    /// Floats in `parameters`: the layers' then the extras.
    public let parameterCount: Int
    /// Multiply-adds done so far by forward and backward passes (for FLOP/s).
    public var multiplyAdds: Int = 0

    @usableFromInline let params: UnsafeMutablePointer<Float>
    @usableFromInline let grads: UnsafeMutablePointer<Float>
    // Scratch, sized for `capacity` rows.
    private var capacity = 0
    private var input: UnsafeMutablePointer<Float>
    /// Hidden layers' pre-activations and activations.
    private var pre: [UnsafeMutablePointer<Float>] = []
    private var post: [UnsafeMutablePointer<Float>] = []
    private var delta: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>)
    /// One transposed kernel: Wᵀ for the input gradient, and for a narrow
    /// output layer's forward dot products.
    private let transposed: UnsafeMutablePointer<Float>
    private var forwardRows = -1

    /// Every buffer the kernels read is allocated this many floats longer
    /// than it needs to be, so that an eight-lane load at any column of its
    /// last row stays inside it (`Kernels.product`'s `paddedReads`): the
    /// lanes past the end are computed and never stored.
    static var slack: Int { 16 }

    private static func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: count + slack)
        p.initialize(repeating: 0, count: count + slack)
        return p
    }

    public init(shape: NetworkShape, extraCount: Int = 0) {
        precondition(extraCount >= 0)
        self.shape = shape
        self.extraCount = extraCount
        parameterCount = shape.parameterCount + extraCount
        params = Self.allocate(parameterCount)
        grads = Self.allocate(parameterCount)
        input = Self.allocate(0)
        delta = (Self.allocate(0), Self.allocate(0))
        let largest = (0..<shape.layerCount).map { shape.sizes[$0] * shape.sizes[$0 + 1] }.max()!
        transposed = Self.allocate(largest)
    }

    /// A network initialised from `key`: layer l's kernel from
    /// `key.foldIn(l)` with `hidden` (or `output` for the last layer),
    /// biases and extras zero.
    public convenience init(shape: NetworkShape, key: PRNGKey, hidden: WeightInitializer = .lecunNormal,
                            output: WeightInitializer? = nil, extraCount: Int = 0) {
        self.init(shape: shape, extraCount: extraCount)
        for l in 0..<shape.layerCount {
            let initializer = l == shape.layerCount - 1 ? (output ?? hidden) : hidden
            initializer.fill(params + shape.kernelOffset(l), fanIn: shape.sizes[l], fanOut: shape.sizes[l + 1],
                             key: key.foldIn(UInt32(l)))
        }
    }

    /// A network with the given flat parameters.
    public convenience init(shape: NetworkShape, parameters: [Float], extraCount: Int = 0) {
        self.init(shape: shape, extraCount: extraCount)
        precondition(parameters.count == parameterCount,
                     "\(parameters.count) parameters given, the network has \(parameterCount)")
        params.update(from: parameters, count: parameterCount)
    }

    /// The trainable counterpart of a forward-only `MLP`.
    public convenience init(_ mlp: MLP) {
        let shape = NetworkShape(sizes: [mlp.inputSize] + mlp.layers.map(\.outputSize), activation: mlp.activation)
        self.init(shape: shape, parameters: mlp.layers.flatMap { $0.kernel + $0.bias })
    }

    deinit {
        params.deallocate(); grads.deallocate(); input.deallocate(); transposed.deallocate()
        delta.0.deallocate(); delta.1.deallocate()
        pre.forEach { $0.deallocate() }; post.forEach { $0.deallocate() }
    }

    /// An independent network with the same parameters.
    public func copy() -> DenseNetwork {
        let other = DenseNetwork(shape: shape, extraCount: extraCount)
        other.params.update(from: params, count: parameterCount)
        return other
    }

    /// Polyak averaging toward `source` (same shape), for target networks as
    /// rejax's `TargetNetworkMixin`: p ← polyak·p + (1 − polyak)·source.
    public func moveToward(_ source: DenseNetwork, polyak: Float) {
        precondition(source.parameterCount == parameterCount, "networks of different sizes")
        let keep = polyak, take = 1 - polyak
        for i in 0..<parameterCount { params[i] = params[i] * keep + source.params[i] * take }
    }

    /// The forward-only `MLP` with these weights (extras dropped).
    public var mlp: MLP {
        MLP(layers: (0..<shape.layerCount).map { l in
            let k = shape.kernelOffset(l), b = shape.biasOffset(l), n = shape.sizes[l], m = shape.sizes[l + 1]
            return DenseLayer(kernel: Array(UnsafeBufferPointer(start: params + k, count: n * m)),
                              bias: Array(UnsafeBufferPointer(start: params + b, count: m)), inputSize: n, outputSize: m)
        }, activation: shape.activation)
    }

    /// The flat parameter vector (a copy; setting it copies in).
    public var parameters: [Float] {
        get { Array(UnsafeBufferPointer(start: params, count: parameterCount)) }
        set {
            precondition(newValue.count == parameterCount)
            params.update(from: newValue, count: parameterCount)
        }
    }

    /// The gradients of the last `backward` (a copy).
    public var gradients: [Float] { Array(UnsafeBufferPointer(start: grads, count: parameterCount)) }

    /// The parameters in place (for optimisers).
    @inlinable public var parameterPointer: UnsafeMutablePointer<Float> { params }
    /// The gradients in place: `backward` writes the layers' part; whoever
    /// uses the extras writes theirs.
    @inlinable public var gradientPointer: UnsafeMutablePointer<Float> { grads }
    /// The extra parameters in place.
    @inlinable public var extraPointer: UnsafeMutablePointer<Float> { params + shape.parameterCount }

    /// Grows the scratch buffers to hold `rows` rows.
    public func reserve(rows: Int) {
        guard rows > capacity else { return }
        let rows = Swift.max(rows, 2 * capacity)
        input.deallocate()
        input = Self.allocate(rows * shape.inputSize)
        pre.forEach { $0.deallocate() }; post.forEach { $0.deallocate() }
        let hidden = shape.sizes.dropFirst().dropLast()
        pre = hidden.map { Self.allocate(rows * $0) }
        post = hidden.map { Self.allocate(rows * $0) }
        delta.0.deallocate(); delta.1.deallocate()
        let width = Swift.max(shape.maxWidth, shape.inputSize)
        delta = (Self.allocate(rows * width), Self.allocate(rows * width))
        capacity = rows
    }

    /// Forward pass of `rows` inputs (`rows × inputSize`, contiguous) into
    /// `output` (`rows × outputSize`). Keeps the activations for `backward`.
    ///
    /// Hidden layers: one tiled product z = x·W + b per layer into `pre`,
    /// each block of six rows activated into `post` as soon as it is done
    /// (while in L1). The output layer: the same product, or, when it has
    /// fewer than eight outputs (values, logits), dot products with Wᵀ
    /// (a tile would compute eight lanes to keep one).
    public func forward(rows: Int, input x: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        reserve(rows: rows)
        input.update(from: x, count: rows * shape.inputSize)
        var current = UnsafePointer(input)
        let activation = shape.activation
        for l in 0..<shape.layerCount {
            let n = shape.sizes[l], m = shape.sizes[l + 1]
            let w = UnsafePointer(params + shape.kernelOffset(l)), b = UnsafePointer(params + shape.biasOffset(l))
            if l < shape.layerCount - 1 {
                let (z, y) = (pre[l], post[l])
                Kernels.product(m: rows, n: m, k: n, a: current, aRow: n, aStep: 1, b: w, ldb: m, paddedReads: true,
                                into: .init(z, ldc: m, bias: b)) { first, count in
                    Kernels.activate(activation, z + first * m, count: count * m, into: y + first * m)
                }
                current = UnsafePointer(y)
            } else if m < 8 {
                Kernels.transpose(m: n, n: m, w, transposed)
                Kernels.multiplyTransposed(m: rows, n: m, k: n, current, transposed, output, bias: b)
            } else {
                Kernels.product(m: rows, n: m, k: n, a: current, aRow: n, aStep: 1, b: w, ldb: m, paddedReads: true,
                                into: .init(output, ldc: m, bias: b))
            }
        }
        multiplyAdds &+= rows * shape.multiplyAddsPerRow
        forwardRows = rows
    }

    /// `forward` of one array of rows.
    public func callAsFunction(_ x: [Float]) -> [Float] {
        precondition(x.count % shape.inputSize == 0)
        let rows = x.count / shape.inputSize
        var y = [Float](repeating: 0, count: rows * shape.outputSize)
        forward(rows: rows, input: x, output: &y)
        return y
    }

    /// Backward pass through the last `forward`: given dL/d(output)
    /// (`rows × outputSize`), writes dL/d(parameters) summed over the rows
    /// into the gradients (added to them when `accumulate`), and dL/d(input)
    /// (`rows × inputSize`) when `inputGradient` is given. With
    /// `parameterGradients: false` only the input gradient is computed (an
    /// actor's loss through a critic that is held fixed); the gradients
    /// buffer is left as it was.
    ///
    /// Per layer, from the last: dW = Xᵀ·G (a tiled product reading X
    /// transposed in place; narrow G as (Gᵀ·X)ᵀ), db = Σ_rows G, and, unless
    /// this is the first layer and no input gradient is wanted,
    /// dX = G·Wᵀ through one transposed copy of W (a tiled product), each
    /// block of six rows multiplied by the activation's derivative as soon
    /// as it is done; for a narrow input (< 8), dot products along W's rows.
    public func backward(outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>? = nil,
                         accumulate: Bool = false, parameterGradients: Bool = true) {
        let rows = forwardRows
        precondition(rows >= 0, "backward needs a forward pass first")
        let activation = shape.activation
        var g = outputGradient
        var buffers = delta
        for l in stride(from: shape.layerCount - 1, through: 0, by: -1) {
            let n = shape.sizes[l], m = shape.sizes[l + 1]
            let x = l == 0 ? UnsafePointer(input) : UnsafePointer(post[l - 1])
            // G is ours (padded) except for the output layer's, the caller's.
            if parameterGradients {
                Kernels.multiplyTransposedA(m: rows, k: n, n: m, x, g, grads + shape.kernelOffset(l), accumulate: accumulate,
                                            paddedReads: l < shape.layerCount - 1)
                Kernels.sumRows(m: rows, n: m, g, grads + shape.biasOffset(l), accumulate: accumulate)
                multiplyAdds &+= rows * n * m
            }
            guard l > 0 || inputGradient != nil else { break }
            // dL/dx = G · Wᵀ.
            let out = l == 0 ? inputGradient! : buffers.0
            if l == 0 && n < 8 {
                // A narrow input (observation and action): W's rows are Wᵀ's
                // columns, so dot products along them need no transpose.
                Kernels.multiplyTransposed(m: rows, n: n, k: m, g, params + shape.kernelOffset(l), out)
                multiplyAdds &+= rows * n * m
                break
            }
            Kernels.transpose(m: n, n: m, params + shape.kernelOffset(l), transposed)
            if l > 0 {
                let (z, y) = (UnsafePointer(pre[l - 1]), UnsafePointer(post[l - 1]))
                Kernels.product(m: rows, n: n, k: m, a: g, aRow: m, aStep: 1, b: transposed, ldb: n, paddedReads: true,
                                into: .init(out, ldc: n)) { first, count in
                    Kernels.multiplyByDerivative(activation, out + first * n, preactivation: z + first * n,
                                                 activation: y + first * n, count: count * n)
                }
                g = UnsafePointer(out)
                buffers = (buffers.1, buffers.0)
            } else {
                Kernels.product(m: rows, n: n, k: m, a: g, aRow: m, aStep: 1, b: transposed, ldb: n, paddedReads: true,
                                into: .init(out, ldc: n))
            }
            multiplyAdds &+= rows * n * m
        }
    }
}
