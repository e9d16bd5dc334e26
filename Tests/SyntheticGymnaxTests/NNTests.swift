import Foundation
import XCTest
@testable import SyntheticGymnax

/// The training core: matrix kernels against naive products, the backward
/// pass against finite differences of a float64 reference, initialisers,
/// and Adam with global-norm clipping against a hand computation.
final class NNTests: XCTestCase {
    /// Deterministic pseudo-random floats in [-1, 1).
    static func values(_ count: Int, seed: UInt32) -> [Float] {
        PRNGKey(seed: Int64(seed)).uniform(count: count, minval: -1, maxval: 1)
    }

    // MARK: Kernels

    func testKernelsMatchNaiveProducts() {
        var seed: UInt32 = 1
        for m in [1, 3, 4, 7, 13] {
            for n in [1, 2, 7, 8, 9, 16, 24, 33] {
                for k in [1, 4, 5, 17, 64] {
                    seed += 1
                    let a = Self.values(m * k, seed: seed), b = Self.values(k * n, seed: seed + 1000)
                    let bias = Self.values(n, seed: seed + 2000)
                    var ab = [Double](repeating: 0, count: m * n)
                    for r in 0..<m { for j in 0..<n { for i in 0..<k { ab[r * n + j] += Double(a[r * k + i]) * Double(b[i * n + j]) } } }
                    func close(_ got: [Float], _ want: [Double], _ what: String) {
                        for (g, w) in zip(got, want) where abs(Double(g) - w) > 1e-5 * Double(k) {
                            XCTFail("\(what) m=\(m) n=\(n) k=\(k): \(g) vs \(w)"); return
                        }
                    }
                    var c = [Float](repeating: 0, count: m * n)
                    Kernels.multiply(m: m, n: n, k: k, a, b, &c, bias: bias)
                    close(c, (0..<(m * n)).map { ab[$0] + Double(bias[$0 % n]) }, "multiply+bias")
                    Kernels.multiply(m: m, n: n, k: k, a, b, &c, accumulate: true)
                    close(c, (0..<(m * n)).map { 2 * ab[$0] + Double(bias[$0 % n]) }, "multiply accumulate")
                    var bt = [Float](repeating: 0, count: k * n)
                    Kernels.transpose(m: k, n: n, b, &bt)
                    Kernels.multiplyTransposed(m: m, n: n, k: k, a, bt, &c, bias: bias)
                    close(c, (0..<(m * n)).map { ab[$0] + Double(bias[$0 % n]) }, "multiplyTransposed")
                    // Aᵀ·G with A [m×k], G [m×n].
                    let g = Self.values(m * n, seed: seed + 3000)
                    var atg = [Double](repeating: 0, count: k * n)
                    for i in 0..<k { for j in 0..<n { for r in 0..<m { atg[i * n + j] += Double(a[r * k + i]) * Double(g[r * n + j]) } } }
                    var d = [Float](repeating: 0, count: k * n)
                    Kernels.multiplyTransposedA(m: m, k: k, n: n, a, g, &d)
                    close(d, atg, "multiplyTransposedA")
                    Kernels.multiplyTransposedA(m: m, k: k, n: n, a, g, &d, accumulate: true)
                    close(d, atg.map { 2 * $0 }, "multiplyTransposedA accumulate")
                }
            }
        }
    }

    func testTanhApproximationIsWithinAFewUlp() {
        var worst: Float = 0
        var x: Float = -10
        while x < 10 {
            let y = Kernels.tanh(SIMD8(repeating: x))[0]
            worst = max(worst, abs(y - tanhf(x)) / max(abs(tanhf(x)), 1e-30))
            x += 0.000731
        }
        XCTAssertLessThan(worst, 4e-7, "relative error of the rational tanh")
        XCTAssertEqual(Kernels.tanh(SIMD8(repeating: 1e-5))[0], 1e-5)
        XCTAssertEqual(Kernels.tanh(SIMD8(repeating: 30))[0], 1, accuracy: 3e-7)
    }

    // MARK: Backward pass

    /// Forward pass in float64 on the network's (float32) parameters.
    static func referenceForward(_ shape: NetworkShape, _ p: [Double], _ x: [Double], rows: Int) -> [Double] {
        func act(_ z: Double) -> Double {
            switch shape.activation {
            case .relu: return max(z, 0)
            case .tanh: return Foundation.tanh(z)
            case .sigmoid: return 1 / (1 + exp(-z))
            case .swish, .silu: return z / (1 + exp(-z))
            case .elu: return z > 0 ? z : expm1(z)
            case .softplus: return log1p(exp(z))
            case .leakyRelu: return z >= 0 ? z : 0.01 * z
            case .identity: return z
            }
        }
        var h = x
        for l in 0..<shape.layerCount {
            let n = shape.sizes[l], m = shape.sizes[l + 1], k = shape.kernelOffset(l), b = shape.biasOffset(l)
            var out = [Double](repeating: 0, count: rows * m)
            for r in 0..<rows {
                for j in 0..<m {
                    var s = p[b + j]
                    for i in 0..<n { s += h[r * n + i] * p[k + i * m + j] }
                    out[r * m + j] = l == shape.layerCount - 1 ? s : act(s)
                }
            }
            h = out
        }
        return h
    }

    /// L = Σ w ⊙ f(x): analytic gradients against central differences.
    /// Every `stride`-th parameter is checked (all inputs are).
    func checkGradients(_ activation: Activation, sizes: [Int], rows: Int, stride: Int = 1,
                        file: StaticString = #filePath, line: UInt = #line) {
        let shape = NetworkShape(sizes: sizes, activation: activation)
        let net = DenseNetwork(shape: shape, key: PRNGKey(seed: 7), hidden: .lecunNormal)
        // Non-zero biases, so that kinks are not all at the origin.
        var p = net.parameters
        for l in 0..<shape.layerCount {
            for j in 0..<sizes[l + 1] { p[shape.biasOffset(l) + j] = 0.3 * Self.values(sizes[l + 1], seed: UInt32(90 + l))[j] }
        }
        net.parameters = p
        let x = Self.values(rows * sizes[0], seed: 11).map { 2 * $0 }
        let w = Self.values(rows * shape.outputSize, seed: 12)
        var y = [Float](repeating: 0, count: rows * shape.outputSize)
        net.forward(rows: rows, input: x, output: &y)
        var dx = [Float](repeating: 0, count: x.count)
        net.backward(outputGradient: w, inputGradient: &dx)
        let grads = net.gradients

        let p64 = p.map(Double.init), x64 = x.map(Double.init), w64 = w.map(Double.init)
        func loss(_ p: [Double], _ x: [Double]) -> Double {
            zip(Self.referenceForward(shape, p, x, rows: rows), w64).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let h = 1e-6
        var worst = 0.0
        for i in Swift.stride(from: 0, to: p64.count, by: stride) {
            var plus = p64, minus = p64
            plus[i] += h; minus[i] -= h
            let numeric = (loss(plus, x64) - loss(minus, x64)) / (2 * h)
            let error = abs(Double(grads[i]) - numeric) / max(1, abs(numeric))
            worst = max(worst, error)
        }
        for i in 0..<x64.count {
            var plus = x64, minus = x64
            plus[i] += h; minus[i] -= h
            let numeric = (loss(p64, plus) - loss(p64, minus)) / (2 * h)
            worst = max(worst, abs(Double(dx[i]) - numeric) / max(1, abs(numeric)))
        }
        XCTAssertLessThan(worst, 2e-5, "\(activation) \(sizes): worst gradient error", file: file, line: line)
        // The forward pass agrees with the reference too.
        let ref = Self.referenceForward(shape, p64, x64, rows: rows)
        for (a, b) in zip(y, ref) { XCTAssertEqual(Double(a), b, accuracy: 1e-5, file: file, line: line) }
    }

    func testBackwardMatchesFiniteDifferences() {
        for activation in Activation.allCases {
            checkGradients(activation, sizes: [5, 16, 9, 3], rows: 7)
        }
        checkGradients(.tanh, sizes: [4, 64, 64, 2], rows: 13, stride: 5)   // PPO's actor
        checkGradients(.relu, sizes: [3, 24, 1], rows: 5)         // a value head
        checkGradients(.swish, sizes: [6, 8], rows: 1)            // one layer
    }

    func testBackwardAccumulates() {
        let shape = NetworkShape(sizes: [3, 16, 2], activation: .tanh)
        let net = DenseNetwork(shape: shape, key: PRNGKey(seed: 3))
        let x = Self.values(15, seed: 4), g = Self.values(10, seed: 5)
        var y = [Float](repeating: 0, count: 10)
        net.forward(rows: 5, input: x, output: &y)
        net.backward(outputGradient: g)
        let once = net.gradients
        net.backward(outputGradient: g, accumulate: true)
        for (a, b) in zip(net.gradients, once) { XCTAssertEqual(a, 2 * b, accuracy: 1e-6 * max(1, abs(b))) }
    }

    func testCopyAndPolyakAveraging() {
        let shape = NetworkShape(sizes: [3, 8, 2], activation: .tanh)
        let online = DenseNetwork(shape: shape, key: PRNGKey(seed: 1), extraCount: 2)
        let target = online.copy()
        XCTAssertEqual(target.parameters, online.parameters)
        online.parameters = online.parameters.map { $0 + 1 }
        XCTAssertNotEqual(target.parameters, online.parameters)
        let before = target.parameters
        target.moveToward(online, polyak: 0.75)
        for (t, (b, o)) in zip(target.parameters, zip(before, online.parameters)) {
            XCTAssertEqual(t, 0.75 * b + 0.25 * o, accuracy: 1e-6)
        }
        target.moveToward(online, polyak: 0)
        XCTAssertEqual(target.parameters, online.parameters)
    }

    func testConversionFromForwardOnlyMLP() {
        let mlp = SyntheticTests.randomMLP([6, 32, 4], PRNGKey(seed: 9), activation: .relu)
        let net = DenseNetwork(mlp)
        XCTAssertEqual(net.mlp, mlp)
        let x = Self.values(6 * 9, seed: 2)
        var want = [Float](repeating: 0, count: 4 * 9)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * 9 * 32)
        defer { scratch.deallocate() }
        mlp.apply(rows: 9, x, &want, scratch: scratch)
        for (a, b) in zip(net(x), want) { XCTAssertEqual(a, b, accuracy: 1e-5) }
    }

    // MARK: Initialisers

    func testInitializers() {
        // lecun_normal: truncated normal in ±2σ with variance 1 / fan_in.
        var w = [Float](repeating: 0, count: 256 * 64)
        WeightInitializer.lecunNormal.fill(&w, fanIn: 256, fanOut: 64, key: PRNGKey(seed: 1))
        let variance = w.reduce(0) { $0 + Double($1) * Double($1) } / Double(w.count)
        XCTAssertEqual(variance * 256, 1, accuracy: 0.05)
        let bound = 2 / Float(256).squareRoot() / 0.87962566103423978
        XCTAssertLessThanOrEqual(w.map(abs).max()!, bound)
        // orthogonal(gain): WᵀW = gain²·I for fan_in >= fan_out, WWᵀ otherwise.
        for (rows, cols) in [(64, 4), (4, 64), (64, 64)] {
            var q = [Float](repeating: 0, count: rows * cols)
            WeightInitializer.orthogonal(gain: 2).fill(&q, fanIn: rows, fanOut: cols, key: PRNGKey(seed: 2))
            let small = min(rows, cols)
            for a in 0..<small {
                for b in 0..<small {
                    var dot: Float = 0
                    for i in 0..<max(rows, cols) {
                        dot += rows >= cols ? q[i * cols + a] * q[i * cols + b] : q[a * cols + i] * q[b * cols + i]
                    }
                    XCTAssertEqual(dot, a == b ? 4 : 0, accuracy: 1e-4, "\(rows)x\(cols) (\(a), \(b))")
                }
            }
        }
        // Layer keys are fold_in(key, layer); biases start at zero.
        let net = DenseNetwork(shape: NetworkShape(sizes: [4, 8, 2], activation: .tanh), key: PRNGKey(seed: 5))
        var first = [Float](repeating: 0, count: 32)
        WeightInitializer.lecunNormal.fill(&first, fanIn: 4, fanOut: 8, key: PRNGKey(seed: 5).foldIn(0))
        XCTAssertEqual(Array(net.parameters[0..<32]), first)
        XCTAssertEqual(Array(net.parameters[32..<40]), [Float](repeating: 0, count: 8))
    }

    // MARK: Adam

    /// optax.chain(clip_by_global_norm(c), adam(lr)) written out in float64.
    func testAdamMatchesHandComputation() {
        let lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8
        var p: [Double] = [0.5, -1.0, 2.0, 0.0, 0.25, -0.75, 1.5, 3.0, -2.0, 0.125]
        let gradients: [[Double]] = [
            [0.1, -0.2, 0.3, 0.0, 1.0, -1.0, 0.05, 0.5, -0.5, 2.0],
            [-0.3, 0.1, 0.2, 0.4, -0.1, 0.0, 0.7, -0.2, 0.3, -1.0],
            [0.0, 0.0, -0.6, 0.1, 0.2, 0.3, -0.4, 0.5, 0.6, 0.7],
        ]
        var params = p.map(Float.init)
        let adam = Adam(count: p.count, .init(learningRate: Float(lr)))
        var m = [Double](repeating: 0, count: p.count), v = m
        for (t, g) in gradients.enumerated() {
            let gf = g.map(Float.init)
            params.withUnsafeMutableBufferPointer { adam.step(parameters: $0.baseAddress!, gradients: gf) }
            let step = Double(t + 1)
            for i in 0..<p.count {
                m[i] = b1 * m[i] + (1 - b1) * g[i]
                v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
                let mHat = m[i] / (1 - pow(b1, step)), vHat = v[i] / (1 - pow(b2, step))
                p[i] -= lr * mHat / (vHat.squareRoot() + eps)
            }
            for i in 0..<p.count { XCTAssertEqual(Double(params[i]), p[i], accuracy: 1e-6, "step \(t + 1), parameter \(i)") }
        }
        XCTAssertEqual(adam.steps, 3)
        // The first step moves every parameter with a non-zero gradient by lr.
        var q: [Float] = [1, 1]
        let fresh = Adam(count: 2, .init(learningRate: 0.1))
        q.withUnsafeMutableBufferPointer { fresh.step(parameters: $0.baseAddress!, gradients: [2, -3]) }
        XCTAssertEqual(q[0], 0.9, accuracy: 1e-6)
        XCTAssertEqual(q[1], 1.1, accuracy: 1e-6)
    }

    func testGlobalNormClipping() {
        // ‖(3, 4)‖ = 5 > 1: the gradient becomes (0.6, 0.8); m = 0.1·that.
        var p: [Float] = [0, 0]
        let clipped = Adam(count: 2, .init(learningRate: 0.1, maxGradNorm: 1))
        p.withUnsafeMutableBufferPointer { clipped.step(parameters: $0.baseAddress!, gradients: [3, 4]) }
        XCTAssertEqual(clipped.lastGradientNorm, 5)
        XCTAssertEqual(clipped.firstMoment[0], 0.06, accuracy: 1e-7)
        XCTAssertEqual(clipped.firstMoment[1], 0.08, accuracy: 1e-7)
        XCTAssertEqual(clipped.secondMoment[0], 0.001 * 0.36, accuracy: 1e-8)
        // Below the threshold nothing changes.
        let loose = Adam(count: 2, .init(learningRate: 0.1, maxGradNorm: 10))
        p.withUnsafeMutableBufferPointer { loose.step(parameters: $0.baseAddress!, gradients: [3, 4]) }
        XCTAssertEqual(loose.firstMoment[0], 0.3, accuracy: 1e-6)
        XCTAssertEqual(loose.firstMoment[1], 0.4, accuracy: 1e-6)
        // The norm is over the whole vector, tails included.
        let g = Self.values(37, seed: 3)
        let norm = g.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
        XCTAssertEqual(Double(Adam.globalNorm(g, count: 37)), norm, accuracy: 1e-5)
        var r = [Float](repeating: 0, count: 37)
        let many = Adam(count: 37, .init(learningRate: 0.1, maxGradNorm: 0.5))
        r.withUnsafeMutableBufferPointer { many.step(parameters: $0.baseAddress!, gradients: g) }
        for i in 0..<37 { XCTAssertEqual(Double(many.firstMoment[i]), 0.1 * Double(g[i]) / norm * 0.5, accuracy: 1e-7) }
    }
}
