#if canImport(Glibc)
import Glibc
#endif
#if arch(x86_64) && canImport(_Builtin_intrinsics)
import _Builtin_intrinsics.intel
#endif

/// Small dense matrix kernels for training: float32, row-major, contiguous,
/// eight lanes at a time with fused multiply-adds (AVX2/FMA when the target
/// has them). Sized for reinforcement-learning networks: batches of 1 to a
/// few hundred rows, widths from 1 to a few hundred, mostly 64.
///
/// **One order of operations.** Every product entry is one chain of fused
/// multiply-adds over the summed index in increasing order, starting from
/// zero, then `+ bias` (or `old +` when accumulating):
///
///     acc = 0; for s in 0..<k { acc = fma(a[t, s], b[s, j], acc) }
///
/// whatever the tile, the position in it, the batch size or the thread, so
/// a row gives the same bits alone or in a batch, and every path (tiled,
/// tail, scalar) is bit-identical to that naive loop. (The dot-product
/// kernel `multiplyTransposed` for very narrow outputs is the exception; it
/// documents its own order.)
public enum Kernels {
    @inline(__always) @usableFromInline
    static func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always) @usableFromInline
    static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }

    @inline(__always) @usableFromInline
    static func load<V: SIMD>(_ p: UnsafePointer<Float>, as _: V.Type) -> V where V.Scalar == Float {
        UnsafeRawPointer(p).loadUnaligned(as: V.self)
    }

    @inline(__always) @usableFromInline
    static func store<V: SIMD>(_ v: V, _ p: UnsafeMutablePointer<Float>) where V.Scalar == Float {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }

    // MARK: The microkernel

    /// Where a product's entries go: entry (t, j) at `c + t·ldc + j`, or at
    /// `c + j·ldc + t` when `transposed` (a product computed as its
    /// transpose, for narrow weight gradients), plus `bias[j]` or added to
    /// the entry already there (`accumulate`).
    @usableFromInline
    struct Output {
        @usableFromInline let c: UnsafeMutablePointer<Float>
        @usableFromInline let ldc: Int
        @usableFromInline let bias: UnsafePointer<Float>?
        @usableFromInline let accumulate: Bool
        @usableFromInline let transposed: Bool

        @inlinable
        init(_ c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>? = nil, accumulate: Bool = false,
             transposed: Bool = false) {
            (self.c, self.ldc, self.bias, self.accumulate, self.transposed) = (c, ldc, bias, accumulate, transposed)
        }

        /// Writes lanes `lanes` of the accumulator of row t, whose lane 0 is
        /// column j. Whole vectors (the common case) in one store; partial
        /// ones and transposed outputs lane by lane, touching nothing else.
        @inline(__always) @usableFromInline
        func put<V: SIMD>(_ acc: V, row t: Int, column j: Int, lanes: Range<Int>) where V.Scalar == Float {
            if !transposed && lanes.lowerBound == 0 && lanes.upperBound == V.scalarCount {
                let p = c + (t &* ldc &+ j)
                if accumulate {
                    store(load(UnsafePointer(p), as: V.self) + acc, p)
                } else if let bias {
                    store(acc + load(bias + j, as: V.self), p)
                } else {
                    store(acc, p)
                }
                return
            }
            for l in lanes {
                let p = transposed ? c + ((j &+ l) &* ldc &+ t) : c + (t &* ldc &+ j &+ l)
                if accumulate { p.pointee = p.pointee + acc[l] } else if let bias { p.pointee = acc[l] + bias[j &+ l] } else { p.pointee = acc[l] }
            }
        }
    }

    /// One row of a tile's accumulators: up to four vectors.
    @usableFromInline
    struct TileRow<V: SIMD> where V.Scalar == Float {
        @usableFromInline var v0 = V(), v1 = V(), v2 = V(), v3 = V()
        @inlinable init() {}

        /// v_c += x · w_c for the first `vectors` vectors.
        @inline(__always) @usableFromInline
        mutating func add(_ x: Float, _ w0: V, _ w1: V, _ w2: V, _ w3: V, vectors: Int) {
            let xv = V(repeating: x)
            v0 = v0.addingProduct(xv, w0)
            if vectors > 1 { v1 = v1.addingProduct(xv, w1) }
            if vectors > 2 { v2 = v2.addingProduct(xv, w2) }
            if vectors > 3 { v3 = v3.addingProduct(xv, w3) }
        }
    }

    /// The register-blocked microkernel every product shares: a tile of R
    /// (≤ 6) rows × C (≤ 4) vectors of V from column j,
    ///
    ///     acc[t][c] = Σ_{s < steps} a[t·aRow + s·aStep] · b[s·ldb + j + c]
    ///
    /// one fused multiply-add chain per entry, s increasing. Per step: the
    /// B row segment is loaded once (C loads), each row's A value is
    /// broadcast once and multiplies it. `aRow`/`aStep` give A either
    /// row-major (aRow = lda, aStep = 1: C = A·B) or transposed (aRow = 1,
    /// aStep = lda: C = Aᵀ·B, the weight gradient) without a copy.
    /// R and C are generic values, so each shape is its own specialised
    /// loop with the guards folded away; `rowBlock` picks shapes of at most
    /// 12 accumulator registers (plus the B segment and one broadcast).
    /// Reads b[s·ldb + j ..< j + C·(lanes of V)] for every step: the caller
    /// makes that in bounds. Writes `lanes` of a one-vector tile's rows
    /// (all lanes of wider tiles) through `out`.
    @usableFromInline
    static func tile<V: SIMD, let R: Int, let C: Int>(
        _: V.Type, _: Shape<R, C>, steps: Int, a: UnsafePointer<Float>, aRow: Int, aStep: Int,
        b: UnsafePointer<Float>, ldb: Int, into out: Output, row r: Int, column j: Int, lanes: Range<Int>
    ) where V.Scalar == Float {
        var c0 = TileRow<V>(), c1 = TileRow<V>(), c2 = TileRow<V>()
        var c3 = TileRow<V>(), c4 = TileRow<V>(), c5 = TileRow<V>()
        let n = V.scalarCount
        let (o1, o2, o3, o4, o5) = (aRow, 2 &* aRow, 3 &* aRow, 4 &* aRow, 5 &* aRow)
        var ap = a + r &* aRow, bp = b + j
        for _ in 0..<steps {
            let w0 = load(bp, as: V.self)
            let w1 = C > 1 ? load(bp + n, as: V.self) : V()
            let w2 = C > 2 ? load(bp + 2 &* n, as: V.self) : V()
            let w3 = C > 3 ? load(bp + 3 &* n, as: V.self) : V()
            c0.add(ap[0], w0, w1, w2, w3, vectors: C)
            if R > 1 { c1.add(ap[o1], w0, w1, w2, w3, vectors: C) }
            if R > 2 { c2.add(ap[o2], w0, w1, w2, w3, vectors: C) }
            if R > 3 { c3.add(ap[o3], w0, w1, w2, w3, vectors: C) }
            if R > 4 { c4.add(ap[o4], w0, w1, w2, w3, vectors: C) }
            if R > 5 { c5.add(ap[o5], w0, w1, w2, w3, vectors: C) }
            ap += aStep
            bp += ldb
        }
        @inline(__always) func finish(_ acc: TileRow<V>, _ t: Int) {
            if C == 1 {
                out.put(acc.v0, row: r &+ t, column: j, lanes: lanes)
                return
            }
            let all = 0..<n
            out.put(acc.v0, row: r &+ t, column: j, lanes: all)
            if C > 1 { out.put(acc.v1, row: r &+ t, column: j &+ n, lanes: all) }
            if C > 2 { out.put(acc.v2, row: r &+ t, column: j &+ 2 &* n, lanes: all) }
            if C > 3 { out.put(acc.v3, row: r &+ t, column: j &+ 3 &* n, lanes: all) }
        }
        finish(c0, 0)
        if R > 1 { finish(c1, 1) }
        if R > 2 { finish(c2, 2) }
        if R > 3 { finish(c3, 3) }
        if R > 4 { finish(c4, 4) }
        if R > 5 { finish(c5, 5) }
    }

    /// A tile shape as generic values: R rows × C vectors.
    @usableFromInline
    struct Shape<let R: Int, let C: Int> {
        @inlinable init() {}
    }

    /// One block of R output rows across all n columns: first the widest
    /// tiles the registers allow for that many rows, 16-lane vectors
    ///
    ///     AVX2 (16 registers of 8):    1 × 64, 2 × 32, 3...6 × 16 columns
    ///     AVX-512 (32 registers of 16): 1...3 × 64, 4...6 × 32 columns
    ///
    /// then 16, then 8 columns, then the last 1...7 columns as an 8-lane
    /// tile: at column n − 8 when n ≥ 8 (its first lanes recompute, bit for
    /// bit, entries already written or to be written, and are not stored),
    /// else at the tail itself when `paddedReads`. Only columns
    /// `columns` of the n are written.
    @usableFromInline
    static func rowBlock<let R: Int>(_: Shape<R, 1>, n: Int, columns: Range<Int>, k: Int,
                                     a: UnsafePointer<Float>, aRow: Int, aStep: Int,
                                     b: UnsafePointer<Float>, ldb: Int, paddedReads: Bool, into out: Output, row r: Int) {
        var j = columns.lowerBound
        let end = columns.upperBound
        #if SGX_AVX512
        let widest = R <= 3 ? 4 : 2
        #else
        let widest = R == 1 ? 4 : (R == 2 ? 2 : 1)
        #endif
        if widest == 4 {
            while j &+ 64 <= end {
                tile(SIMD16<Float>.self, Shape<R, 4>(), steps: k, a: a, aRow: aRow, aStep: aStep,
                     b: b, ldb: ldb, into: out, row: r, column: j, lanes: 0..<16)
                j &+= 64
            }
        }
        if widest >= 2 {
            while j &+ 32 <= end {
                tile(SIMD16<Float>.self, Shape<R, 2>(), steps: k, a: a, aRow: aRow, aStep: aStep,
                     b: b, ldb: ldb, into: out, row: r, column: j, lanes: 0..<16)
                j &+= 32
            }
        }
        while j &+ 16 <= end {
            tile(SIMD16<Float>.self, Shape<R, 1>(), steps: k, a: a, aRow: aRow, aStep: aStep,
                 b: b, ldb: ldb, into: out, row: r, column: j, lanes: 0..<16)
            j &+= 16
        }
        while j < end {
            let left = end &- j
            let (column, lanes): (Int, Range<Int>) =
                left >= 8 ? (j, 0..<8) : (n >= 8 && !paddedReads ? (end &- 8, (8 &- left)..<8) : (j, 0..<left))
            tile(SIMD8<Float>.self, Shape<R, 1>(), steps: k, a: a, aRow: aRow, aStep: aStep,
                 b: b, ldb: ldb, into: out, row: r, column: column, lanes: lanes)
            j &+= Swift.min(left, 8)
        }
    }

    /// The widest column panel of a six-row tile.
    #if SGX_AVX512
    @usableFromInline static var panel: Int { 32 }
    #else
    @usableFromInline static var panel: Int { 16 }
    #endif

    /// The general product: entry (t, j) of the m × n result is
    /// Σ_{s < k} a[t·aRow + s·aStep] · b[s·ldb + j], written to `out`.
    ///
    /// Loop order: row blocks of six (the last one smaller) outermost, each
    /// across all columns, so that a block's rows are finished together and
    /// `afterRows(first, count)` can post-process them while they are in L1
    /// (activations, derivative masks), and B (a kernel) stays in L1.
    /// With `columnsOuter` (weight gradients over long batches, where B is
    /// the batch's output gradient and outgrows L1): column panels
    /// outermost, so each panel of B is read from L2 once rather than once
    /// per row block; then `afterRows` is not called.
    ///
    /// B must have n ≥ 8 columns, or `paddedReads`: reading up to 8 floats
    /// from any column of any B row stays inside B's allocation.
    @usableFromInline
    static func product(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, aRow: Int, aStep: Int,
                        b: UnsafePointer<Float>, ldb: Int, paddedReads: Bool, into out: Output,
                        columnsOuter: Bool = false, afterRows: (Int, Int) -> Void = { _, _ in }) {
        precondition(n >= 8 || paddedReads || m == 0 || n == 0, "a product of fewer than 8 columns needs padded reads")
        guard n > 0 else { return }
        @inline(__always) func rows(_ r: Int, _ columns: Range<Int>) -> Int {
            let rows = Swift.min(6, m &- r)
            switch rows {
            case 6: rowBlock(Shape<6, 1>(), n: n, columns: columns, k: k, a: a, aRow: aRow, aStep: aStep, b: b, ldb: ldb, paddedReads: paddedReads, into: out, row: r)
            case 5: rowBlock(Shape<5, 1>(), n: n, columns: columns, k: k, a: a, aRow: aRow, aStep: aStep, b: b, ldb: ldb, paddedReads: paddedReads, into: out, row: r)
            case 4: rowBlock(Shape<4, 1>(), n: n, columns: columns, k: k, a: a, aRow: aRow, aStep: aStep, b: b, ldb: ldb, paddedReads: paddedReads, into: out, row: r)
            case 3: rowBlock(Shape<3, 1>(), n: n, columns: columns, k: k, a: a, aRow: aRow, aStep: aStep, b: b, ldb: ldb, paddedReads: paddedReads, into: out, row: r)
            case 2: rowBlock(Shape<2, 1>(), n: n, columns: columns, k: k, a: a, aRow: aRow, aStep: aStep, b: b, ldb: ldb, paddedReads: paddedReads, into: out, row: r)
            default: rowBlock(Shape<1, 1>(), n: n, columns: columns, k: k, a: a, aRow: aRow, aStep: aStep, b: b, ldb: ldb, paddedReads: paddedReads, into: out, row: r)
            }
            return rows
        }
        if columnsOuter && n > panel {
            var j = 0
            while j < n {
                // Whole panels, and the tail with the last one.
                let end = n &- j < 2 &* panel ? n : j &+ panel
                var r = 0
                while r < m { r &+= rows(r, j..<end) }
                j = end
            }
            return
        }
        var r = 0
        while r < m {
            let count = rows(r, 0..<n)
            afterRows(r, count)
            r &+= count
        }
    }

    /// The naive loop every product equals bit for bit (for operands no
    /// tile can read: fewer than eight columns, unpadded).
    @usableFromInline
    static func scalarProduct(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, aRow: Int, aStep: Int,
                              b: UnsafePointer<Float>, ldb: Int, into out: Output) {
        for t in 0..<m {
            for j in 0..<n {
                var s: Float = 0
                for i in 0..<k { s = s.addingProduct(a[t &* aRow &+ i &* aStep], b[i &* ldb &+ j]) }
                out.put(SIMD8(repeating: s), row: t, column: j, lanes: 0..<1)
            }
        }
    }

    // MARK: Products

    /// C[m×n] = A[m×k] · B[k×n] (+ bias[n]), or C += A·B when `accumulate`.
    /// With a bias the sum is `dot + bias`, as Flax's `nn.Dense`.
    /// `paddedReads`: B's allocation extends at least 8 floats past its last
    /// row (needed for the fast path when n < 8; without it a scalar loop
    /// computes the same bits).
    public static func multiply(
        m: Int, n: Int, k: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        _ c: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>? = nil, accumulate: Bool = false,
        paddedReads: Bool = false
    ) {
        let out = Output(c, ldc: n, bias: bias, accumulate: accumulate)
        if n >= 8 || paddedReads {
            product(m: m, n: n, k: k, a: a, aRow: k, aStep: 1, b: b, ldb: n, paddedReads: paddedReads, into: out)
        } else {
            scalarProduct(m: m, n: n, k: k, a: a, aRow: k, aStep: 1, b: b, ldb: n, into: out)
        }
    }

    /// C[k×n] = Aᵀ · B (or C += Aᵀ·B when `accumulate`) with A [m×k] and
    /// B [m×n]: the weight gradient Xᵀ·G of a dense layer, summed over rows
    /// in order. Narrow n (< 8: value and logit heads) is computed as its
    /// transpose Bᵀ·A, eight-lane tiles along k, written transposed.
    /// `paddedReads`: B's allocation extends 8 floats past its end (only
    /// matters when both k and n are below 8).
    public static func multiplyTransposedA(
        m: Int, k: Int, n: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        _ c: UnsafeMutablePointer<Float>, accumulate: Bool = false, paddedReads: Bool = false
    ) {
        if n >= 8 || (paddedReads && k < 8) {
            product(m: k, n: n, k: m, a: a, aRow: 1, aStep: k, b: b, ldb: n, paddedReads: paddedReads,
                    into: Output(c, ldc: n, accumulate: accumulate), columnsOuter: m > 64)
        } else if k >= 8 {
            product(m: n, n: k, k: m, a: b, aRow: 1, aStep: n, b: a, ldb: k, paddedReads: false,
                    into: Output(c, ldc: n, accumulate: accumulate, transposed: true))
        } else {
            scalarProduct(m: k, n: n, k: m, a: a, aRow: 1, aStep: k, b: b, ldb: n,
                          into: Output(c, ldc: n, accumulate: accumulate))
        }
    }

    /// C[m×n] = A[m×k] · Bᵀ (+ bias[n]) with B stored [n×k]: one dot product
    /// along k per output, for narrow outputs (value heads), where a tile
    /// would waste most lanes. Order per entry: eight partial sums of lanes
    /// i ≡ l (mod 8) over the first k − k mod 8 terms, added pairwise
    /// ((0+4, 1+5, 2+6, 3+7), then (0+2, 1+3), then 0+1), then the
    /// remaining terms by fused multiply-adds, then + bias.
    public static func multiplyTransposed(
        m: Int, n: Int, k: Int, _ a: UnsafePointer<Float>, _ bt: UnsafePointer<Float>,
        _ c: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>? = nil
    ) {
        @inline(__always) func reduce(_ s: SIMD8<Float>) -> Float {
            let h = s.lowHalf + s.highHalf
            let q = h.lowHalf + h.highHalf
            return q[0] + q[1]
        }
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
                var t0 = reduce(s0), t1 = reduce(s1), t2 = reduce(s2), t3 = reduce(s3)
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
                var t = reduce(s)
                while i < k { t = t.addingProduct(ar[i], bj[i]); i &+= 1 }
                c[r &* n &+ j] = t + (bias?[j] ?? 0)
            }
            r &+= 1
        }
    }

    /// bias gradient: out[n] (+)= Σ_rows G[m×n], rows in order (each
    /// column one chain of additions). 64 columns at a time, so that the
    /// chains of four 16-lane accumulators overlap instead of waiting on
    /// each other.
    public static func sumRows(m: Int, n: Int, _ g: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                               accumulate: Bool = false) {
        typealias V = SIMD16<Float>
        @inline(__always) func start(_ j: Int) -> V { accumulate ? load(out + j, as: V.self) : V() }
        var j = 0
        while j &+ 64 <= n {
            var (s0, s1, s2, s3) = (start(j), start(j &+ 16), start(j &+ 32), start(j &+ 48))
            var gp = g + j
            for _ in 0..<m {
                s0 += load(gp, as: V.self); s1 += load(gp + 16, as: V.self)
                s2 += load(gp + 32, as: V.self); s3 += load(gp + 48, as: V.self)
                gp += n
            }
            store(s0, out + j); store(s1, out + (j &+ 16)); store(s2, out + (j &+ 32)); store(s3, out + (j &+ 48))
            j &+= 64
        }
        while j &+ 16 <= n {
            var s0 = start(j)
            var gp = g + j
            for _ in 0..<m { s0 += load(gp, as: V.self); gp += n }
            store(s0, out + j)
            j &+= 16
        }
        while j < n {
            var s: Float = accumulate ? out[j] : 0
            for r in 0..<m { s += g[r &* n &+ j] }
            out[j] = s
            j &+= 1
        }
    }

    /// out[n×m] = in[m×n]ᵀ, with out's rows `ldo` apart (≥ m). Blocks of
    /// 4×4 through vector shuffles; the edges element by element.
    public static func transpose(m: Int, n: Int, _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                                 ldo: Int? = nil) {
        let ldo = ldo ?? m
        @inline(__always) func load4(_ p: UnsafePointer<Float>) -> SIMD4<Float> {
            UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self)
        }
        @inline(__always) func store4(_ v: SIMD4<Float>, _ p: UnsafeMutablePointer<Float>) {
            UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD4<Float>.self)
        }
        var r = 0
        while r &+ 4 <= m {
            var j = 0
            while j &+ 4 <= n {
                let p = x + (r &* n &+ j)
                let a = load4(p), b = load4(p + n), c = load4(p + 2 &* n), d = load4(p + 3 &* n)
                let q = out + (j &* ldo &+ r)
                store4(SIMD4(a[0], b[0], c[0], d[0]), q)
                store4(SIMD4(a[1], b[1], c[1], d[1]), q + ldo)
                store4(SIMD4(a[2], b[2], c[2], d[2]), q + 2 &* ldo)
                store4(SIMD4(a[3], b[3], c[3], d[3]), q + 3 &* ldo)
                j &+= 4
            }
            while j < n {
                for t in 0..<4 { out[j &* ldo &+ r &+ t] = x[(r &+ t) &* n &+ j] }
                j &+= 1
            }
            r &+= 4
        }
        while r < m {
            for j in 0..<n { out[j &* ldo &+ r] = x[r &* n &+ j] }
            r &+= 1
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

    /// Σ x²: 32 partial sums (element i into partial i mod 32, each a
    /// chain of fused multiply-adds), added pairwise (0…15 + 16…31, then
    /// halves of eight, four, two), then the last count mod 32 elements by
    /// fused multiply-adds. Independent chains, so the loop runs at the
    /// loads' pace rather than one add's latency per vector.
    public static func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Float {
        typealias V = SIMD16<Float>
        var a0 = V(), a1 = V()
        var i = 0
        while i &+ 32 <= count {
            let u = load(x + i, as: V.self), v = load(x + (i &+ 16), as: V.self)
            a0 = a0.addingProduct(u, u); a1 = a1.addingProduct(v, v)
            i &+= 32
        }
        let s16 = a0 + a1
        let s8 = s16.lowHalf + s16.highHalf
        let s4 = s8.lowHalf + s8.highHalf
        let s2 = s4.lowHalf + s4.highHalf
        var s = s2[0] + s2[1]
        while i < count { s = s.addingProduct(x[i], x[i]); i &+= 1 }
        return s
    }

    // MARK: Activations

    /// tanh as a rational function (the approximation Eigen and XLA's CPU
    /// backend use for float32: odd degree-13 numerator over even degree-6
    /// denominator, inputs clamped to ±7.905), within a few ulp of tanhf.
    @inline(__always) @usableFromInline
    static func tanh(_ x: Lanes) -> Lanes {
        typealias V = Lanes
        let bound = V(repeating: 7.90531110763549805)
        // (Masks, not clamped(): pointwiseMin/Max are not inlined generically.)
        let xc = x.replacing(with: bound, where: x .> bound).replacing(with: -bound, where: x .< -bound)
        let x2 = xc * xc
        var p = V(repeating: -2.76076847742355e-16)
        p = V(repeating: 2.00018790482477e-13).addingProduct(x2, p)
        p = V(repeating: -8.60467152213735e-11).addingProduct(x2, p)
        p = V(repeating: 5.12229709037114e-08).addingProduct(x2, p)
        p = V(repeating: 1.48572235717979e-05).addingProduct(x2, p)
        p = V(repeating: 6.37261928875436e-04).addingProduct(x2, p)
        p = V(repeating: 4.89352455891786e-03).addingProduct(x2, p)
        p = xc * p
        var q = V(repeating: 1.19825839466702e-06)
        q = V(repeating: 1.18534705686654e-04).addingProduct(x2, q)
        q = V(repeating: 2.26843463243900e-03).addingProduct(x2, q)
        q = V(repeating: 4.89352518554385e-03).addingProduct(x2, q)
        let y = p / q
        // Tiny inputs: tanh(x) = x to float precision.
        let tiny = V(repeating: 0.0004)
        return y.replacing(with: x, where: (x .< tiny) .& (x .> -tiny))
    }

    /// σ(z) = (1 + tanh(z/2)) / 2.
    @inline(__always) @usableFromInline
    static func sigmoid(_ z: Lanes) -> Lanes {
        Lanes(repeating: 0.5) + Lanes(repeating: 0.5) * tanh(Lanes(repeating: 0.5) * z)
    }

    #if SGX_AVX512
    /// tanh and σ of eight lanes (the same functions, lane by lane).
    @usableFromInline static func tanh(_ x: SIMD8<Float>) -> SIMD8<Float> { tanh(Lanes(lowHalf: x, highHalf: x)).lowHalf }
    @usableFromInline static func sigmoid(_ x: SIMD8<Float>) -> SIMD8<Float> { sigmoid(Lanes(lowHalf: x, highHalf: x)).lowHalf }
    #endif

    /// An element-wise function, as a type so that loops over it are
    /// specialised with it inlined (closures are not).
    @usableFromInline
    protocol LaneFunction { static func evaluate(_ x: Lanes) -> Lanes }
    /// The width element-wise loops work in: one register. (A concrete
    /// type: generic SIMD code specialised to it lowers the lane masks lane
    /// by lane, and so does SIMD16 split over two AVX2 registers.)
    /// Successive iterations are independent, so the processor overlaps
    /// their polynomial chains.
    #if SGX_AVX512
    @usableFromInline typealias Lanes = SIMD16<Float>
    #else
    @usableFromInline typealias Lanes = SIMD8<Float>
    #endif
    @usableFromInline enum TanhLanes: LaneFunction {
        @inline(__always) @usableFromInline static func evaluate(_ x: Lanes) -> Lanes { tanh(x) }
    }
    @usableFromInline enum ReluLanes: LaneFunction {
        @inline(__always) @usableFromInline static func evaluate(_ x: Lanes) -> Lanes { x.replacing(with: 0, where: x .< 0) }
    }
    @usableFromInline enum SigmoidLanes: LaneFunction {
        @inline(__always) @usableFromInline static func evaluate(_ x: Lanes) -> Lanes { sigmoid(x) }
    }
    @usableFromInline enum SwishLanes: LaneFunction {
        @inline(__always) @usableFromInline static func evaluate(_ x: Lanes) -> Lanes { x * sigmoid(x) }
    }

    /// The first `count` (< lane count) floats from p, then zeros.
    @inline(__always) @usableFromInline
    static func loadPartial(_ p: UnsafePointer<Float>, count: Int) -> Lanes {
        var v = Lanes()
        for l in 0..<count { v[l] = p[l] }
        return v
    }

    /// The first `count` (< lane count) lanes of v to p.
    @inline(__always) @usableFromInline
    static func storePartial(_ v: Lanes, _ p: UnsafeMutablePointer<Float>, count: Int) {
        for l in 0..<count { p[l] = v[l] }
    }

    /// y[i] = F(x[i]) for `count` floats, a register at a time, the rest
    /// through one partial vector: every element takes the same path. (The
    /// tail is its own function: with a second call site in the loop's
    /// function, the inliner gives up on F, or inlines it into lane-by-lane
    /// code.)
    @usableFromInline
    static func apply<F: LaneFunction>(_: F.Type, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        let w = Lanes.scalarCount
        while i &+ w <= count { store(F.evaluate(load(x + i, as: Lanes.self)), y + i); i &+= w }
        if i < count { applyPartial(F.self, x + i, y + i, count: count &- i) }
    }

    @usableFromInline @inline(never)
    static func applyPartial<F: LaneFunction>(_: F.Type, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                              count: Int) {
        storePartial(F.evaluate(loadPartial(x, count: count)), y, count: count)
    }

    /// y = activation(x) for `count` floats (y may be x).
    public static func activate(_ activation: Activation, _ x: UnsafeMutablePointer<Float>, count: Int,
                                into y: UnsafeMutablePointer<Float>) {
        switch activation {
        case .relu: apply(ReluLanes.self, x, y, count: count)
        case .tanh: apply(TanhLanes.self, x, y, count: count)
        case .sigmoid: apply(SigmoidLanes.self, x, y, count: count)
        case .swish, .silu: apply(SwishLanes.self, x, y, count: count)
        case .identity:
            if UnsafePointer(y) != UnsafePointer(x) { y.update(from: x, count: count) }
        case .elu, .softplus, .leakyRelu:
            for i in 0..<count { y[i] = activation(x[i]) }
        }
    }

    /// swish'(z) = σ(z)·(1 + z·(1 − σ(z))), σ recomputed from z.
    @usableFromInline enum SwishSlope: LaneFunction {
        @inline(__always) @usableFromInline static func evaluate(_ z: Lanes) -> Lanes {
            let s = sigmoid(z), one = Lanes(repeating: 1)
            return s * (one + z * (one - s))
        }
    }

    /// g ⊙= swish'(z), a register at a time (the tail as a partial vector).
    @usableFromInline
    static func swishDerivative(_ g: UnsafeMutablePointer<Float>, _ z: UnsafePointer<Float>, count: Int) {
        var i = 0
        let w = Lanes.scalarCount
        while i &+ w <= count {
            store(load(g + i, as: Lanes.self) * SwishSlope.evaluate(load(z + i, as: Lanes.self)), g + i)
            i &+= w
        }
        if i < count {
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { slope in
                applyPartial(SwishSlope.self, z + i, slope.baseAddress!, count: count &- i)
                for l in 0..<(count &- i) { g[i &+ l] *= slope[l] }
            }
        }
    }

    /// g ⊙= activation'(z), with z the pre-activation and a = activation(z).
    public static func multiplyByDerivative(_ activation: Activation, _ g: UnsafeMutablePointer<Float>,
                                            preactivation z: UnsafePointer<Float>, activation a: UnsafePointer<Float>,
                                            count: Int) {
        let w = Lanes.scalarCount, cv = count - count % w
        let one = Lanes(repeating: 1)
        @inline(__always) func ld(_ p: UnsafePointer<Float>) -> Lanes { load(p, as: Lanes.self) }
        var i = 0
        switch activation {
        case .relu:
            // JAX: relu'(0) = 0.
            while i < cv { store(ld(g + i).replacing(with: 0, where: ld(z + i) .<= 0), g + i); i &+= w }
            while i < count { if z[i] <= 0 { g[i] = 0 }; i &+= 1 }
        case .tanh:
            while i < cv { let y = ld(a + i); store(ld(g + i) * (one - y * y), g + i); i &+= w }
            while i < count { g[i] *= 1 - a[i] * a[i]; i &+= 1 }
        case .sigmoid:
            while i < cv { let y = ld(a + i); store(ld(g + i) * (y * (one - y)), g + i); i &+= w }
            while i < count { g[i] *= a[i] * (1 - a[i]); i &+= 1 }
        case .swish, .silu:
            swishDerivative(g, z, count: count)
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
