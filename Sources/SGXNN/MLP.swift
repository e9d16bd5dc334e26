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
    public let kernel: [Float]
    public let bias: [Float]
    /// The kernel and bias with the outputs padded with zeros to a multiple
    /// of 8, so that every output goes through the SIMD loop.
    @usableFromInline let packedKernel: [Float]
    @usableFromInline let packedBias: [Float]
    @usableFromInline let packedWidth: Int

    public init(kernel: [Float], bias: [Float], inputSize: Int, outputSize: Int) {
        precondition(kernel.count == inputSize * outputSize && bias.count == outputSize)
        self.inputSize = inputSize
        self.outputSize = outputSize
        self.kernel = kernel
        self.bias = bias
        let width = (outputSize + 7) / 8 * 8
        var packed = [Float](repeating: 0, count: inputSize * width)
        for i in 0..<inputSize {
            for j in 0..<outputSize { packed[i * width + j] = kernel[i * outputSize + j] }
        }
        packedKernel = packed
        packedBias = bias + [Float](repeating: 0, count: width - outputSize)
        packedWidth = width
    }

    public static func == (a: DenseLayer, b: DenseLayer) -> Bool {
        a.inputSize == b.inputSize && a.outputSize == b.outputSize && a.kernel == b.kernel && a.bias == b.bias
    }

    /// A zero layer of the given shape.
    public init(inputSize: Int, outputSize: Int) {
        self.init(kernel: [Float](repeating: 0, count: inputSize * outputSize),
                  bias: [Float](repeating: 0, count: outputSize), inputSize: inputSize, outputSize: outputSize)
    }

    /// `rows` inputs of `inputSize` → `rows` outputs of `outputSize` (rows
    /// contiguous). Eight outputs at a time accumulate in a SIMD register
    /// (fused multiply-adds over the inputs), then the bias is added, as
    /// Flax's `dot(x, kernel) + bias`.
    @inlinable
    public func apply(rows: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        let n = inputSize, m = outputSize, width = packedWidth
        packedKernel.withUnsafeBufferPointer { wb in
            packedBias.withUnsafeBufferPointer { bb in
                let w = UnsafeRawPointer(wb.baseAddress!), b = UnsafeRawPointer(bb.baseAddress!)
                @inline(__always) func weights(_ i: Int, _ j: Int) -> SIMD8<Float> {
                    w.loadUnaligned(fromByteOffset: 4 &* (i &* width &+ j), as: SIMD8<Float>.self)
                }
                @inline(__always) func store(_ acc: SIMD8<Float>, row: Int, _ j: Int) {
                    let out = acc + b.loadUnaligned(fromByteOffset: 4 &* j, as: SIMD8<Float>.self)
                    let yr = y + row &* m
                    if j &+ 8 <= m {
                        UnsafeMutableRawPointer(yr + j).storeBytes(of: out, as: SIMD8<Float>.self)
                    } else {
                        for lane in 0..<(m &- j) { yr[j &+ lane] = out[lane] }
                    }
                }
                // Four rows at a time: four independent accumulation chains
                // share each weight load.
                var r = 0
                while r &+ 4 <= rows {
                    let x0 = x + r &* n, x1 = x0 + n, x2 = x1 + n, x3 = x2 + n
                    for j in stride(from: 0, to: width, by: 8) {
                        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
                        for i in 0..<n {
                            let wi = weights(i, j)
                            a0 = a0.addingProduct(SIMD8(repeating: x0[i]), wi)
                            a1 = a1.addingProduct(SIMD8(repeating: x1[i]), wi)
                            a2 = a2.addingProduct(SIMD8(repeating: x2[i]), wi)
                            a3 = a3.addingProduct(SIMD8(repeating: x3[i]), wi)
                        }
                        store(a0, row: r, j); store(a1, row: r &+ 1, j)
                        store(a2, row: r &+ 2, j); store(a3, row: r &+ 3, j)
                    }
                    r &+= 4
                }
                while r < rows {
                    let xr = x + r &* n
                    for j in stride(from: 0, to: width, by: 8) {
                        var acc = SIMD8<Float>()
                        for i in 0..<n { acc = acc.addingProduct(SIMD8(repeating: xr[i]), weights(i, j)) }
                        store(acc, row: r, j)
                    }
                    r &+= 1
                }
            }
        }
    }

    /// A copy with other weights of the same shape.
    public func with(kernel: [Float], bias: [Float]) -> DenseLayer {
        DenseLayer(kernel: kernel, bias: bias, inputSize: inputSize, outputSize: outputSize)
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
                let count = rows * layer.outputSize
                if activation == .relu {
                    for k in 0..<count { out[k] = Swift.max(out[k], 0) }
                } else {
                    for k in 0..<count { out[k] = activation(out[k]) }
                }
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
