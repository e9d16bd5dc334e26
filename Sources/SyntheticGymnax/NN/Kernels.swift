#if canImport(Glibc)
import Glibc
#endif
#if arch(x86_64) && canImport(_Builtin_intrinsics)
import _Builtin_intrinsics.intel
#endif

/// Small dense matrix kernels for training: float32, row-major, contiguous,
/// eight lanes at a time with fused multiply-adds (AVX2/FMA when the target
/// has them). Sized for reinforcement-learning networks: batches of tens to
/// hundreds of rows, widths around 64. Each output tile accumulates in
/// registers (4 rows x 16 columns: eight independent chains share each weight
/// load), so results do not depend on the batch size or the thread.
public enum Kernels {
    @inline(__always) @usableFromInline
    static func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always) @usableFromInline
    static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }

    /// C[m×n] = A[m×k] · B[k×n] (+ bias[n]), or C += A·B when `accumulate`.
    /// With a bias the sum is `dot + bias`, as Flax's `nn.Dense`.
    public static func multiply(
        m: Int, n: Int, k: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        _ c: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>? = nil, accumulate: Bool = false
    ) {
        @inline(__always) func finish(_ acc: SIMD8<Float>, _ row: Int, _ j: Int) {
            let p = c + (row &* n &+ j)
            if accumulate { store(load(p) + acc, p) } else if let bias { store(acc + load(bias + j), p) } else { store(acc, p) }
        }
        var j = 0
        // Panels of 16 columns: B's panel (k x 16) stays in L1 across all rows.
        while j &+ 16 <= n {
            var r = 0
            while r &+ 4 <= m {
                let a0 = a + r &* k, a1 = a0 + k, a2 = a1 + k, a3 = a2 + k
                var c00 = SIMD8<Float>(), c01 = SIMD8<Float>(), c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
                var c20 = SIMD8<Float>(), c21 = SIMD8<Float>(), c30 = SIMD8<Float>(), c31 = SIMD8<Float>()
                var bp = b + j
                for i in 0..<k {
                    let w0 = load(bp), w1 = load(bp + 8)
                    let x0 = SIMD8(repeating: a0[i]), x1 = SIMD8(repeating: a1[i])
                    let x2 = SIMD8(repeating: a2[i]), x3 = SIMD8(repeating: a3[i])
                    c00 = c00.addingProduct(x0, w0); c01 = c01.addingProduct(x0, w1)
                    c10 = c10.addingProduct(x1, w0); c11 = c11.addingProduct(x1, w1)
                    c20 = c20.addingProduct(x2, w0); c21 = c21.addingProduct(x2, w1)
                    c30 = c30.addingProduct(x3, w0); c31 = c31.addingProduct(x3, w1)
                    bp += n
                }
                finish(c00, r, j); finish(c01, r, j &+ 8)
                finish(c10, r &+ 1, j); finish(c11, r &+ 1, j &+ 8)
                finish(c20, r &+ 2, j); finish(c21, r &+ 2, j &+ 8)
                finish(c30, r &+ 3, j); finish(c31, r &+ 3, j &+ 8)
                r &+= 4
            }
            while r < m {
                let ar = a + r &* k
                var c0 = SIMD8<Float>(), c1 = SIMD8<Float>()
                var bp = b + j
                for i in 0..<k {
                    let x = SIMD8(repeating: ar[i])
                    c0 = c0.addingProduct(x, load(bp)); c1 = c1.addingProduct(x, load(bp + 8))
                    bp += n
                }
                finish(c0, r, j); finish(c1, r, j &+ 8)
                r &+= 1
            }
            j &+= 16
        }
        if j &+ 8 <= n {
            var r = 0
            while r &+ 4 <= m {
                let a0 = a + r &* k, a1 = a0 + k, a2 = a1 + k, a3 = a2 + k
                var c0 = SIMD8<Float>(), c1 = SIMD8<Float>(), c2 = SIMD8<Float>(), c3 = SIMD8<Float>()
                var bp = b + j
                for i in 0..<k {
                    let w = load(bp)
                    c0 = c0.addingProduct(SIMD8(repeating: a0[i]), w)
                    c1 = c1.addingProduct(SIMD8(repeating: a1[i]), w)
                    c2 = c2.addingProduct(SIMD8(repeating: a2[i]), w)
                    c3 = c3.addingProduct(SIMD8(repeating: a3[i]), w)
                    bp += n
                }
                finish(c0, r, j); finish(c1, r &+ 1, j); finish(c2, r &+ 2, j); finish(c3, r &+ 3, j)
                r &+= 4
            }
            while r < m {
                let ar = a + r &* k
                var c0 = SIMD8<Float>()
                var bp = b + j
                for i in 0..<k { c0 = c0.addingProduct(SIMD8(repeating: ar[i]), load(bp)); bp += n }
                finish(c0, r, j)
                r &+= 1
            }
            j &+= 8
        }
        // Fewer than eight columns left: scalar fused multiply-adds.
        if j < n {
            for r in 0..<m {
                let ar = a + r &* k
                for jj in j..<n {
                    var s: Float = 0
                    for i in 0..<k { s = s.addingProduct(ar[i], b[i &* n &+ jj]) }
                    let p = c + (r &* n &+ jj)
                    if accumulate { p.pointee += s } else if let bias { p.pointee = s + bias[jj] } else { p.pointee = s }
                }
            }
        }
    }

    /// C[m×n] = A[m×k] · Bᵀ (+ bias[n]) with B stored [n×k]: one dot product
    /// along k per output, eight lanes of k at a time. For narrow outputs
    /// (n < 8: logits, values), where `multiply` would go scalar.
    public static func multiplyTransposed(
        m: Int, n: Int, k: Int, _ a: UnsafePointer<Float>, _ bt: UnsafePointer<Float>,
        _ c: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>? = nil
    ) {
        let kv = k & ~7
        var r = 0
        while r &+ 4 <= m {
            let a0 = a + r &* k, a1 = a0 + k, a2 = a1 + k, a3 = a2 + k
            for j in 0..<n {
                let bj = bt + j &* k
                var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
                var i = 0
                while i < kv {
                    let w = load(bj + i)
                    s0 = s0.addingProduct(load(a0 + i), w); s1 = s1.addingProduct(load(a1 + i), w)
                    s2 = s2.addingProduct(load(a2 + i), w); s3 = s3.addingProduct(load(a3 + i), w)
                    i &+= 8
                }
                var t0 = s0.sum(), t1 = s1.sum(), t2 = s2.sum(), t3 = s3.sum()
                while i < k {
                    let w = bj[i]
                    t0 = t0.addingProduct(a0[i], w); t1 = t1.addingProduct(a1[i], w)
                    t2 = t2.addingProduct(a2[i], w); t3 = t3.addingProduct(a3[i], w)
                    i &+= 1
                }
                let beta = bias?[j] ?? 0
                c[r &* n &+ j] = t0 + beta; c[(r &+ 1) &* n &+ j] = t1 + beta
                c[(r &+ 2) &* n &+ j] = t2 + beta; c[(r &+ 3) &* n &+ j] = t3 + beta
            }
            r &+= 4
        }
        while r < m {
            let ar = a + r &* k
            for j in 0..<n {
                let bj = bt + j &* k
                var s = SIMD8<Float>()
                var i = 0
                while i < kv { s = s.addingProduct(load(ar + i), load(bj + i)); i &+= 8 }
                var t = s.sum()
                while i < k { t = t.addingProduct(ar[i], bj[i]); i &+= 1 }
                c[r &* n &+ j] = t + (bias?[j] ?? 0)
            }
            r &+= 1
        }
    }

    /// C[k×n] = Aᵀ · B (or C += Aᵀ·B when `accumulate`) with A [m×k] and
    /// B [m×n]: the weight gradient Xᵀ·G of a dense layer, summed over rows.
    public static func multiplyTransposedA(
        m: Int, k: Int, n: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        _ c: UnsafeMutablePointer<Float>, accumulate: Bool = false
    ) {
        @inline(__always) func finish(_ acc: SIMD8<Float>, _ row: Int, _ j: Int) {
            let p = c + (row &* n &+ j)
            store(accumulate ? load(p) + acc : acc, p)
        }
        var j = 0
        while j &+ 16 <= n {
            var i = 0
            while i &+ 4 <= k {
                var c00 = SIMD8<Float>(), c01 = SIMD8<Float>(), c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
                var c20 = SIMD8<Float>(), c21 = SIMD8<Float>(), c30 = SIMD8<Float>(), c31 = SIMD8<Float>()
                var ap = a + i, bp = b + j
                for _ in 0..<m {
                    let g0 = load(bp), g1 = load(bp + 8)
                    let x0 = SIMD8(repeating: ap[0]), x1 = SIMD8(repeating: ap[1])
                    let x2 = SIMD8(repeating: ap[2]), x3 = SIMD8(repeating: ap[3])
                    c00 = c00.addingProduct(x0, g0); c01 = c01.addingProduct(x0, g1)
                    c10 = c10.addingProduct(x1, g0); c11 = c11.addingProduct(x1, g1)
                    c20 = c20.addingProduct(x2, g0); c21 = c21.addingProduct(x2, g1)
                    c30 = c30.addingProduct(x3, g0); c31 = c31.addingProduct(x3, g1)
                    ap += k; bp += n
                }
                finish(c00, i, j); finish(c01, i, j &+ 8)
                finish(c10, i &+ 1, j); finish(c11, i &+ 1, j &+ 8)
                finish(c20, i &+ 2, j); finish(c21, i &+ 2, j &+ 8)
                finish(c30, i &+ 3, j); finish(c31, i &+ 3, j &+ 8)
                i &+= 4
            }
            while i < k {
                var c0 = SIMD8<Float>(), c1 = SIMD8<Float>()
                var ap = a + i, bp = b + j
                for _ in 0..<m {
                    let x = SIMD8(repeating: ap[0])
                    c0 = c0.addingProduct(x, load(bp)); c1 = c1.addingProduct(x, load(bp + 8))
                    ap += k; bp += n
                }
                finish(c0, i, j); finish(c1, i, j &+ 8)
                i &+= 1
            }
            j &+= 16
        }
        if j &+ 8 <= n {
            var i = 0
            while i &+ 4 <= k {
                var c0 = SIMD8<Float>(), c1 = SIMD8<Float>(), c2 = SIMD8<Float>(), c3 = SIMD8<Float>()
                var ap = a + i, bp = b + j
                for _ in 0..<m {
                    let g = load(bp)
                    c0 = c0.addingProduct(SIMD8(repeating: ap[0]), g)
                    c1 = c1.addingProduct(SIMD8(repeating: ap[1]), g)
                    c2 = c2.addingProduct(SIMD8(repeating: ap[2]), g)
                    c3 = c3.addingProduct(SIMD8(repeating: ap[3]), g)
                    ap += k; bp += n
                }
                finish(c0, i, j); finish(c1, i &+ 1, j); finish(c2, i &+ 2, j); finish(c3, i &+ 3, j)
                i &+= 4
            }
            while i < k {
                var c0 = SIMD8<Float>()
                var ap = a + i, bp = b + j
                for _ in 0..<m { c0 = c0.addingProduct(SIMD8(repeating: ap[0]), load(bp)); ap += k; bp += n }
                finish(c0, i, j)
                i &+= 1
            }
            j &+= 8
        }
        if j < n {
            // Narrow outputs: eight rows of A at a time along m would need a
            // gather; the columns of G are few, so accumulate row by row.
            for i in 0..<k {
                for jj in j..<n {
                    var s: Float = 0
                    for r in 0..<m { s = s.addingProduct(a[r &* k &+ i], b[r &* n &+ jj]) }
                    let p = c + (i &* n &+ jj)
                    p.pointee = accumulate ? p.pointee + s : s
                }
            }
        }
    }

    /// bias gradient: out[n] (+)= Σ_rows G[m×n].
    public static func sumRows(m: Int, n: Int, _ g: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                               accumulate: Bool = false) {
        if !accumulate { out.initialize(repeating: 0, count: n) }
        let nv = n & ~7
        for r in 0..<m {
            let gr = g + r &* n
            var j = 0
            while j < nv { store(load(out + j) + load(gr + j), out + j); j &+= 8 }
            while j < n { out[j] += gr[j]; j &+= 1 }
        }
    }

    /// out[n×m] = in[m×n]ᵀ.
    public static func transpose(m: Int, n: Int, _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>) {
        for r in 0..<m {
            let xr = x + r &* n
            for j in 0..<n { out[j &* m &+ r] = xr[j] }
        }
    }

    /// √x lane by lane, correctly rounded. On Linux, Swift lowers
    /// `squareRoot()` to libm's `sqrtf` (errno semantics), one lane at a
    /// time; SSE's sqrtps is baseline x86-64.
    @inline(__always) @usableFromInline
    static func squareRoot(_ x: SIMD8<Float>) -> SIMD8<Float> {
        #if arch(x86_64) && canImport(_Builtin_intrinsics)
        return SIMD8(lowHalf: _mm_sqrt_ps(x.lowHalf), highHalf: _mm_sqrt_ps(x.highHalf))
        #else
        return x.squareRoot()
        #endif
    }

    /// Σ x², eight lanes at a time.
    public static func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var acc = SIMD8<Float>()
        var i = 0
        while i &+ 8 <= count { let v = load(x + i); acc = acc.addingProduct(v, v); i &+= 8 }
        var s = acc.sum()
        while i < count { s = s.addingProduct(x[i], x[i]); i &+= 1 }
        return s
    }

    // MARK: Activations

    /// tanh as a rational function (the approximation Eigen and XLA's CPU
    /// backend use for float32: odd degree-13 numerator over even degree-6
    /// denominator, inputs clamped to ±7.905), within a few ulp of tanhf.
    @inline(__always) @usableFromInline
    static func tanh(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let bound = SIMD8<Float>(repeating: 7.90531110763549805)
        // (Masks, not clamped(): pointwiseMin/Max are not inlined generically.)
        let xc = x.replacing(with: bound, where: x .> bound).replacing(with: -bound, where: x .< -bound)
        let x2 = xc * xc
        var p = SIMD8<Float>(repeating: -2.76076847742355e-16)
        p = SIMD8(repeating: 2.00018790482477e-13).addingProduct(x2, p)
        p = SIMD8(repeating: -8.60467152213735e-11).addingProduct(x2, p)
        p = SIMD8(repeating: 5.12229709037114e-08).addingProduct(x2, p)
        p = SIMD8(repeating: 1.48572235717979e-05).addingProduct(x2, p)
        p = SIMD8(repeating: 6.37261928875436e-04).addingProduct(x2, p)
        p = SIMD8(repeating: 4.89352455891786e-03).addingProduct(x2, p)
        p = xc * p
        var q = SIMD8<Float>(repeating: 1.19825839466702e-06)
        q = SIMD8(repeating: 1.18534705686654e-04).addingProduct(x2, q)
        q = SIMD8(repeating: 2.26843463243900e-03).addingProduct(x2, q)
        q = SIMD8(repeating: 4.89352518554385e-03).addingProduct(x2, q)
        let y = p / q
        // Tiny inputs: tanh(x) = x to float precision.
        let tiny = SIMD8<Float>(repeating: 0.0004)
        return y.replacing(with: x, where: (x .< tiny) .& (x .> -tiny))
    }

    /// y = activation(x) for `count` floats (y may be x).
    public static func activate(_ activation: Activation, _ x: UnsafeMutablePointer<Float>, count: Int,
                                into y: UnsafeMutablePointer<Float>) {
        let cv = count & ~7
        var i = 0
        switch activation {
        case .relu:
            while i < cv { let z = load(x + i); store(z.replacing(with: 0, where: z .< 0), y + i); i &+= 8 }
        case .tanh:
            while i < cv { store(tanh(load(x + i)), y + i); i &+= 8 }
        case .sigmoid:
            // σ(z) = (1 + tanh(z/2)) / 2
            while i < cv {
                store(SIMD8(repeating: 0.5) + SIMD8(repeating: 0.5) * tanh(SIMD8(repeating: 0.5) * load(x + i)), y + i)
                i &+= 8
            }
        case .swish, .silu:
            while i < cv {
                let z = load(x + i)
                let s = SIMD8(repeating: 0.5) + SIMD8(repeating: 0.5) * tanh(SIMD8(repeating: 0.5) * z)
                store(z * s, y + i)
                i &+= 8
            }
        case .identity:
            if UnsafePointer(y) != UnsafePointer(x) { y.update(from: x, count: count) }
            return
        default:
            break
        }
        while i < count {
            switch activation {
            case .tanh: y[i] = tanh(SIMD8(repeating: x[i]))[0]
            case .sigmoid: y[i] = 0.5 + 0.5 * tanh(SIMD8(repeating: 0.5 * x[i]))[0]
            case .swish, .silu: y[i] = x[i] * (0.5 + 0.5 * tanh(SIMD8(repeating: 0.5 * x[i]))[0])
            default: y[i] = activation(x[i])
            }
            i &+= 1
        }
    }

    /// g ⊙= activation'(z), with z the pre-activation and a = activation(z).
    public static func multiplyByDerivative(_ activation: Activation, _ g: UnsafeMutablePointer<Float>,
                                            preactivation z: UnsafePointer<Float>, activation a: UnsafePointer<Float>,
                                            count: Int) {
        let cv = count & ~7
        let one = SIMD8<Float>(repeating: 1)
        var i = 0
        switch activation {
        case .relu:
            // JAX: relu'(0) = 0.
            while i < cv {
                store(load(g + i).replacing(with: 0, where: load(z + i) .<= 0), g + i)
                i &+= 8
            }
            while i < count { if z[i] <= 0 { g[i] = 0 }; i &+= 1 }
        case .tanh:
            while i < cv { let y = load(a + i); store(load(g + i) * (one - y * y), g + i); i &+= 8 }
            while i < count { g[i] *= 1 - a[i] * a[i]; i &+= 1 }
        case .sigmoid:
            while i < cv { let y = load(a + i); store(load(g + i) * (y * (one - y)), g + i); i &+= 8 }
            while i < count { g[i] *= a[i] * (1 - a[i]); i &+= 1 }
        case .swish, .silu:
            // d/dz z·σ(z) = σ(z)·(1 + z·(1 − σ(z))), with σ(z) = a / z recomputed stably.
            while i < cv {
                let zz = load(z + i)
                let s = SIMD8(repeating: 0.5) + SIMD8(repeating: 0.5) * tanh(SIMD8(repeating: 0.5) * zz)
                store(load(g + i) * (s * (one + zz * (one - s))), g + i)
                i &+= 8
            }
            while i < count {
                let s = 0.5 + 0.5 * tanh(SIMD8(repeating: 0.5 * z[i]))[0]
                g[i] *= s * (1 + z[i] * (1 - s))
                i &+= 1
            }
        case .identity:
            break
        case .elu:
            for j in 0..<count where z[j] <= 0 { g[j] *= a[j] + 1 }
        case .softplus:
            for j in 0..<count { g[j] *= 1 / (1 + expf(-z[j])) }
        case .leakyRelu:
            for j in 0..<count where z[j] < 0 { g[j] *= 0.01 }
        }
    }
}
