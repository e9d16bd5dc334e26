import XCTest
@testable import SyntheticGymnax
@testable import SGXSupport
@testable import SGXRandom
@testable import SGXNN
@testable import SGXEnvironments
@testable import SGXMetaLearning

#if canImport(Glibc)
import Glibc
#endif

/// The call-free sinf/cosf and fmodf of Support/ (used by the vectorised
/// environment steps) against the C library, bit for bit, on a sample of
/// inputs. bench/trig_exhaustive.swift checks every float in range.
final class TrigTests: XCTestCase {
    /// A reproducible sample: every bit pattern class, many magnitudes,
    /// multiples of pi/2 and their neighbours, and the edges of the range.
    static func sample(count: Int) -> [Float] {
        var generator = SplitMix64(seed: 7)
        var xs: [Float] = [0, -0, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, .leastNormalMagnitude,
                           -.leastNormalMagnitude, 1, -1, .pi, trigVerifiedRange, -trigVerifiedRange,
                           trigVerifiedRange.nextUp, -trigVerifiedRange.nextUp, 1e6, -3e30,
                           .greatestFiniteMagnitude, .infinity, -.infinity, .nan, -.nan, .signalingNaN]
        for k in -700...700 {
            let x = Float(Double(k) * Double.pi / 2)
            xs += [x, x.nextUp, x.nextDown, x.nextUp.nextUp, x.nextDown.nextDown]
        }
        while xs.count < count {
            let bits = UInt32(truncatingIfNeeded: generator.next())
            switch xs.count % 4 {
            case 0:  // any bit pattern up to the range, either sign
                xs.append(Float(bitPattern: bits % (trigVerifiedRange.bitPattern + 1) | bits & 0x8000_0000))
            case 1:  // where the environments live
                xs.append(Float(Double(bits) / Double(UInt32.max) * 8 - 4))
            case 2:
                xs.append(Float(Double(bits) / Double(UInt32.max) * 200 - 100))
            default:  // anything
                xs.append(Float(bitPattern: bits))
            }
        }
        return xs
    }

    func testSinCosEqualTheCLibrary() {
        let xs = Self.sample(count: 2_000_000)
        var sin = [Float](repeating: 0, count: xs.count), cos = sin
        var redo = [UInt8](repeating: 0, count: xs.count)
        sinCosf(count: xs.count, xs, sin: &sin, cos: &cos, scratch: &redo)
        var mismatches = 0, fromCLibrary = 0, inRange = 0
        for (i, x) in xs.enumerated() {
            if abs(x) <= trigVerifiedRange {
                inRange += 1
                fromCLibrary += redo[i].nonzeroBitCount
            }
            if sin[i].bitPattern != sinf(x).bitPattern || cos[i].bitPattern != cosf(x).bitPattern {
                mismatches += 1
                if mismatches <= 5 { XCTFail("x = \(x) (\(x.bitPattern)): sin \(sin[i]) vs \(sinf(x)), cos \(cos[i]) vs \(cosf(x))") }
            }
        }
        XCTAssertEqual(mismatches, 0)
        // The fallback is exercised, and rare.
        XCTAssertGreaterThan(fromCLibrary, 1000)
        XCTAssertLessThan(fromCLibrary, 2 * inRange / 10)
    }

    /// Only one of the two wanted: that one is still exact.
    func testSinOnlyAndCosOnly() {
        let xs = Self.sample(count: 200_000)
        var sin = [Float](repeating: 0, count: xs.count), cos = sin
        var redo = [UInt8](repeating: 0, count: xs.count)
        sinCosf(count: xs.count, xs, sin: &sin, cos: nil, scratch: &redo)
        XCTAssertEqual(zip(xs, sin).filter { $1.bitPattern != sinf($0).bitPattern }.count, 0)
        sinCosf(count: xs.count, xs, sin: nil, cos: &cos, scratch: &redo)
        XCTAssertEqual(zip(xs, cos).filter { $1.bitPattern != cosf($0).bitPattern }.count, 0)
    }

    /// Pendulum's `fmodf(theta + pi, 2 pi)`.
    func testFmodEqualsTheCLibrary() {
        let y = Float(2 * Double.pi)
        var mismatches = 0, inexact = 0
        for x in Self.sample(count: 1_000_000) + [y, -y, 2 * y, -3 * y, y.nextUp, y.nextDown, 0x1p20, -0x1p20] {
            let (r, exact) = fmodWithoutCall(x, y)
            if exact {
                if r.bitPattern != fmodf(x, y).bitPattern {
                    mismatches += 1
                    if mismatches <= 5 { XCTFail("fmod(\(x), 2pi): \(r) vs \(fmodf(x, y))") }
                }
            } else {
                inexact += 1
                XCTAssertFalse(abs(x) <= 0x1p20, "\(x) should be exact")
            }
        }
        XCTAssertEqual(mismatches, 0)
        XCTAssertGreaterThan(inexact, 0)
        // Other divisors.
        for y: Float in [1, -1, 0.3, -7.5, 1e-3, 5e6] {
            for x in Self.sample(count: 20_000) {
                let (r, exact) = fmodWithoutCall(x, y)
                if exact { XCTAssertEqual(r.bitPattern, fmodf(x, y).bitPattern, "fmod(\(x), \(y))") }
            }
        }
    }
}

/// A small deterministic generator for test samples.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
