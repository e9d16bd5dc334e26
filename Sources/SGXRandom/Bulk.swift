import SGXSupport

/// Whole arrays of `jax.random` output at once: the counters of eight
/// elements go through threefry together as SIMD vectors, and large arrays
/// are split across cores. Element i is the same as the scalar functions'.
extension PRNGKey {
    /// Threefry of the counters (hi(i), lo(i)) for i = start ..< start + 8.
    @inlinable @inline(__always)
    package func block(_ start: Int) -> (SIMD8<UInt32>, SIMD8<UInt32>) {
        let lanes = SIMD8<UInt32>(0, 1, 2, 3, 4, 5, 6, 7)
        let hi = SIMD8<UInt32>(repeating: UInt32(truncatingIfNeeded: UInt64(start) >> 32))
        // start is a multiple of 8, so the low word never carries inside a block.
        let lo = SIMD8<UInt32>(repeating: UInt32(truncatingIfNeeded: start)) &+ lanes
        return threefry8(k0, k1, hi, lo)
    }

    /// Calls `body(start, a, b)` for each block of 8 elements covering 0..<count
    /// (the last block may extend past count), in parallel for large counts.
    @inlinable
    func forEachBlock(count: Int, _ body: (Int, SIMD8<UInt32>, SIMD8<UInt32>) -> Void) {
        let blocks = (count + 7) / 8
        parallelChunks(count: blocks, minimumPerChunk: 4096) { range in
            for b in range {
                let (x, y) = block(8 * b)
                body(8 * b, x, y)
            }
        }
    }

    /// `jax.random.split(key, count)` into `out` (2 words a key).
    public func split(count: Int, into out: UnsafeMutablePointer<UInt32>) {
        forEachBlock(count: count) { start, a, b in
            if start + 8 <= count {
                // Whole vectors out (lane-by-lane extraction would make the
                // compiler hash lane by lane too), then interleave.
                var pair = (a, b)
                withUnsafeBytes(of: &pair) { raw in
                    let words = raw.bindMemory(to: UInt32.self)
                    for lane in 0..<8 {
                        out[2 &* (start &+ lane)] = words[lane]
                        out[2 &* (start &+ lane) &+ 1] = words[8 &+ lane]
                    }
                }
            } else {
                for lane in 0..<(count - start) {
                    out[2 * (start + lane)] = a[lane]
                    out[2 * (start + lane) + 1] = b[lane]
                }
            }
        }
    }

    /// `jax.random.bits(key, (count,), uint32)` into `out`.
    public func bits(count: Int, into out: UnsafeMutablePointer<UInt32>) {
        forEachBlock(count: count) { start, a, b in
            let word = a ^ b
            if start + 8 <= count {
                UnsafeMutableRawPointer(out + start).storeBytes(of: word, as: SIMD8<UInt32>.self)
            } else {
                for lane in 0..<(count - start) { out[start + lane] = word[lane] }
            }
        }
    }

    /// `jax.random.uniform(key, (count,), float32, minval, maxval)` into `out`.
    public func uniform(count: Int, minval: Float, maxval: Float, into out: UnsafeMutablePointer<Float>) {
        let span = maxval - minval
        forEachBlock(count: count) { start, a, b in
            let mantissa = ((a ^ b) &>> 9) | SIMD8(repeating: 0x3F80_0000)
            for lane in 0..<min(8, count - start) {
                let unit = Float(bitPattern: mantissa[lane]) - 1
                out[start + lane] = Swift.max(minval, minval.addingProduct(unit, span))
            }
        }
    }

    /// `jax.random.randint(key, (count,), minval, maxval, int32)` into `out`.
    public func randint(count: Int, minval: Int32, maxval: Int32, into out: UnsafeMutablePointer<Int32>) {
        let (higherKey, lowerKey) = split()
        let span: UInt32 = maxval <= minval ? 1 : UInt32(bitPattern: maxval &- minval)
        var multiplier = UInt32(1 << 16) % span
        multiplier = (multiplier &* multiplier) % span
        let blocks = (count + 7) / 8
        parallelChunks(count: blocks, minimumPerChunk: 2048) { range in
            for b in range {
                let (h0, h1) = higherKey.block(8 * b), (l0, l1) = lowerKey.block(8 * b)
                let high = h0 ^ h1, low = l0 ^ l1
                for lane in 0..<min(8, count - 8 * b) {
                    var offset = (high[lane] % span) &* multiplier &+ (low[lane] % span)
                    offset %= span
                    out[8 * b + lane] = minval &+ Int32(bitPattern: offset)
                }
            }
        }
    }

    /// `jax.random.normal(key, (count,), float32)` into `out`.
    public func normal(count: Int, into out: UnsafeMutablePointer<Float>) {
        let lo = Float(-1).nextUp
        uniform(count: count, minval: lo, maxval: 1, into: out)
        let scale = Float(2).squareRoot()
        for i in 0..<count { out[i] = scale * erfInv(out[i]) }
    }
}

/// Threefry-2x32 on eight counters, written for SIMD8 itself: the generic
/// version is lowered lane by lane in some contexts, this one stays in
/// vector registers (AVX2: one instruction per operation for eight lanes).
@inlinable @inline(__always)
func threefry8(_ key0: UInt32, _ key1: UInt32, _ c0: SIMD8<UInt32>, _ c1: SIMD8<UInt32>)
    -> (SIMD8<UInt32>, SIMD8<UInt32>)
{
    let k0 = SIMD8<UInt32>(repeating: key0), k1 = SIMD8<UInt32>(repeating: key1)
    let k2 = SIMD8<UInt32>(repeating: key0 ^ key1 ^ 0x1BD1_1BDA)
    var x0 = c0 &+ k0, x1 = c1 &+ k1
    @inline(__always) func mix(_ r: UInt32) {
        x0 = x0 &+ x1
        x1 = (x1 &<< SIMD8(repeating: r)) | (x1 &>> SIMD8(repeating: 32 - r))
        x1 = x1 ^ x0
    }
    mix(13); mix(15); mix(26); mix(6)
    x0 = x0 &+ k1; x1 = x1 &+ k2 &+ SIMD8(repeating: 1)
    mix(17); mix(29); mix(16); mix(24)
    x0 = x0 &+ k2; x1 = x1 &+ k0 &+ SIMD8(repeating: 2)
    mix(13); mix(15); mix(26); mix(6)
    x0 = x0 &+ k0; x1 = x1 &+ k1 &+ SIMD8(repeating: 3)
    mix(17); mix(29); mix(16); mix(24)
    x0 = x0 &+ k1; x1 = x1 &+ k2 &+ SIMD8(repeating: 4)
    mix(13); mix(15); mix(26); mix(6)
    x0 = x0 &+ k2; x1 = x1 &+ k0 &+ SIMD8(repeating: 5)
    return (x0, x1)
}
