#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// evosax's `FitnessShaper`: how raw fitness becomes the numbers a strategy
/// updates with. Strategies minimise the shaped fitness, so `maximize`
/// negates it first; then an optional L2 penalty (`w_decay` times the mean
/// square of each member's parameters) is added, then at most one transform.
public struct FitnessShaping: Sendable, Codable, Equatable {
    /// The one transform applied after the sign and the weight decay.
    public enum Transform: String, Sendable, Codable, CaseIterable {
        /// The fitness as it is.
        case raw
        /// Ranks scaled to [-0.5, 0.5] (best = lowest = -0.5).
        case centeredRank = "centered_rank"
        /// (f - mean) / (std + 1e-10).
        case zScore = "z_score"
        /// Mapped linearly onto [-1, 1].
        case normRange = "norm_range"
    }

    public var transform: Transform
    /// `w_decay`: weight of the L2 penalty, >= 0.
    public var weightDecay: Float
    /// Larger fitness is better (upstream's meta-training: the return).
    public var maximize: Bool

    public init(transform: Transform = .raw, weightDecay: Float = 0, maximize: Bool = false) {
        (self.transform, self.weightDecay, self.maximize) = (transform, weightDecay, maximize)
    }

    func validate() throws {
        try OptionCheck.require(weightDecay.isFinite && weightDecay >= 0, "w_decay", "must be >= 0, got \(weightDecay)")
    }

    /// The shaped fitness of `population` (evosax `FitnessShaper.apply`), in float32.
    public func apply(population: Population, fitness: [Float]) -> [Float] {
        var f = maximize ? fitness.map { -$0 } : fitness
        if weightDecay > 0 {
            let d = population.dimensions
            for i in 0..<population.size {
                var sum: Float = 0
                for j in 0..<d { let x = population.values[i * d + j]; sum += x * x }
                f[i] = f[i] + weightDecay * (sum / Float(d))
            }
        }
        switch transform {
        case .raw: return f
        case .centeredRank: return Self.centeredRanks(f)
        case .zScore: return Self.zScore(f)
        case .normRange: return Self.rangeNorm(f)
        }
    }

    /// `centered_rank_trafo`: rank / (n - 1) - 0.5, ranks by stable ascending sort.
    static func centeredRanks(_ f: [Float]) -> [Float] {
        var ranks = [Float](repeating: 0, count: f.count)
        for (rank, i) in stableArgsort(f).enumerated() { ranks[i] = Float(rank) }
        // XLA: rank · (1 / (n - 1)) - 0.5 as one fused multiply-add.
        let scale = 1 / Float(f.count - 1)
        return ranks.map { Float(-0.5).addingProduct($0, scale) }
    }

    /// `z_score_trafo`: (f - mean) / (std + 1e-10), population std (ddof 0).
    static func zScore(_ f: [Float]) -> [Float] {
        let n = Float(f.count)
        let mean = f.reduce(0, +) / n
        let variance = f.reduce(Float(0)) { $0 + ($1 - mean) * ($1 - mean) } / n
        let std = variance.squareRoot() + 1e-10
        return f.map { ($0 - mean) / std }
    }

    /// `range_norm_trafo` onto [-1, 1] after clipping to ±1e10.
    static func rangeNorm(_ f: [Float]) -> [Float] {
        let c = f.map { Swift.min(Swift.max($0, -1e10), 1e10) }
        let lo = c.min()!, hi = c.max()!
        let denominator = hi - lo + 1e-10
        return c.map { 2 * ($0 - lo) / denominator + -1 }
    }
}
