import SGXRandom
import SGXEnvironments
import Foundation

/// Sampling and log-probabilities of rejax's action distributions
/// (distrax `Categorical` and `MultivariateNormalDiag`).
enum ActionSampling {
    static let halfLogTwoPi: Float = 0.5 * logf(2 * .pi)

    /// Categorical actions from logits (rows × n): `argmax(logits + gumbel)`
    /// with gumbel = −log(−log(u)), u uniform in [tiny, 1) as
    /// `jax.random.categorical`; the argmax of the logits when greedy.
    /// Writes log π(a) when `logProbs` is given.
    static func categorical(rows: Int, actions n: Int, logits: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
                            logProbs: UnsafeMutablePointer<Float>?, greedy: Bool,
                            sample: (Int, Int) -> (PRNGKey, Int)) {
        for r in 0..<rows {
            let z = logits + r * n
            var best = 0, bestValue = -Float.infinity
            for j in 0..<n {
                var value = z[j]
                if !greedy {
                    let (key, index) = sample(r, j)
                    let u = key.uniform(at: index, minval: .leastNormalMagnitude, maxval: 1)
                    value += -logf(-logf(u))
                }
                if value > bestValue { (best, bestValue) = (j, value) }
            }
            out[r] = Float(best)
            if let logProbs { logProbs[r] = z[best] - logSumExp(z, n) }
        }
    }

    /// log Σ exp(z), stably.
    @inline(__always)
    static func logSumExp(_ z: UnsafePointer<Float>, _ n: Int) -> Float {
        var m = -Float.infinity
        for j in 0..<n { m = Swift.max(m, z[j]) }
        var s: Float = 0
        for j in 0..<n { s += expf(z[j] - m) }
        return m + logf(s)
    }

    /// Gaussian actions mean + exp(logStd)·ε, ε = normal(key) element-wise
    /// (rows × size); the mean when deterministic. Unclipped.
    static func gaussian(rows: Int, size: Int, means: UnsafePointer<Float>, logStd: UnsafePointer<Float>,
                         into out: UnsafeMutablePointer<Float>, logProbs: UnsafeMutablePointer<Float>?,
                         deterministic: Bool, sample: (Int, Int) -> (PRNGKey, Int)) {
        for r in 0..<rows {
            var logp: Float = 0
            for j in 0..<size {
                let i = r * size + j
                if deterministic {
                    out[i] = means[i]
                } else {
                    let (key, index) = sample(r, j)
                    let eps = key.normal(at: index)
                    out[i] = means[i] + expf(logStd[j]) * eps
                }
                let z = (out[i] - means[i]) / expf(logStd[j])
                logp += -0.5 * z * z - logStd[j] - halfLogTwoPi
            }
            logProbs?[r] = logp
        }
    }

    /// loc + scale · tanh(y) per element (rows × box size), rejax's
    /// `DeterministicPolicy` output: the box's centre and half-width.
    static func squash(rows: Int, _ y: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, box: BoxSpace) {
        let size = box.size
        for r in 0..<rows {
            for j in 0..<size {
                let loc = (box.high[j] + box.low[j]) / 2, scale = (box.high[j] - box.low[j]) / 2
                out[r * size + j] = loc + tanhf(y[r * size + j]) * scale
            }
        }
    }

    /// Exploration as rejax's DDPG and TD3: clip(a + noise · ε, low, high),
    /// ε = normal(key, rows × size) element-wise, in place.
    static func explore(rows: Int, _ a: UnsafeMutablePointer<Float>, noise: Float, key: PRNGKey, box: BoxSpace) {
        let size = box.size
        for i in 0..<(rows * size) {
            let j = i % size
            a[i] = Swift.min(Swift.max(a[i] + noise * key.normal(at: i), box.low[j]), box.high[j])
        }
    }

    /// d/dy of loc + scale · tanh(y) applied to dL/da: writes dL/dy in place
    /// of `gradient`, given the squashed actions `a` (rows × box size).
    static func squashGradient(rows: Int, actions a: UnsafePointer<Float>, _ gradient: UnsafeMutablePointer<Float>,
                               box: BoxSpace) {
        let size = box.size
        for r in 0..<rows {
            for j in 0..<size {
                let loc = (box.high[j] + box.low[j]) / 2, scale = (box.high[j] - box.low[j]) / 2
                let t = scale > 0 ? (a[r * size + j] - loc) / scale : 0
                gradient[r * size + j] *= scale * (1 - t * t)
            }
        }
    }

    /// rejax's `SquashedGaussianPolicy` actions from outputs [mean (d), log
    /// std (d)] per row: loc + scale · tanh(mean + exp(clip(log std, −10, 2))
    /// · ε), ε = normal; the mean instead of the sample when deterministic.
    static func squashedGaussian(rows: Int, outputs: UnsafePointer<Float>, box: BoxSpace,
                                 into out: UnsafeMutablePointer<Float>, deterministic: Bool,
                                 sample: (Int, Int) -> (PRNGKey, Int)) {
        let d = box.size
        for r in 0..<rows {
            for j in 0..<d {
                var u = outputs[r * 2 * d + j]
                if !deterministic {
                    let logStd = Swift.min(Swift.max(outputs[r * 2 * d + d + j], SAC.logStdRange.lowerBound),
                                           SAC.logStdRange.upperBound)
                    let (key, index) = sample(r, j)
                    u += expf(logStd) * key.normal(at: index)
                }
                let loc = (box.high[j] + box.low[j]) / 2, scale = (box.high[j] - box.low[j]) / 2
                out[r * d + j] = loc + tanhf(u) * scale
            }
        }
    }

    /// ε-greedy actions over `values` (row r's n values at r · stride): with
    /// probability ε a uniform action, else the argmax (first on ties).
    /// Random numbers: elements 0 and 1 of row r's stream.
    static func epsilonGreedy(rows: Int, actions n: Int, values: UnsafePointer<Float>, stride: Int, epsilon: Float,
                              into out: UnsafeMutablePointer<Float>, sample: (Int, Int) -> (PRNGKey, Int)) {
        for r in 0..<rows {
            if epsilon > 0 {
                let (key, index) = sample(r, 0)
                if key.uniform(at: index) < epsilon {
                    let (k2, i2) = sample(r, 1)
                    out[r] = Float(Swift.min(Int(k2.uniform(at: i2) * Float(n)), n - 1))
                    continue
                }
            }
            let q = values + r * stride
            var best = 0
            for j in 1..<Swift.max(n, 1) where q[j] > q[best] { best = j }
            out[r] = Float(best)
        }
    }

    /// Clips actions (rows × box size) into the box.
    static func clip(rows: Int, _ a: UnsafeMutablePointer<Float>, low: [Float], high: [Float]) {
        let size = low.count
        for r in 0..<rows {
            for j in 0..<size { a[r * size + j] = Swift.min(Swift.max(a[r * size + j], low[j]), high[j]) }
        }
    }
}
