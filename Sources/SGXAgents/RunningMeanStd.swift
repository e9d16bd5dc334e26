/// rejax's `RMSState` / `update_rms`: running mean and variance of
/// observations (Chan et al.'s parallel update), starting at mean 0,
/// variance 1, count 1e-4; observations are normalised as
/// (x − mean) / √(var + 1e-8).
public struct RunningMeanStd: Sendable, Equatable {
    public var mean: [Float]
    public var variance: [Float]
    public var count: Float = 1e-4

    public init(size: Int) {
        mean = [Float](repeating: 0, count: size)
        variance = [Float](repeating: 1, count: size)
    }

    public init(mean: [Float], variance: [Float], count: Float) {
        (self.mean, self.variance, self.count) = (mean, variance, count)
    }

    /// Adds a batch of `rows` vectors (`rows × mean.count`).
    public mutating func update(rows: Int, _ x: UnsafePointer<Float>) {
        let size = mean.count, n = Float(rows)
        let total = count + n
        for j in 0..<size {
            var s: Float = 0
            for r in 0..<rows { s += x[r * size + j] }
            let batchMean = s / n
            var sq: Float = 0
            for r in 0..<rows { let d = x[r * size + j] - batchMean; sq += d * d }
            let batchVar = sq / n
            let delta = batchMean - mean[j]
            let m2 = variance[j] * count + batchVar * n + delta * delta * count * n / total
            mean[j] += delta * n / total
            variance[j] = m2 / total
        }
        count = total
    }

    /// Normalises `rows` vectors in place.
    public func normalize(rows: Int, _ x: UnsafeMutablePointer<Float>) {
        let size = mean.count
        for j in 0..<size {
            let m = mean[j], scale = 1 / (variance[j] + 1e-8).squareRoot()
            for r in 0..<rows { x[r * size + j] = (x[r * size + j] - m) * scale }
        }
    }
}
