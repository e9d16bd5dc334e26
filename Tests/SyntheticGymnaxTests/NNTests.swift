import Foundation
import XCTest
@testable import SyntheticGymnax
@testable import SGXRandom
@testable import SGXNN
@testable import SGXEnvironments
@testable import SGXAgents
@testable import SGXMetaLearning

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

    // MARK: Tiled products

    /// The values followed by the padded-read slack the
    /// kernels may read (and never write), filled with NaN so that a lane
    /// read past the end and wrongly stored would show.
    static func padded(_ values: [Float]) -> UnsafeMutablePointer<Float> {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: values.count + 16)
        p.initialize(repeating: .nan, count: values.count + 16)
        p.update(from: values, count: values.count)
        return p
    }

    /// The order every product promises: per entry one fused multiply-add
    /// chain over the summed index from zero, then + bias or old +.
    static func naiveChain(m: Int, n: Int, k: Int, a: (Int, Int) -> Float, b: (Int, Int) -> Float) -> [Float] {
        var c = [Float](repeating: 0, count: m * n)
        for t in 0..<m {
            for j in 0..<n {
                var s: Float = 0
                for i in 0..<k { s = s.addingProduct(a(t, i), b(i, j)) }
                c[t * n + j] = s
            }
        }
        return c
    }

    /// Every path of `multiply` and `multiplyTransposedA` (tiles of 1...6
    /// rows and 8, 16, 32, 64 columns, overlapping and padded tails, the
    /// transposed narrow weight gradient, the scalar fallback) equals the
    /// naive chain bit for bit, and a float64 product within rounding, for
    /// rows not multiples of the tiles, widths 1...70 and inner sizes 1...65,
    /// with bias or accumulation; nothing outside C is written.
    func testProductsEqualTheNaiveChainBitForBit() {
        var seed: UInt32 = 500
        let allWidths = Array(1...70), someWidths = [1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 70]
        for m in [1, 2, 3, 4, 5, 6, 7, 11, 13, 50, 101] {
            for n in m <= 13 ? allWidths : someWidths {
                for k in [1, 3, 17, 64, 65] where m * n * k <= 200_000 || k == 64 {
                    seed &+= 3
                    let a = Self.values(m * k, seed: seed), b = Self.values(k * n, seed: seed &+ 1)
                    let bias = Self.values(n, seed: seed &+ 2), old = Self.values(m * n, seed: seed &+ 4)
                    let what = "m=\(m) n=\(n) k=\(k)"
                    // C = A·B
                    let ab = Self.naiveChain(m: m, n: n, k: k, a: { a[$0 * k + $1] }, b: { b[$0 * n + $1] })
                    for t in 0..<(m * n) {
                        var want = 0.0
                        let (r, j) = (t / n, t % n)
                        for i in 0..<k { want += Double(a[r * k + i]) * Double(b[i * n + j]) }
                        if abs(Double(ab[t]) - want) > 1e-6 * Double(k) { XCTFail("naive chain \(what)"); return }
                    }
                    let pa = Self.padded(a), pb = Self.padded(b), pbias = Self.padded(bias)
                    defer { pa.deallocate(); pb.deallocate(); pbias.deallocate() }
                    for paddedReads in [false, true] {
                        let c = Self.padded(old)
                        defer { c.deallocate() }
                        func check(_ want: [Float], _ label: String) -> Bool {
                            for t in 0..<want.count where c[t].bitPattern != want[t].bitPattern {
                                XCTFail("\(label) \(what) padded=\(paddedReads): [\(t)] \(c[t]) vs \(want[t])"); return false
                            }
                            for t in want.count..<(want.count + 16) where !c[t].isNaN {
                                XCTFail("\(label) \(what): wrote past the end"); return false
                            }
                            return true
                        }
                        Kernels.multiply(m: m, n: n, k: k, pa, pb, c, bias: pbias, paddedReads: paddedReads)
                        guard check((0..<(m * n)).map { ab[$0] + bias[$0 % n] }, "multiply+bias") else { return }
                        Kernels.multiply(m: m, n: n, k: k, pa, pb, c, accumulate: true, paddedReads: paddedReads)
                        guard check((0..<(m * n)).map { (ab[$0] + bias[$0 % n]) + ab[$0] }, "multiply accumulate") else { return }
                        // Aᵀ·G with A [m×k], G [m×n]: the chain runs over the m rows.
                        let gv = Self.values(m * n, seed: seed &+ 5), dOld = Self.values(k * n, seed: seed &+ 6)
                        let atg = Self.naiveChain(m: k, n: n, k: m, a: { a[$1 * k + $0] }, b: { gv[$0 * n + $1] })
                        let g = Self.padded(gv), d = Self.padded(dOld)
                        defer { g.deallocate(); d.deallocate() }
                        Kernels.multiplyTransposedA(m: m, k: k, n: n, pa, g, d, accumulate: true, paddedReads: paddedReads)
                        for t in 0..<(k * n) where d[t].bitPattern != (dOld[t] + atg[t]).bitPattern {
                            XCTFail("multiplyTransposedA accumulate \(what) padded=\(paddedReads): [\(t)]"); return
                        }
                        Kernels.multiplyTransposedA(m: m, k: k, n: n, pa, g, d, paddedReads: paddedReads)
                        for t in 0..<(k * n) where d[t].bitPattern != atg[t].bitPattern {
                            XCTFail("multiplyTransposedA \(what) padded=\(paddedReads): [\(t)]"); return
                        }
                        for t in (k * n)..<(k * n + 16) where !d[t].isNaN {
                            XCTFail("multiplyTransposedA \(what): wrote past the end"); return
                        }
                    }
                }
            }
        }
    }

    /// Bias gradients add the rows in order, column by column (bit for bit
    /// the naive loop); the squared norm agrees with float64.
    func testSumRowsAndSumOfSquares() {
        for m in [1, 7, 101] {
            for n in 1...70 {
                let g = Self.values(m * n, seed: UInt32(m * 71 + n)), old = Self.values(n, seed: 9)
                var out = old
                Kernels.sumRows(m: m, n: n, g, &out, accumulate: true)
                var fresh = [Float](repeating: 7, count: n)
                Kernels.sumRows(m: m, n: n, g, &fresh)
                for j in 0..<n {
                    var want = old[j], wantFresh: Float = 0
                    for r in 0..<m { want += g[r * n + j]; wantFresh += g[r * n + j] }
                    XCTAssertEqual(out[j].bitPattern, want.bitPattern, "sumRows m=\(m) n=\(n) [\(j)]")
                    XCTAssertEqual(fresh[j].bitPattern, wantFresh.bitPattern, "sumRows m=\(m) n=\(n) [\(j)]")
                }
            }
        }
        for count in [0, 1, 31, 32, 33, 100, 4_417] {
            let x = Self.values(count, seed: UInt32(count + 1))
            let want = x.reduce(0.0) { $0 + Double($1) * Double($1) }
            XCTAssertEqual(Double(Kernels.sumOfSquares(x, count: count)), want, accuracy: 1e-6 * max(1, want), "\(count)")
        }
    }

    /// The narrow-output dot product against float64, odd sizes.
    func testDotProductKernel() {
        for (m, n, k) in [(1, 1, 1), (3, 2, 7), (4, 1, 64), (5, 7, 65), (13, 3, 244), (101, 1, 64)] {
            let a = Self.values(m * k, seed: UInt32(m * 31 + k)), bt = Self.values(n * k, seed: UInt32(n + 7))
            let bias = Self.values(n, seed: 3)
            var c = [Float](repeating: 0, count: m * n)
            Kernels.multiplyTransposed(m: m, n: n, k: k, a, bt, &c, bias: bias)
            for r in 0..<m {
                for j in 0..<n {
                    var want = Double(bias[j])
                    for i in 0..<k { want += Double(a[r * k + i]) * Double(bt[j * k + i]) }
                    XCTAssertEqual(Double(c[r * n + j]), want, accuracy: 1e-6 * Double(k), "m=\(m) n=\(n) k=\(k)")
                }
            }
        }
    }

    func testTranspose() {
        for (m, n) in [(1, 1), (1, 9), (3, 5), (4, 4), (7, 64), (64, 64), (65, 3), (244, 17)] {
            let x = Self.values(m * n, seed: UInt32(m * 100 + n))
            var out = [Float](repeating: 0, count: m * n)
            Kernels.transpose(m: m, n: n, x, &out)
            for r in 0..<m { for j in 0..<n where out[j * m + r] != x[r * n + j] { XCTFail("transpose \(m)x\(n)"); return } }
        }
    }

    /// Element-wise activations and derivatives: every element, tails
    /// included, equals the eight-lane function applied to it alone.
    func testActivationsTakeTheVectorPathForEveryElement() {
        for count in [1, 5, 7, 8, 9, 15, 16, 17, 40, 64, 70] {
            let x = Self.values(count, seed: UInt32(count)).map { 4 * $0 }
            for activation in Activation.allCases {
                var y = [Float](repeating: 0, count: count)
                x.withUnsafeBufferPointer { xs in
                    Kernels.activate(activation, UnsafeMutablePointer(mutating: xs.baseAddress!), count: count, into: &y)
                }
                for i in 0..<count {
                    let v = SIMD8<Float>(repeating: x[i])
                    let want: Float
                    switch activation {
                    case .tanh: want = Kernels.tanh(v)[0]
                    case .sigmoid: want = Kernels.sigmoid(v)[0]
                    case .swish, .silu: want = (v * Kernels.sigmoid(v))[0]
                    case .relu: want = x[i] < 0 ? 0 : x[i]
                    default: want = activation(x[i])
                    }
                    XCTAssertEqual(y[i].bitPattern, want.bitPattern, "\(activation) count \(count) [\(i)]")
                }
            }
            var g = [Float](repeating: 1.5, count: count)
            let a = x.map { $0 * Kernels.sigmoid(SIMD8(repeating: $0))[0] }
            Kernels.multiplyByDerivative(.swish, &g, preactivation: x, activation: a, count: count)
            for i in 0..<count {
                let s = Kernels.sigmoid(SIMD8(repeating: x[i]))[0]
                XCTAssertEqual(g[i].bitPattern, (1.5 * (s * (1 + x[i] * (1 - s)))).bitPattern, "swish' count \(count) [\(i)]")
            }
        }
    }

    /// A row gives the same bits alone as in any batch (every kernel's
    /// order is independent of the batch size), for the agents' shapes.
    func testForwardIsIndependentOfTheBatch() {
        for (sizes, activation) in [([4, 64, 64, 2], Activation.tanh), ([5, 64, 64, 1], .relu), ([17, 64, 64, 34], .swish),
                                    ([244, 64, 64, 17], .tanh), ([3, 17, 70, 9], .relu), ([2, 3], .tanh)] {
            let shape = NetworkShape(sizes: sizes, activation: activation)
            let net = DenseNetwork(shape: shape, key: PRNGKey(seed: 5))
            let rows = 13
            let x = Self.values(rows * sizes[0], seed: 8)
            let batch = net(x)
            for r in [0, 5, 12] {
                let one = net(Array(x[(r * sizes[0])..<((r + 1) * sizes[0])]))
                for j in 0..<shape.outputSize where one[j].bitPattern != batch[r * shape.outputSize + j].bitPattern {
                    XCTFail("\(sizes): row \(r) output \(j) differs alone"); break
                }
            }
        }
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
        // Odd widths and batch sizes around the tiles' edges.
        checkGradients(.tanh, sizes: [17, 70, 9, 34], rows: 7, stride: 7)
        checkGradients(.relu, sizes: [3, 33, 64, 12], rows: 101, stride: 31)
        checkGradients(.swish, sizes: [11, 64, 64, 1], rows: 50, stride: 41)
        checkGradients(.tanh, sizes: [2, 5, 3], rows: 3)
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
