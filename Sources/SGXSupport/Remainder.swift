#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `fmodf(x, y)` without a call, for loops that should vectorise: the
/// remainder of a float division is exact (always a float), and for
/// |x| <= 2^20 and 2^-8 <= |y| <= 2^100 it is computed exactly here in
/// double precision. `exact` is false otherwise (then use `fmodf`).
/// bench/trig_exhaustive.swift checks every float x in range for Pendulum's
/// divisor y = 2 pi.
@inlinable @inline(__always)
public func fmodWithoutCall(_ x: Float, _ y: Float) -> (remainder: Float, exact: Bool) {
    let xd = Double(x), yd = Double(y)
    // The truncated quotient, |q| < 2^28, so q * y is exact (at most 24 + 28
    // bits) and so is x - q * y (a multiple of the smaller ulp of x and y,
    // below 2 |y| in magnitude).
    let q = (xd / yd).rounded(.towardZero)
    var r = xd - q * yd
    // The division may have rounded up to the next integer in magnitude:
    // then r has the wrong sign and one |y| is missing.
    let wrongSign = (r != 0) & ((r < 0) != (xd < 0))
    r = wrongSign ? r + (xd < 0 ? -abs(yd) : abs(yd)) : r
    // A zero remainder has the sign of x.
    r = r == 0 ? xd * 0 : r
    let exact = (abs(x) <= 0x1p20) & (abs(y) >= 0x1p-8) & (abs(y) <= 0x1p100)
    return (Float(r), exact)
}
