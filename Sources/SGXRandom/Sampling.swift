#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Samplers of `jax.random`, element by element, bit-identical to JAX for
/// float32 and int32 (normal within 1e-6: it goes through `erf_inv`).
extension PRNGKey {
    /// Element `index` of `jax.random.uniform(key, shape, float32, minval, maxval)`.
    ///
    /// JAX fills the 23 mantissa bits of a float in [1, 2) from the top bits
    /// of the random word, subtracts 1, scales and clamps from below. XLA on
    /// CPU fuses the scale and shift into one fused multiply-add; so do we.
    @inlinable @inline(__always)
    public func uniform(at index: Int, minval: Float = 0, maxval: Float = 1) -> Float {
        let unit = Float(bitPattern: (bits(at: index) &>> 9) | 0x3F80_0000) - 1
        return Swift.max(minval, minval.addingProduct(unit, maxval - minval))
    }

    /// `jax.random.uniform(key, (count,), float32, minval, maxval)`.
    public func uniform(count: Int, minval: Float = 0, maxval: Float = 1) -> [Float] {
        (0..<count).map { uniform(at: $0, minval: minval, maxval: maxval) }
    }

    /// `jax.random.randint(key, (count,), minval, maxval, int32)`.
    ///
    /// JAX draws two words per element from `split(key)` and reduces them
    /// modulo the span, so the result is biased as in JAX, and identical.
    public func randint(count: Int, minval: Int32, maxval: Int32) -> [Int32] {
        let (higherKey, lowerKey) = split()
        // span = maxval - minval as uint32, or 1 when the range is empty.
        let span: UInt32 = maxval <= minval ? 1 : UInt32(bitPattern: maxval &- minval)
        var multiplier = UInt32(1 << 16) % span
        multiplier = (multiplier &* multiplier) % span
        return (0..<count).map { i in
            let high = higherKey.bits(at: i), low = lowerKey.bits(at: i)
            var offset = (high % span) &* multiplier &+ (low % span)
            offset %= span
            return minval &+ Int32(bitPattern: offset)
        }
    }

    /// Element `index` of `jax.random.normal(key, shape, float32)`:
    /// `sqrt(2) * erf_inv(u)` with u uniform in (-1, 1).
    @inlinable
    public func normal(at index: Int) -> Float {
        let lo = Float(-1).nextUp  // np.nextafter(-1, 0) in float32
        let u = uniform(at: index, minval: lo, maxval: 1)
        return Float(2).squareRoot() * erfInv(u)
    }

    /// `jax.random.normal(key, (count,), float32)`.
    public func normal(count: Int) -> [Float] {
        (0..<count).map { normal(at: $0) }
    }

    /// `jax.random.bernoulli(key, p, (count,))`: uniform < p.
    public func bernoulli(count: Int, p: Float) -> [Bool] {
        (0..<count).map { uniform(at: $0) < p }
    }
}

/// XLA's float32 `ErfInv` (M. Giles, "Approximating the erfinv function"),
/// which `jax.lax.erf_inv` lowers to on CPU.
@inlinable
public func erfInv(_ x: Float) -> Float {
    let small: (Float, Float, Float, Float, Float, Float, Float, Float, Float) = (
        2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
        -0.00125372503, -0.00417768164, 0.246640727, 1.50140941)
    let large: (Float, Float, Float, Float, Float, Float, Float, Float, Float) = (
        -0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
        -0.0076224613, 0.00943887047, 1.00167406, 2.83297682)
    if Swift.abs(x) == 1 { return x * .infinity }
    var w = -log1pf(-x * x)
    let c = w < 5 ? small : large
    w = w < 5 ? w - 2.5 : w.squareRoot() - 3
    var p = c.0
    p = c.1 + p * w
    p = c.2 + p * w
    p = c.3 + p * w
    p = c.4 + p * w
    p = c.5 + p * w
    p = c.6 + p * w
    p = c.7 + p * w
    p = c.8 + p * w
    return p * x
}
