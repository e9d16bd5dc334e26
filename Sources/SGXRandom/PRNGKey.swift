/// A JAX PRNG key: the two uint32 words of `jax.random.PRNGKey(seed)` for
/// JAX's default implementation, threefry2x32 with
/// `jax_threefry_partitionable=True` (the default since JAX 0.5).
///
/// Every operation here is bit-identical to JAX's: `split`, `foldIn`, `bits`
/// and the samplers in `Sampling.swift`. In partitionable mode the i-th
/// element of any random array is a hash of the key and the counter i, so
/// `split(index:)` and `bits(at:)` compute one element without the others.
public struct PRNGKey: Hashable, Sendable, CustomStringConvertible {
    public var k0: UInt32
    public var k1: UInt32

    @inlinable
    public init(_ k0: UInt32, _ k1: UInt32) {
        self.k0 = k0
        self.k1 = k1
    }

    /// `jax.random.PRNGKey(seed)` in JAX's default 32-bit mode (`jax_enable_x64`
    /// off), where the seed is taken modulo 2^32: the key is (0, seed mod 2^32).
    @inlinable
    public init(seed: Int64) {
        self.init(0, UInt32(truncatingIfNeeded: seed))
    }

    /// `jax.random.PRNGKey(seed)` with `jax_enable_x64` on: (seed >> 32, seed mod 2^32).
    @inlinable
    public init(seed64 seed: UInt64) {
        self.init(UInt32(truncatingIfNeeded: seed >> 32), UInt32(truncatingIfNeeded: seed))
    }

    public var description: String { "PRNGKey(\(k0), \(k1))" }

    /// The key at `index` of `jax.random.split(key, num)` for any num > index.
    @inlinable
    public func split(index: Int) -> PRNGKey {
        let (a, b) = threefry2x32(k0, k1, UInt32(truncatingIfNeeded: UInt64(index) >> 32),
                                  UInt32(truncatingIfNeeded: index))
        return PRNGKey(a, b)
    }

    /// `jax.random.split(key, num)`.
    @inlinable
    public func split(_ num: Int) -> [PRNGKey] {
        (0..<num).map { split(index: $0) }
    }

    /// `jax.random.split(key)` as a pair.
    @inlinable
    public func split() -> (PRNGKey, PRNGKey) {
        (split(index: 0), split(index: 1))
    }

    /// `jax.random.fold_in(key, data)`.
    @inlinable
    public func foldIn(_ data: UInt32) -> PRNGKey {
        let (a, b) = threefry2x32(k0, k1, 0, data)
        return PRNGKey(a, b)
    }

    /// Element `index` of `jax.random.bits(key, shape, uint32)` (row-major index).
    @inlinable
    public func bits(at index: Int) -> UInt32 {
        let (a, b) = threefry2x32(k0, k1, UInt32(truncatingIfNeeded: UInt64(index) >> 32),
                                  UInt32(truncatingIfNeeded: index))
        return a ^ b
    }

    /// `jax.random.bits(key, (count,), uint32)`.
    @inlinable
    public func bits(count: Int) -> [UInt32] {
        (0..<count).map { bits(at: $0) }
    }
}

/// One Threefry mixing step on every lane: add, rotate left by r, xor.
@inlinable @inline(__always)
func threefryMix<V: SIMD>(_ x0: inout V, _ x1: inout V, _ r: UInt32) where V.Scalar == UInt32 {
    x0 = x0 &+ x1
    // Vector shift amounts (not a scalar one) keep this in vector registers.
    x1 = (x1 &<< V(repeating: r)) | (x1 &>> V(repeating: 32 - r))
    x1 ^= x0
}

/// The Threefry-2x32 block cipher with 20 rounds (Salmon et al. 2011), as in
/// `jax._src.prng.threefry2x32`: encrypts the counter (c0, c1) under the key.
/// Generic over SIMD vectors so that many counters are hashed at once.
@inlinable @inline(__always)
public func threefry2x32<V: SIMD>(_ key0: UInt32, _ key1: UInt32, _ c0: V, _ c1: V) -> (V, V)
where V.Scalar == UInt32 {
    let key2 = key0 ^ key1 ^ 0x1BD1_1BDA
    var x0 = c0 &+ V(repeating: key0)
    var x1 = c1 &+ V(repeating: key1)
    // Five groups of four rounds (rotations 13 15 26 6 / 17 29 16 24), each
    // followed by key injection i: (ks[i % 3], ks[(i + 1) % 3] + i).
    threefryMix(&x0, &x1, 13); threefryMix(&x0, &x1, 15); threefryMix(&x0, &x1, 26); threefryMix(&x0, &x1, 6)
    x0 = x0 &+ V(repeating: key1); x1 = x1 &+ V(repeating: key2 &+ 1)
    threefryMix(&x0, &x1, 17); threefryMix(&x0, &x1, 29); threefryMix(&x0, &x1, 16); threefryMix(&x0, &x1, 24)
    x0 = x0 &+ V(repeating: key2); x1 = x1 &+ V(repeating: key0 &+ 2)
    threefryMix(&x0, &x1, 13); threefryMix(&x0, &x1, 15); threefryMix(&x0, &x1, 26); threefryMix(&x0, &x1, 6)
    x0 = x0 &+ V(repeating: key0); x1 = x1 &+ V(repeating: key1 &+ 3)
    threefryMix(&x0, &x1, 17); threefryMix(&x0, &x1, 29); threefryMix(&x0, &x1, 16); threefryMix(&x0, &x1, 24)
    x0 = x0 &+ V(repeating: key1); x1 = x1 &+ V(repeating: key2 &+ 4)
    threefryMix(&x0, &x1, 13); threefryMix(&x0, &x1, 15); threefryMix(&x0, &x1, 26); threefryMix(&x0, &x1, 6)
    x0 = x0 &+ V(repeating: key2); x1 = x1 &+ V(repeating: key0 &+ 5)
    return (x0, x1)
}

/// Threefry-2x32 of one counter.
@inlinable @inline(__always)
public func threefry2x32(_ key0: UInt32, _ key1: UInt32, _ c0: UInt32, _ c1: UInt32) -> (UInt32, UInt32) {
    let (a, b) = threefry2x32(key0, key1, SIMD2(c0, 0), SIMD2(c1, 0))
    return (a[0], b[0])
}
