#if canImport(Glibc)
import Glibc
#endif

/// Activation functions by their Flax / JAX names.
public enum Activation: String, Sendable, CaseIterable {
    case relu, tanh, sigmoid, swish, silu, elu, softplus, identity
    case leakyRelu = "leaky_relu"

    @inlinable
    public func callAsFunction(_ x: Float) -> Float {
        switch self {
        case .relu: return Swift.max(x, 0)
        case .tanh: return tanhf(x)
        case .sigmoid: return 1 / (1 + expf(-x))
        case .swish, .silu: return x / (1 + expf(-x))
        case .elu: return x > 0 ? x : expm1f(x)
        case .softplus: return Swift.max(x, 0) + log1pf(expf(-Swift.abs(x)))
        case .leakyRelu: return x >= 0 ? x : 0.01 * x
        case .identity: return x
        }
    }
}

/// A dense layer as Flax's `nn.Dense`: y = x · kernel + bias, with the kernel
/// stored [input, output] row-major.
public struct DenseLayer: Sendable, Equatable {
    public let inputSize: Int
    public let outputSize: Int
    public var kernel: [Float]
    public var bias: [Float]

    public init(kernel: [Float], bias: [Float], inputSize: Int, outputSize: Int) {
        precondition(kernel.count == inputSize * outputSize && bias.count == outputSize)
        self.inputSize = inputSize
        self.outputSize = outputSize
        self.kernel = kernel
        self.bias = bias
    }

    /// A zero layer of the given shape.
    public init(inputSize: Int, outputSize: Int) {
        self.init(kernel: [Float](repeating: 0, count: inputSize * outputSize),
                  bias: [Float](repeating: 0, count: outputSize), inputSize: inputSize, outputSize: outputSize)
    }

    /// `rows` inputs of `inputSize` → `rows` outputs of `outputSize` (rows contiguous).
    @inlinable
    public func apply(rows: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        kernel.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                for r in 0..<rows {
                    let xr = x + r * inputSize, yr = y + r * outputSize
                    yr.initialize(repeating: 0, count: outputSize)
                    for i in 0..<inputSize {
                        let xi = xr[i], wi = w.baseAddress! + i * outputSize
                        for j in 0..<outputSize { yr[j] = yr[j].addingProduct(xi, wi[j]) }
                    }
                    for j in 0..<outputSize { yr[j] += b[j] }
                }
            }
        }
    }
}

/// A multi-layer perceptron as the original's `MLP`: dense layers with the
/// activation between them (not after the last).
public struct MLP: Sendable, Equatable {
    public var layers: [DenseLayer]
    public var activation: Activation

    public init(layers: [DenseLayer], activation: Activation) {
        precondition(!layers.isEmpty)
        for (a, b) in zip(layers, layers.dropFirst()) { precondition(a.outputSize == b.inputSize) }
        self.layers = layers
        self.activation = activation
    }

    public var inputSize: Int { layers[0].inputSize }
    public var outputSize: Int { layers[layers.count - 1].outputSize }
    /// The widest layer output, for scratch sizing.
    public var maxWidth: Int { layers.map(\.outputSize).max()! }

    /// Forward pass for `rows` inputs. `scratch` holds 2 * rows * maxWidth floats.
    public func apply(rows: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                      scratch: UnsafeMutablePointer<Float>) {
        var input = x
        var buffers = (scratch, scratch + rows * maxWidth)
        for (index, layer) in layers.enumerated() {
            let last = index == layers.count - 1
            let out = last ? y : buffers.0
            layer.apply(rows: rows, input, out)
            if !last {
                for k in 0..<(rows * layer.outputSize) { out[k] = activation(out[k]) }
                input = UnsafePointer(out)
                buffers = (buffers.1, buffers.0)
            }
        }
    }

    /// Forward pass of one input.
    public func callAsFunction(_ x: [Float]) -> [Float] {
        precondition(x.count == inputSize)
        var y = [Float](repeating: 0, count: outputSize)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * maxWidth)
        defer { scratch.deallocate() }
        apply(rows: 1, x, &y, scratch: scratch)
        return y
    }
}
