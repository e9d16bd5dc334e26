// Exhaustive proof that the batched sinf/cosf of
// Sources/SGXSupport/Trig.swift equal the C library's scalar
// sinf/cosf bit for bit on every float32 x with |x| <= trigVerifiedRange
// (zeros and subnormals included), and that inputs beyond it (and NaN, inf)
// come from the C library. It also reports how close to a rounding midpoint
// the C library's own departures from correct rounding come, per binade,
// which is what the margins in Trig.swift must stay above, and then checks
// `fmodWithoutCall(x, 2 pi)` (Support/Remainder.swift) against fmodf on every
// float x with |x| <= 2^20.
//
// Build and run (about three minutes on 2 cores):
//
//   mkdir -p /tmp/trig && cp bench/trig_exhaustive.swift /tmp/trig/main.swift
//   swiftc -O -target-cpu haswell /tmp/trig/main.swift Sources/SGXSupport/Trig.swift \
//       Sources/SGXSupport/Remainder.swift Sources/SGXSupport/BranchFree.swift \
//       -package-name SyntheticGymnax -o /tmp/trig/check
//   /tmp/trig/check
//
// (`-target-cpu haswell` is what the package uses on AVX2 machines; the
// results do not depend on it: every fused multiply-add is explicit.)

import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

final class Tally: @unchecked Sendable {
    var lock = pthread_mutex_t()
    var checked = 0, mismatches = 0, redone = 0, departures = 0
    // Per binade of |x| (float exponent field): the largest distance to a
    // midpoint, in float ulp, at which the C library differs from rounding
    // our double, for sin and cos.
    var worstSin = [Double](repeating: 0, count: 256), worstCos = [Double](repeating: 0, count: 256)
    var examples: [String] = []
    init() { pthread_mutex_init(&lock, nil) }
}

let tally = Tally()
let positives = Int(trigVerifiedRange.bitPattern) + 1  // every float in [0, range]
let blockSize = 1 << 16
let blocks = (2 * positives + blockSize - 1) / blockSize
let start = DispatchTime.now()

DispatchQueue.concurrentPerform(iterations: blocks) { b in
    let lo = b * blockSize, hi = min(2 * positives, lo + blockSize), n = hi - lo
    // Index j < positives is +x, j >= positives is -x.
    var x = [Float](repeating: 0, count: n)
    for j in 0..<n {
        let i = lo + j
        x[j] = i < positives ? Float(bitPattern: UInt32(i)) : -Float(bitPattern: UInt32(i - positives))
    }
    var sin = [Float](repeating: 0, count: n), cos = [Float](repeating: 0, count: n)
    var redo = [UInt8](repeating: 0, count: n)
    sinCosf(count: n, x, sin: &sin, cos: &cos, scratch: &redo)
    var mismatches = 0, redone = 0, departures = 0
    var worstSin = [Double](repeating: 0, count: 256), worstCos = [Double](repeating: 0, count: 256)
    var examples: [String] = []
    for j in 0..<n {
        let v = x[j], gs = sinf(v), gc = cosf(v)
        if sin[j].bitPattern != gs.bitPattern || cos[j].bitPattern != gc.bitPattern {
            mismatches += 1
            if examples.count < 10 { examples.append("x=\(v): sin \(sin[j]) vs \(gs), cos \(cos[j]) vs \(gc)") }
        }
        redone += redo[j].nonzeroBitCount
        let (sd, cd) = sinCosDouble(v)
        func departure(_ y: Double, _ g: Float) -> Double {
            guard Float(y).bitPattern != g.bitPattern, abs(y) >= 0x1p-126 else { return 0 }
            departures += 1
            let bits = Int64(bitPattern: y.bitPattern)
            return Double(abs((bits & 0x1FFF_FFFF) - 0x1000_0000)) / Double(1 << 29)
        }
        let e = Int(v.exponentBitPattern)
        worstSin[e] = max(worstSin[e], departure(sd, gs))
        worstCos[e] = max(worstCos[e], departure(cd, gc))
    }
    pthread_mutex_lock(&tally.lock)
    tally.checked += n
    tally.mismatches += mismatches
    tally.redone += redone
    tally.departures += departures
    for e in 0..<256 {
        tally.worstSin[e] = max(tally.worstSin[e], worstSin[e])
        tally.worstCos[e] = max(tally.worstCos[e], worstCos[e])
    }
    tally.examples += examples.prefix(max(0, 10 - tally.examples.count))
    pthread_mutex_unlock(&tally.lock)
}

// Outside the range, NaN and infinities: the C library's answer (sampled).
var outside: [Float] = []
for bits in stride(from: trigVerifiedRange.bitPattern + 1, through: 0x7FFF_FFFF, by: 997) {
    outside.append(Float(bitPattern: bits))
    outside.append(-Float(bitPattern: bits))
}
outside += [.infinity, -.infinity, .nan, -.nan, .signalingNaN, trigVerifiedRange.nextUp]
var os = [Float](repeating: 0, count: outside.count), oc = os
var ored = [UInt8](repeating: 0, count: outside.count)
sinCosf(count: outside.count, outside, sin: &os, cos: &oc, scratch: &ored)
var outsideMismatches = 0
for (j, v) in outside.enumerated() where os[j].bitPattern != sinf(v).bitPattern || oc[j].bitPattern != cosf(v).bitPattern {
    outsideMismatches += 1
}

let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
print("every float32 x with |x| <= \(trigVerifiedRange): \(tally.checked) inputs, sinf and cosf each")
print("mismatches against the C library: \(tally.mismatches)")
print("outside the range (sampled, with inf and NaN): \(outside.count) inputs, \(outsideMismatches) mismatches")
print("values taken from the C library: \(tally.redone) of \(2 * tally.checked) "
      + "(\(Double(tally.redone) / Double(2 * tally.checked) * 100)%)")
print("C library results other than Float(our double): \(tally.departures); their closest approach to a "
      + "midpoint per binade of |x|, in float ulp, and the margin Trig.swift keeps there:")
var marginsHold = true
for e in 0..<256 where tally.worstSin[e] > 0 || tally.worstCos[e] > 0 {
    func ulps(_ d: Double) -> String { "\((d * 10000).rounded() / 10000)" }
    let m = margins(Float(sign: .plus, exponentBitPattern: UInt(e), significandBitPattern: 0))
    let (sinMargin, cosMargin) = (Double(m.sin) / Double(1 << 29), Double(m.cos) / Double(1 << 29))
    marginsHold = marginsHold && tally.worstSin[e] < sinMargin && tally.worstCos[e] < cosMargin
    print("  [2^\(e - 127), 2^\(e - 126)): sin \(ulps(tally.worstSin[e])) < \(ulps(sinMargin))"
          + "   cos \(ulps(tally.worstCos[e])) < \(ulps(cosMargin))")
}
for e in tally.examples { print("  ", e) }
print("margins above the C library's departures in every binade: \(marginsHold)")
print("\(seconds.rounded()) s")

// fmodWithoutCall(x, 2 pi) for every float with |x| <= 2^20, both signs.
let twoPi = Float(2 * Double.pi)
let fmodLimit = Int(Float(0x1p20).bitPattern) + 1
final class FmodTally: @unchecked Sendable {
    var lock = pthread_mutex_t(), checked = 0, mismatches = 0, inexact = 0
    init() { pthread_mutex_init(&lock, nil) }
}
let fmodTally = FmodTally()
DispatchQueue.concurrentPerform(iterations: (fmodLimit + blockSize - 1) / blockSize) { b in
    var checked = 0, mismatches = 0, inexact = 0
    for i in (b * blockSize)..<min(fmodLimit, (b + 1) * blockSize) {
        for x in [Float(bitPattern: UInt32(i)), -Float(bitPattern: UInt32(i))] {
            let (r, exact) = fmodWithoutCall(x, twoPi)
            checked += 1
            if !exact { inexact += 1 } else if r.bitPattern != fmodf(x, twoPi).bitPattern { mismatches += 1 }
        }
    }
    pthread_mutex_lock(&fmodTally.lock)
    fmodTally.checked += checked
    fmodTally.mismatches += mismatches
    fmodTally.inexact += inexact
    pthread_mutex_unlock(&fmodTally.lock)
}
print("fmodWithoutCall(x, 2 pi), every float32 x with |x| <= 2^20: \(fmodTally.checked) inputs, "
      + "\(fmodTally.mismatches) mismatches against fmodf, \(fmodTally.inexact) not claimed exact")
let total = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
print("\(total.rounded()) s in all")
exit(tally.mismatches == 0 && outsideMismatches == 0 && marginsHold && fmodTally.mismatches == 0
     && fmodTally.inexact == 0 ? 0 : 1)
