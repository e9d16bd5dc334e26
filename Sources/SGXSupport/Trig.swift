#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// sinf and cosf for whole arrays, equal bit for bit to the C library's
// scalar `sinf` / `cosf` (glibc's, which is what XLA's CPU backend computes
// too), so that batched environment steps give exactly the results of the
// scalar reference code, only faster: the loops below have no calls and no
// branches, so the compiler vectorises them.
//
// How: each value is computed in double precision, far more accurately than
// a float needs (relative error below 2^-40), then rounded to float. That is
// the correctly rounded result, and glibc's sinf/cosf are correctly rounded
// except when the true value lies within 0.061 float ulp of the midpoint
// between two floats. So a value whose double result lies within a margin of
// a midpoint (`margins`), or whose input is outside `trigVerifiedRange`, NaN
// or infinite, or whose result is float-subnormal, is recomputed by calling
// the C library itself.
//
// Proof, not hope: bench/trig_exhaustive.swift runs this code on every float
// in [-trigVerifiedRange, trigVerifiedRange] (2.3 billion inputs) and
// compares with the C library; TrigTests samples the comparison on every
// test run.

/// Inputs with |x| <= this are computed here; others by the C library.
public let trigVerifiedRange: Float = 1024

/// The C library's scalar `sinf`.
@inlinable @inline(__always)
public func cLibrarySin(_ x: Float) -> Float {
    #if canImport(Glibc)
    return Glibc.sinf(x)
    #else
    return Darwin.sinf(x)
    #endif
}

/// The C library's scalar `cosf`.
@inlinable @inline(__always)
public func cLibraryCos(_ x: Float) -> Float {
    #if canImport(Glibc)
    return Glibc.cosf(x)
    #else
    return Darwin.cosf(x)
    #endif
}

/// sin(x) and cos(x) in double precision, relative error below 2^-40.
@inlinable @inline(__always)
func sinCosDouble(_ x: Float) -> (sin: Double, cos: Double) {
    let xd = Double(x)
    // k = nearest integer to x / (pi/2), via the 1.5 * 2^52 trick: adding it
    // pushes the fraction out of the double, and k mod 4 stays in its low bits.
    let shifter = 0x1.8p52
    let shifted = xd * 0x1.45f306dc9c883p-1 + shifter  // 2/pi
    let k = shifted - shifter
    let quadrant = shifted.bitPattern & 3
    // r = x - k pi/2 with pi/2 = piOver2High + piOver2Low (106 bits). The first
    // fused multiply-add is exact for |x| <= 2^20: x and k * piOver2High are
    // multiples of 2^-52 and their difference is below 2 in magnitude.
    let r = xd.addingProduct(k, -0x1.921fb54442d18p0).addingProduct(k, -0x1.1a62633145c07p-54)
    // Taylor series on |r| <= pi/4 (plus rounding slack): sin to r^13 and cos
    // to r^14, truncation error below 2^-45 relative.
    let r2 = r * r
    var ps = (-1 / 39916800.0).addingProduct(r2, 1 / 6227020800.0)
    ps = (1 / 362880.0).addingProduct(r2, ps)
    ps = (-1 / 5040.0).addingProduct(r2, ps)
    ps = (1 / 120.0).addingProduct(r2, ps)
    ps = (-1 / 6.0).addingProduct(r2, ps)
    let sinR = r * 1.0.addingProduct(r2, ps)  // r (1 + r^2 p) keeps the sign of a zero
    var pc = (1 / 479001600.0).addingProduct(r2, -1 / 87178291200.0)
    pc = (-1 / 3628800.0).addingProduct(r2, pc)
    pc = (1 / 40320.0).addingProduct(r2, pc)
    pc = (-1 / 720.0).addingProduct(r2, pc)
    pc = (1 / 24.0).addingProduct(r2, pc)
    pc = (-1 / 2.0).addingProduct(r2, pc)
    let cosR = 1.0.addingProduct(r2, pc)
    // sin(r + k pi/2) and cos(r + k pi/2) for k mod 4 = 0, 1, 2, 3:
    // (sin r, cos r), (cos r, -sin r), (-sin r, -cos r), (-cos r, sin r).
    let odd = quadrant & 1 != 0
    let sin = odd ? cosR : sinR, cos = odd ? sinR : cosR
    return (Double(bitPattern: sin.bitPattern ^ ((quadrant & 2) << 62)),
            Double(bitPattern: cos.bitPattern ^ (((quadrant &+ 1) & 2) << 62)))
}

/// How close (in units of 2^-29 float ulp) to a float rounding midpoint a
/// double result may come before the C library is asked instead. The
/// exhaustive check measures, per binade of |x|, how close glibc's own
/// departures from correct rounding come (printed by
/// bench/trig_exhaustive.swift): at most 0.0607 ulp anywhere, but at most
/// 0.0073 for sin with |x| < 2^-4 and 0.0009 for cos with |x| < 1/2, where
/// the margin is narrower. (Finer margins per binade save a few calls of the
/// C library but cost more than they save.)
@usableFromInline let wideMargin: Int32 = 37_580_964    // 0.07 ulp
@usableFromInline let narrowMargin: Int32 = 5_368_709   // 0.01 ulp

/// The margins for sin(x) and cos(x).
@inlinable @inline(__always)
func margins(_ magnitude: Float) -> (sin: Int32, cos: Int32) {
    (magnitude < 0x1p-4 ? narrowMargin : wideMargin, magnitude < 0.5 ? narrowMargin : wideMargin)
}

/// 1 when `rounded`, `y` rounded to float, might differ from the C library's
/// result: `y` is within `margin` of a rounding midpoint, or the result is
/// float-subnormal (or the smallest normal: y might have been subnormal).
/// (For |y| >= 2^-126 a double's low 29 significand bits are its position
/// between two adjacent floats; 2^28 is the midpoint.) 32-bit arithmetic, as
/// the float lanes around it.
@inlinable @inline(__always)
func untrusted(_ y: Double, rounded: Float, margin: Int32) -> UInt8 {
    let offset = Int32(truncatingIfNeeded: y.bitPattern & 0x1FFF_FFFF) &- 0x1000_0000
    let nearMidpoint = (offset < margin) & (offset > -margin)
    let subnormal = (abs(rounded) <= .leastNormalMagnitude) & (rounded != 0)
    return (nearMidpoint | subnormal) ? 1 : 0
}

/// sinf(x) and cosf(x) as computed here, and whether each is verified to
/// equal the C library's: bit 0 set when sin must come from the C library,
/// bit 1 when cos must.
@inlinable @inline(__always)
func sinCosFast(_ x: Float) -> (sin: Float, cos: Float, redo: UInt8) {
    let (s, c) = sinCosDouble(x)
    let magnitude = abs(x)
    let inRange = magnitude <= trigVerifiedRange  // false for NaN
    let margin = margins(magnitude)
    let outside: UInt8 = inRange ? 0 : 3
    let (sin, cos) = (Float(s), Float(c))
    return (sin, cos, outside | untrusted(s, rounded: sin, margin: margin.sin)
                | (untrusted(c, rounded: cos, margin: margin.cos) << 1))
}

/// `sin[i] = sinf(x[i])` and `cos[i] = cosf(x[i])` for i in 0..<count, bit
/// for bit; a nil output is not computed. `redo` is scratch space for
/// `count` bytes.
@inlinable @inline(__always)
public func sinCosf(
    count: Int, _ x: UnsafePointer<Float>, sin: UnsafeMutablePointer<Float>?,
    cos: UnsafeMutablePointer<Float>?, scratch redo: UnsafeMutablePointer<UInt8>
) {
    let wanted: UInt8 = (sin == nil ? 0 : 1) | (cos == nil ? 0 : 2)
    // One branch-free, call-free pass, which the compiler vectorises...
    for i in 0..<count {
        let (s, c, r) = sinCosFast(x[i])
        if let sin { sin[i] = s }
        if let cos { cos[i] = c }
        redo[i] = r & wanted
    }
    // ...then the C library for the few values this code cannot vouch for,
    // found eight flags at a time.
    var word = 0
    while word < count {
        let width = Swift.min(8, count - word)
        var flags: UInt64 = 0
        for k in 0..<width { flags |= UInt64(redo[word + k]) << (8 * k) }
        while flags != 0 {
            let bit = flags.trailingZeroBitCount, i = word + bit / 8
            if bit % 8 == 0 { sin![i] = cLibrarySin(x[i]) } else { cos![i] = cLibraryCos(x[i]) }
            flags &= flags - 1
        }
        word += 8
    }
}
