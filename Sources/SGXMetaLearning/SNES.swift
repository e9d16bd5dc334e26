import SGXSupport
import SGXRandom

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Separable natural evolution strategy (Wierstra et al. 2014, JMLR 15) as
/// evosax 0.1.6's `SNES`: the strategy behind every published
/// synthetic-environment checkpoint.
///
/// A diagonal Gaussian N(mean, sigma²) is sampled, members are ranked by
/// shaped fitness (ascending: evosax minimises), and rank weights
/// (`max(0, log(n/2 + 1) - log(rank))`, normalised, minus 1/n; or DES's
/// softmax weights when `temperature > 0`) give natural-gradient steps:
/// `mean += lrate_mean · sigma · Σ w s`, `sigma *= exp(lrate_sigma / 2 · Σ w (s² - 1))`,
/// with s the standardised noise of each member.
public struct SNES: EvolutionStrategy {
    /// evosax's `SNES(...)` keywords and `EvoParams`, with its defaults.
    public struct Options: Sendable, Codable, Equatable {
        public var popsize: Int
        public var numDims: Int
        /// Initial standard deviation of every dimension (evosax default 1.0).
        public var sigmaInit: Float = 1
        /// 0: SNES rank weights; > 0: DES weights of that temperature (evosax: "good values 12–20").
        public var temperature: Float = 0
        public var lrateMean: Float = 1
        /// nil: evosax's default (3 + ln d) / (5 √d).
        public var lrateSigma: Float? = nil
        /// The mean is multiplied by (1 - meanDecay) after every tell (evosax `mean_decay`).
        public var meanDecay: Double = 0
        /// The initial mean is uniform in [initMin, initMax] (evosax default: zeros).
        public var initMin: Float = 0
        public var initMax: Float = 0
        /// Candidates are clipped to [clipMin, clipMax] (evosax default: float32's range).
        public var clipMin: Float = -.greatestFiniteMagnitude
        public var clipMax: Float = .greatestFiniteMagnitude
        public var fitnessShaping = FitnessShaping()

        public init(popsize: Int, numDims: Int, sigmaInit: Float = 1, temperature: Float = 0,
                    fitnessShaping: FitnessShaping = FitnessShaping()) {
            (self.popsize, self.numDims, self.sigmaInit, self.temperature, self.fitnessShaping)
                = (popsize, numDims, sigmaInit, temperature, fitnessShaping)
        }

        /// evosax constructor keywords, as a config's `strategy_params` writes them:
        /// popsize, sigma_init, temperature, mean_decay, centered_rank, z_score,
        /// norm_range, fitness_trafo, w_decay; and, beyond evosax's constructor,
        /// its `EvoParams` lrate_mean, lrate_sigma, init_min, init_max, clip_min, clip_max.
        public init(numDims: Int, keywords: [String: ConfigScalar], maximize: Bool) throws {
            var k = StrategyKeywords(keywords, strategy: "SNES")
            guard let popsize = try k.int("popsize") else {
                throw EvolutionStrategyError.invalidOption(name: "strategy_params.popsize", reason: "is required")
            }
            self.init(popsize: popsize, numDims: numDims)
            sigmaInit = try k.float("sigma_init") ?? sigmaInit
            temperature = try k.float("temperature") ?? temperature
            meanDecay = try k.double("mean_decay") ?? meanDecay
            lrateMean = try k.float("lrate_mean") ?? lrateMean
            lrateSigma = try k.float("lrate_sigma")
            initMin = try k.float("init_min") ?? initMin
            initMax = try k.float("init_max") ?? initMax
            clipMin = try k.float("clip_min") ?? clipMin
            clipMax = try k.float("clip_max") ?? clipMax
            fitnessShaping = try k.fitnessShaping(maximize: maximize)
            _ = try k.int("n_devices")  // evosax's device count: meaningless here, accepted
            try k.rejectUnknown(known: Self.keywordNames)
            try validate()
        }

        /// The keywords `init(numDims:keywords:maximize:)` accepts.
        public static let keywordNames = [
            "popsize", "sigma_init", "temperature", "mean_decay", "lrate_mean", "lrate_sigma", "init_min",
            "init_max", "clip_min", "clip_max", "centered_rank", "z_score", "norm_range", "fitness_trafo",
            "w_decay", "n_devices",
        ]

        /// evosax's default learning rate of sigma for `numDims` dimensions.
        public var defaultLrateSigma: Float {
            let d = Float(numDims)
            return (3 + logf(d)) / (5 * d.squareRoot())
        }

        /// The learning rate of sigma in use.
        public var effectiveLrateSigma: Float { lrateSigma ?? defaultLrateSigma }

        /// Throws for the first option out of range, naming it.
        public func validate() throws {
            try OptionCheck.require(popsize >= 2, "popsize", "must be at least 2, got \(popsize)")
            try OptionCheck.require(popsize <= Limits.population, "popsize",
                                    "must be at most \(Limits.population) (SGX_MAX_POPULATION), got \(popsize)")
            try OptionCheck.require(numDims <= Limits.bufferFloats / popsize, "popsize",
                                    "\(popsize) members of \(numDims) parameters exceed the bound of \(Limits.bufferFloats) floats (SGX_MAX_BUFFER_FLOATS)")
            try OptionCheck.require(numDims >= 1, "num_dims", "must be at least 1, got \(numDims)")
            try OptionCheck.require(sigmaInit.isFinite && sigmaInit > 0, "sigma_init", "must be positive, got \(sigmaInit)")
            try OptionCheck.require(temperature.isFinite && temperature >= 0, "temperature", "must be >= 0, got \(temperature)")
            try OptionCheck.require(lrateMean.isFinite && lrateMean > 0, "lrate_mean", "must be positive, got \(lrateMean)")
            if let l = lrateSigma {
                try OptionCheck.require(l.isFinite && l >= 0, "lrate_sigma", "must be >= 0, got \(l)")
            }
            try OptionCheck.require(meanDecay.isFinite && meanDecay >= 0 && meanDecay < 1, "mean_decay",
                                    "must be in [0, 1), got \(meanDecay)")
            try OptionCheck.finite(initMin, "init_min")
            try OptionCheck.finite(initMax, "init_max")
            try OptionCheck.require(initMin <= initMax, "init_min", "must not exceed init_max")
            try OptionCheck.require(!clipMin.isNaN && !clipMax.isNaN && clipMin <= clipMax, "clip_min",
                                    "must not exceed clip_max")
            try fitnessShaping.validate()
        }
    }

    /// evosax's `EvoState` for SNES.
    public struct State: Sendable, Codable, Equatable {
        public var mean: [Float]
        public var sigma: [Float]
        /// Recombination weights by rank (best first).
        public var weights: [Float]
        public var bestMember: [Float]
        public var bestFitness: Float
        public var generation: Int
    }

    public let options: Options
    public private(set) var state: State

    /// evosax `initialize(key)`: mean uniform in [init_min, init_max] (zeros
    /// by default) drawn with `key`, sigma = sigma_init, the rank weights.
    public init(options: Options, key: PRNGKey) throws {
        try options.validate()
        let mean = initialMean(key: key, count: options.numDims, minval: options.initMin, maxval: options.initMax)
        self.options = options
        self.state = State(
            mean: mean, sigma: [Float](repeating: options.sigmaInit, count: options.numDims),
            weights: options.temperature > 0 ? Self.desWeights(options.popsize, temperature: options.temperature)
                                             : Self.snesWeights(options.popsize),
            bestMember: mean, bestFitness: .greatestFiniteMagnitude, generation: 0)
    }

    /// A strategy from saved options and state (checked against each other).
    public init(options: Options, state: State) throws {
        try options.validate()
        try OptionCheck.vector(state.mean, "mean", count: options.numDims)
        try OptionCheck.vector(state.sigma, "sigma", count: options.numDims)
        try OptionCheck.vector(state.weights, "weights", count: options.popsize)
        try OptionCheck.vector(state.bestMember, "best_member", count: options.numDims)
        try OptionCheck.require(state.generation >= 0, "generation", "must be >= 0")
        if let i = state.sigma.firstIndex(where: { $0 <= 0 }) {
            throw EvolutionStrategyError.invalidOption(name: "sigma[\(i)]", reason: "must be positive")
        }
        (self.options, self.state) = (options, state)
    }

    private enum CodingKeys: String, CodingKey { case options, state }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(options: try c.decode(Options.self, forKey: .options),
                      state: try c.decode(State.self, forKey: .state))
    }

    public var popsize: Int { options.popsize }
    public var numDims: Int { options.numDims }
    public var mean: [Float] { state.mean }
    public var sigma: [Float] { state.sigma }
    public var bestMember: [Float] { state.bestMember }
    public var bestFitness: Float { state.bestFitness }
    public var generation: Int { state.generation }

    /// `get_snes_weights(popsize)`: max(0, ln(n/2 + 1) - ln i) for ranks
    /// i = 1...n, normalised to sum 1, minus the baseline 1/n.
    public static func snesWeights(_ popsize: Int) -> [Float] {
        let top = logf(Float(Double(popsize) / 2 + 1))
        let raw = (1...popsize).map { Swift.max(0, top - logf(Float($0))) }
        let sum = raw.reduce(0, +)
        let baseline = Float(1 / Double(popsize))
        return raw.map { $0 / sum - baseline }
    }

    /// `get_des_weights(popsize, temperature)`: softmax(-20 · sigmoid(T · r))
    /// over centred ranks r = i / (n - 1) - 0.5.
    public static func desWeights(_ popsize: Int, temperature: Float) -> [Float] {
        let scale = Float(popsize - 1)
        let logits = (0..<popsize).map { i -> Float in
            let r = Float(i) / scale - 0.5
            return -20 * (1 / (1 + expf(-(temperature * r))))
        }
        let top = logits.max()!
        let e = logits.map { expf($0 - top) }
        let sum = e.reduce(0, +)
        return e.map { $0 / sum }
    }

    /// evosax `ask`: mean + sigma · N(0, 1) with
    /// `jax.random.normal(key, (popsize, num_dims))`, clipped. Written as XLA
    /// computes it, fma(√2 · sigma, erf_inv(u), mean), so members equal
    /// evosax's to the last bit whenever the normal draws do.
    public func ask(key: PRNGKey) -> Population {
        let (p, d) = (options.popsize, options.numDims)
        var values = [Float](repeating: 0, count: p * d)
        values.withUnsafeMutableBufferPointer { key.normalUnits(count: p * d, into: $0.baseAddress!) }
        let scaled = state.sigma.map { Float(2).squareRoot() * $0 }
        for i in 0..<p {
            for j in 0..<d {
                let x = state.mean[j].addingProduct(scaled[j], values[i * d + j])
                values[i * d + j] = Swift.min(Swift.max(x, options.clipMin), options.clipMax)
            }
        }
        return Population(unchecked: p, d, values)
    }

    /// evosax `tell`: shapes the fitness, updates mean and sigma from the
    /// ranked standardised noise of `population`, tracks the best member
    /// (by raw fitness), applies the mean decay and counts the generation.
    /// Throws, changing nothing, for a population of the wrong shape, a
    /// fitness of the wrong length, or non-finite values.
    public mutating func tell(_ population: Population, fitness: [Float]) throws {
        let (p, d) = (options.popsize, options.numDims)
        try checkTellInputs(population, fitness, popsize: p, numDims: d)
        let shaped = options.fitnessShaping.apply(population: population, fitness: fitness)
        let order = stableArgsort(shaped)
        // As XLA: the division by sigma becomes a multiplication by its
        // reciprocal, and each weighted term is fused into the running sum.
        let inverseSigma = state.sigma.map { 1 / $0 }
        var gradMean = [Float](repeating: 0, count: d)
        var gradSigma = [Float](repeating: 0, count: d)
        for (rank, i) in order.enumerated() {
            let w = state.weights[rank]
            for j in 0..<d {
                let s = (population.values[i * d + j] - state.mean[j]) * inverseSigma[j]
                gradMean[j] = gradMean[j].addingProduct(w, s)
                gradSigma[j] = gradSigma[j].addingProduct(w, s * s - 1)
            }
        }
        let lrateSigma = options.effectiveLrateSigma
        var next = state
        for j in 0..<d {
            next.mean[j] = state.mean[j].addingProduct(options.lrateMean * state.sigma[j], gradMean[j])
            next.sigma[j] = state.sigma[j] * expf(lrateSigma / 2 * gradSigma[j])
        }
        updateBest(population: population, fitness: fitness, maximize: options.fitnessShaping.maximize,
                   generation: state.generation, bestMember: &next.bestMember, bestFitness: &next.bestFitness)
        if options.meanDecay > 0 {
            let keep = Float(1 - options.meanDecay)
            next.mean = next.mean.map { keep * $0 }
        }
        next.generation += 1
        state = next
    }

    /// evosax `set_mean`: the search starts from `mean` (upstream: the
    /// synthetic environment's network initialisation).
    public mutating func setMean(_ mean: [Float]) throws {
        try OptionCheck.vector(mean, "mean", count: options.numDims)
        state.mean = mean
    }
}
