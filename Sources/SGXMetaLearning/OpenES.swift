import SGXSupport
import SGXRandom

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// OpenAI's evolution strategy (Salimans et al. 2017, arXiv 1703.03864) as
/// evosax 0.1.6's `OpenES`: an isotropic-per-dimension Gaussian around the
/// mean, optionally antithetic (each noise vector and its negation), whose
/// gradient estimate `1 / (n · sigma) · noiseᵀ · shaped fitness` is descended
/// by a gradient optimiser (Adam by default) with exponentially decaying
/// learning rate and sigma, each floored at its limit.
public struct OpenES: EvolutionStrategy {
    /// evosax's gradient optimisers (`evosax.core.optimizer`).
    public enum Optimizer: String, Sendable, Codable, CaseIterable {
        case sgd, adam, rmsprop, clipup, adan
    }

    /// evosax's `OpenES(...)` keywords and `OptParams`, with its defaults.
    public struct Options: Sendable, Codable, Equatable {
        public var popsize: Int
        public var numDims: Int
        /// Half the members are the negated noise of the other half (evosax default on).
        public var antitheticSampling = true
        public var optimizer = Optimizer.adam
        public var lrateInit: Float = 0.05
        public var lrateDecay: Float = 1
        public var lrateLimit: Float = 0.001
        public var sigmaInit: Float = 0.03
        public var sigmaDecay: Float = 1
        public var sigmaLimit: Float = 0.01
        /// The mean is multiplied by (1 - meanDecay) after every tell.
        public var meanDecay: Double = 0
        /// Optimiser constants (Python floats in evosax: `1 - beta_1` is
        /// computed in double before it meets float32); nil means the optimiser's evosax default
        /// (Adam β₁ 0.99, β₂ 0.999, ε 1e-8; SGD momentum 0; RMSProp momentum
        /// 0.9, β₁ 0.99, ε 1e-8; ClipUp momentum 0.9, max speed 0.3; Adan β
        /// 0.98, 0.92, 0.99, ε 1e-8).
        public var momentum: Double? = nil
        public var beta1: Double? = nil
        public var beta2: Double? = nil
        public var beta3: Double? = nil
        public var eps: Double? = nil
        public var maxSpeed: Double? = nil
        public var initMin: Float = 0
        public var initMax: Float = 0
        public var clipMin: Float = -.greatestFiniteMagnitude
        public var clipMax: Float = .greatestFiniteMagnitude
        public var fitnessShaping = FitnessShaping()

        public init(popsize: Int, numDims: Int, sigmaInit: Float = 0.03, optimizer: Optimizer = .adam,
                    antitheticSampling: Bool = true, fitnessShaping: FitnessShaping = FitnessShaping()) {
            (self.popsize, self.numDims, self.sigmaInit, self.optimizer, self.antitheticSampling,
             self.fitnessShaping) = (popsize, numDims, sigmaInit, optimizer, antitheticSampling, fitnessShaping)
        }

        /// evosax constructor keywords (`strategy_params`): popsize,
        /// use_antithetic_sampling, opt_name, lrate_init, lrate_decay,
        /// lrate_limit, sigma_init, sigma_decay, sigma_limit, mean_decay and
        /// the fitness-shaping keywords; beyond the constructor, the
        /// optimiser's momentum, beta_1, beta_2, beta_3, eps, max_speed and
        /// init_min, init_max, clip_min, clip_max.
        public init(numDims: Int, keywords: [String: ConfigScalar], maximize: Bool) throws {
            var k = StrategyKeywords(keywords, strategy: "OpenES")
            guard let popsize = try k.int("popsize") else {
                throw EvolutionStrategyError.invalidOption(name: "strategy_params.popsize", reason: "is required")
            }
            self.init(popsize: popsize, numDims: numDims)
            antitheticSampling = try k.bool("use_antithetic_sampling") ?? antitheticSampling
            if let name = try k.string("opt_name") {
                guard let o = Optimizer(rawValue: name) else {
                    throw EvolutionStrategyError.invalidOption(
                        name: "strategy_params.opt_name",
                        reason: "'\(name)' is not one of \(Optimizer.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                optimizer = o
            }
            lrateInit = try k.float("lrate_init") ?? lrateInit
            lrateDecay = try k.float("lrate_decay") ?? lrateDecay
            lrateLimit = try k.float("lrate_limit") ?? lrateLimit
            sigmaInit = try k.float("sigma_init") ?? sigmaInit
            sigmaDecay = try k.float("sigma_decay") ?? sigmaDecay
            sigmaLimit = try k.float("sigma_limit") ?? sigmaLimit
            meanDecay = try k.double("mean_decay") ?? meanDecay
            momentum = try k.double("momentum")
            beta1 = try k.double("beta_1")
            beta2 = try k.double("beta_2")
            beta3 = try k.double("beta_3")
            eps = try k.double("eps")
            maxSpeed = try k.double("max_speed")
            initMin = try k.float("init_min") ?? initMin
            initMax = try k.float("init_max") ?? initMax
            clipMin = try k.float("clip_min") ?? clipMin
            clipMax = try k.float("clip_max") ?? clipMax
            fitnessShaping = try k.fitnessShaping(maximize: maximize)
            _ = try k.int("n_devices")
            try k.rejectUnknown(known: Self.keywordNames)
            try validate()
        }

        /// The keywords `init(numDims:keywords:maximize:)` accepts.
        public static let keywordNames = [
            "popsize", "use_antithetic_sampling", "opt_name", "lrate_init", "lrate_decay", "lrate_limit",
            "sigma_init", "sigma_decay", "sigma_limit", "mean_decay", "momentum", "beta_1", "beta_2", "beta_3",
            "eps", "max_speed", "init_min", "init_max", "clip_min", "clip_max", "centered_rank", "z_score",
            "norm_range", "fitness_trafo", "w_decay", "n_devices",
        ]

        /// The optimiser constants in use (the options or evosax's defaults).
        var constants: (momentum: Double, beta1: Double, beta2: Double, beta3: Double, eps: Double, maxSpeed: Double) {
            switch optimizer {
            case .sgd: return (momentum ?? 0, beta1 ?? 0, beta2 ?? 0, beta3 ?? 0, eps ?? 0, maxSpeed ?? 0)
            case .adam: return (momentum ?? 0, beta1 ?? 0.99, beta2 ?? 0.999, beta3 ?? 0, eps ?? 1e-8, maxSpeed ?? 0)
            case .rmsprop: return (momentum ?? 0.9, beta1 ?? 0.99, beta2 ?? 0, beta3 ?? 0, eps ?? 1e-8, maxSpeed ?? 0)
            case .clipup: return (momentum ?? 0.9, beta1 ?? 0, beta2 ?? 0, beta3 ?? 0, eps ?? 0, maxSpeed ?? 0.3)
            case .adan: return (momentum ?? 0, beta1 ?? 0.98, beta2 ?? 0.92, beta3 ?? 0.99, eps ?? 1e-8, maxSpeed ?? 0)
            }
        }

        /// Throws for the first option out of range, naming it.
        public func validate() throws {
            try OptionCheck.require(popsize >= 2, "popsize", "must be at least 2, got \(popsize)")
            try OptionCheck.require(popsize <= Limits.population, "popsize",
                                    "must be at most \(Limits.population) (SGX_MAX_POPULATION), got \(popsize)")
            try OptionCheck.require(numDims <= Limits.bufferFloats / popsize, "popsize",
                                    "\(popsize) members of \(numDims) parameters exceed the bound of \(Limits.bufferFloats) floats (SGX_MAX_BUFFER_FLOATS)")
            try OptionCheck.require(!antitheticSampling || popsize % 2 == 0, "popsize",
                                    "must be even with antithetic sampling, got \(popsize)")
            try OptionCheck.require(numDims >= 1, "num_dims", "must be at least 1, got \(numDims)")
            try OptionCheck.require(sigmaInit.isFinite && sigmaInit > 0, "sigma_init", "must be positive, got \(sigmaInit)")
            try OptionCheck.require(sigmaDecay.isFinite && sigmaDecay > 0, "sigma_decay", "must be positive, got \(sigmaDecay)")
            try OptionCheck.require(sigmaLimit.isFinite && sigmaLimit >= 0, "sigma_limit", "must be >= 0, got \(sigmaLimit)")
            try OptionCheck.require(lrateInit.isFinite && lrateInit > 0, "lrate_init", "must be positive, got \(lrateInit)")
            try OptionCheck.require(lrateDecay.isFinite && lrateDecay > 0, "lrate_decay", "must be positive, got \(lrateDecay)")
            try OptionCheck.require(lrateLimit.isFinite && lrateLimit >= 0, "lrate_limit", "must be >= 0, got \(lrateLimit)")
            try OptionCheck.require(meanDecay.isFinite && meanDecay >= 0 && meanDecay < 1, "mean_decay",
                                    "must be in [0, 1), got \(meanDecay)")
            let c = constants
            for (name, value) in [("momentum", c.momentum), ("beta_1", c.beta1), ("beta_2", c.beta2), ("beta_3", c.beta3)] {
                try OptionCheck.require(value.isFinite && value >= 0 && value < 1, name, "must be in [0, 1), got \(value)")
            }
            try OptionCheck.require(c.eps.isFinite && c.eps >= 0, "eps", "must be >= 0, got \(c.eps)")
            try OptionCheck.require(c.maxSpeed.isFinite && c.maxSpeed >= 0, "max_speed", "must be >= 0, got \(c.maxSpeed)")
            try OptionCheck.finite(initMin, "init_min")
            try OptionCheck.finite(initMax, "init_max")
            try OptionCheck.require(initMin <= initMax, "init_min", "must not exceed init_max")
            try OptionCheck.require(!clipMin.isNaN && !clipMax.isNaN && clipMin <= clipMax, "clip_min",
                                    "must not exceed clip_max")
            try fitnessShaping.validate()
        }
    }

    /// evosax's `EvoState` and `OptState` for OpenES.
    public struct State: Sendable, Codable, Equatable {
        public var mean: [Float]
        public var sigma: [Float]
        /// The optimiser's current learning rate.
        public var lrate: Float
        /// First and second moment traces (Adan: also `n` and the last gradient);
        /// empty where the optimiser has none.
        public var m: [Float]
        public var v: [Float]
        public var n: [Float]
        public var lastGradient: [Float]
        /// The optimiser's own step counter (bias correction).
        public var optimizerSteps: Int
        public var bestMember: [Float]
        public var bestFitness: Float
        public var generation: Int
    }

    public let options: Options
    public private(set) var state: State

    /// evosax `initialize(key)`: mean uniform in [init_min, init_max] (zeros
    /// by default) drawn with `key`, sigma = sigma_init, zero moments.
    public init(options: Options, key: PRNGKey) throws {
        try options.validate()
        let d = options.numDims
        let mean = initialMean(key: key, count: d, minval: options.initMin, maxval: options.initMax)
        let zeros = [Float](repeating: 0, count: d)
        let hasV = [.adam, .rmsprop, .adan].contains(options.optimizer)
        self.options = options
        self.state = State(mean: mean, sigma: [Float](repeating: options.sigmaInit, count: d),
                           lrate: options.lrateInit, m: zeros, v: hasV ? zeros : [],
                           n: options.optimizer == .adan ? zeros : [],
                           lastGradient: options.optimizer == .adan ? zeros : [], optimizerSteps: 0,
                           bestMember: mean, bestFitness: .greatestFiniteMagnitude, generation: 0)
    }

    /// A strategy from saved options and state (checked against each other).
    public init(options: Options, state: State) throws {
        try options.validate()
        let d = options.numDims
        try OptionCheck.vector(state.mean, "mean", count: d)
        try OptionCheck.vector(state.sigma, "sigma", count: d)
        try OptionCheck.vector(state.m, "m", count: d)
        let hasV = [.adam, .rmsprop, .adan].contains(options.optimizer)
        try OptionCheck.vector(state.v, "v", count: hasV ? d : 0)
        try OptionCheck.vector(state.n, "n", count: options.optimizer == .adan ? d : 0)
        try OptionCheck.vector(state.lastGradient, "last_grads", count: options.optimizer == .adan ? d : 0)
        try OptionCheck.vector(state.bestMember, "best_member", count: d)
        try OptionCheck.require(state.lrate.isFinite && state.lrate > 0, "lrate", "must be positive")
        try OptionCheck.require(state.generation >= 0 && state.optimizerSteps >= 0, "generation", "must be >= 0")
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

    /// evosax `ask`: mean + sigma · z, z = `jax.random.normal(key, (popsize, d))`,
    /// or with antithetic sampling z = [z₊; -z₊], z₊ = normal(key, (popsize/2, d));
    /// clipped. As XLA: the normal draw is rounded before the fused multiply-add.
    public func ask(key: PRNGKey) -> Population {
        let (p, d) = (options.popsize, options.numDims)
        let drawn = options.antitheticSampling ? p / 2 : p
        var z = [Float](repeating: 0, count: drawn * d)
        z.withUnsafeMutableBufferPointer { key.normalUnits(count: drawn * d, into: $0.baseAddress!) }
        let root2 = Float(2).squareRoot()
        for i in z.indices { z[i] = root2 * z[i] }
        var values = [Float](repeating: 0, count: p * d)
        for i in 0..<p {
            let row = i < drawn ? i : i - drawn
            let sign: Float = i < drawn ? 1 : -1
            for j in 0..<d {
                let x = state.mean[j].addingProduct(state.sigma[j], sign * z[row * d + j])
                values[i * d + j] = Swift.min(Swift.max(x, options.clipMin), options.clipMax)
            }
        }
        return Population(unchecked: p, d, values)
    }

    /// evosax `tell`: shapes the fitness, estimates the gradient from the
    /// noise of `population`, takes one optimiser step, decays learning rate
    /// and sigma, tracks the best member (by raw fitness), applies the mean
    /// decay and counts the generation. Throws, changing nothing, for a
    /// population of the wrong shape, a fitness of the wrong length, or
    /// non-finite values.
    public mutating func tell(_ population: Population, fitness: [Float]) throws {
        let (p, d) = (options.popsize, options.numDims)
        try checkTellInputs(population, fitness, popsize: p, numDims: d)
        let shaped = options.fitnessShaping.apply(population: population, fitness: fitness)
        // As XLA: noise = (x - mean) · (1 / sigma); the dot product
        // accumulates member by member with fused multiply-adds.
        let inverseSigma = state.sigma.map { 1 / $0 }
        var grad = [Float](repeating: 0, count: d)
        for i in 0..<p {
            for j in 0..<d {
                let noise = (population.values[i * d + j] - state.mean[j]) * inverseSigma[j]
                grad[j] = grad[j].addingProduct(noise, shaped[i])
            }
        }
        for j in 0..<d { grad[j] = (1 / (Float(p) * state.sigma[j])) * grad[j] }
        var next = state
        step(gradient: grad, state: &next)
        next.lrate = Swift.max(state.lrate * options.lrateDecay, options.lrateLimit)
        next.sigma = state.sigma.map { Swift.max($0 * options.sigmaDecay, options.sigmaLimit) }
        updateBest(population: population, fitness: fitness, maximize: options.fitnessShaping.maximize,
                   generation: state.generation, bestMember: &next.bestMember, bestFitness: &next.bestFitness)
        if options.meanDecay > 0 {
            let keep = Float(1 - options.meanDecay)
            next.mean = next.mean.map { keep * $0 }
        }
        next.generation += 1
        state = next
    }

    /// One step of the optimiser on the mean (evosax `Optimizer.step_opt`),
    /// in evosax's operation order, including its quirks: SGD moves by the
    /// previous momentum trace, ClipUp does not count its steps.
    private func step(gradient g: [Float], state s: inout State) {
        let c = options.constants
        let (momentum, beta1, beta2, beta3) = (Float(c.momentum), Float(c.beta1), Float(c.beta2), Float(c.beta3))
        let (eps, maxSpeed) = (Float(c.eps), Float(c.maxSpeed))
        let d = options.numDims
        let t = Float(s.optimizerSteps + 1)
        switch options.optimizer {
        case .sgd:
            for j in 0..<d {
                let m = g[j] + momentum * s.m[j]
                s.mean[j] = s.mean[j] - s.lrate * s.m[j]
                s.m[j] = m
            }
            s.optimizerSteps += 1
        case .adam:
            let (a1, a2) = (Float(1 - c.beta1), Float(1 - c.beta2))
            // XLA's order: the bias corrections as reciprocals, and one of
            // each moment's two products fused into the addition.
            let (r1, r2) = (1 / (1 - powf(beta1, t)), 1 / (1 - powf(beta2, t)))
            for j in 0..<d {
                let m = (s.m[j] * beta1).addingProduct(g[j], a1)
                let v = ((g[j] * g[j]) * a2).addingProduct(s.v[j], beta2)
                let mhat = m * r1, vhat = v * r2
                s.mean[j] = s.mean[j] - (s.lrate * mhat) / (vhat.squareRoot() + eps)
                (s.m[j], s.v[j]) = (m, v)
            }
            s.optimizerSteps += 1
        case .rmsprop:
            let a1 = Float(1 - c.beta1)
            for j in 0..<d {
                let v = a1 * (g[j] * g[j]) + beta1 * s.v[j]
                let m = momentum * s.m[j] + g[j] / (v.squareRoot() + eps)
                s.mean[j] = s.mean[j] - s.lrate * m
                (s.m[j], s.v[j]) = (m, v)
            }
            s.optimizerSteps += 1
        case .clipup:
            let norm = g.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
            var velocity = [Float](repeating: 0, count: d)
            for j in 0..<d { velocity[j] = momentum * s.m[j] + (g[j] / (norm + 1e-8)) * s.lrate }
            let speed = velocity.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
            if speed > maxSpeed {
                let scale = maxSpeed / (speed + 1e-8)
                for j in 0..<d { velocity[j] = velocity[j] * scale }
            }
            for j in 0..<d { s.mean[j] = s.mean[j] - s.lrate * velocity[j] }
            s.m = velocity
        case .adan:
            let (a1, a2, a3) = (Float(1 - c.beta1), Float(1 - c.beta2), Float(1 - c.beta3))
            let (c1, c2, c3) = (1 - powf(beta1, t), 1 - powf(beta2, t), 1 - powf(beta3, t))
            for j in 0..<d {
                let m = a1 * g[j] + beta1 * s.m[j]
                let diff = g[j] - s.lastGradient[j]
                let v = a2 * diff + beta2 * s.v[j]
                let u = g[j] + beta2 * diff
                let n = a3 * (u * u) + beta3 * s.n[j]
                let mhat = m / c1, vhat = v / c2, nhat = n / c3
                s.mean[j] = s.mean[j] - s.lrate * (mhat + beta2 * vhat) / (nhat.squareRoot() + eps)
                (s.m[j], s.v[j], s.n[j]) = (m, v, n)
            }
            s.lastGradient = g
            s.optimizerSteps += 1
        }
    }

    /// evosax `set_mean`.
    public mutating func setMean(_ mean: [Float]) throws {
        try OptionCheck.vector(mean, "mean", count: options.numDims)
        state.mean = mean
    }
}
