import Foundation

/// How the JAX libraries the project follows (rejax, evosax) use the PRNG,
/// built on `jax.random`'s functions and bit-identical to them.
extension PRNGKey {
    /// rejax's `rng, sub = jax.random.split(rng)`: replaces the key by the
    /// first half and returns the second.
    @inlinable @inline(__always)
    package mutating func splitOff() -> PRNGKey {
        let (next, sub) = split()
        self = next
        return sub
    }

    /// `jax.random.permutation(key, n)` with n = `order.count`, written to
    /// `order`: rounds of a stable sort by random 32-bit keys (one round
    /// below ~1600 elements). `sortKeys` is scratch of n words.
    package func permutation(into order: inout [Int], sortKeys: inout [UInt32]) {
        let n = order.count
        for i in 0..<n { order[i] = i }
        let rounds = Int((3 * log(Double(Swift.max(1, n))) / log(Double(UInt32.max))).rounded(.up))
        var key = self
        for _ in 0..<rounds {
            let sub = key.splitOff()
            sub.bits(count: n, into: &sortKeys)
            // sort_key_val: the keys belong to positions; values follow them.
            let bits = sortKeys
            var positions = Array(0..<n)
            positions.sort { bits[$0] != bits[$1] ? bits[$0] < bits[$1] : $0 < $1 }
            order = positions.map { order[$0] }
        }
    }

    /// `jax.random.normal(key, (count,))` divided by √2, i.e. erf_inv(u):
    /// evosax's strategies fold √2 into sigma as XLA does.
    package func normalUnits(count: Int, into out: UnsafeMutablePointer<Float>) {
        let lo = Float(-1).nextUp
        uniform(count: count, minval: lo, maxval: 1, into: out)
        for i in 0..<count { out[i] = erfInv(out[i]) }
    }
}
