/// Upper bounds on sizes that have no natural one, checked before anything is
/// allocated, so that an absurd number in a file, a config or an argument is
/// an error naming it instead of an arithmetic trap or an allocation that
/// aborts the process. The library's interfaces publish the same values (a
/// test checks that they agree); errors quote them. Every bound is far above
/// what the paper's configs and checkpoints use.
public enum Limits {
    /// Environments per vector environment (`VectorEnvironment`), `num_envs`
    /// of a training run, and the episodes of one evaluation: 2^20.
    public static let environments = 1 << 20
    /// Transitions per batch: `buffer_size`, `batch_size`, `num_steps`, and
    /// PPO's rollout `num_envs * num_steps`: 2^24.
    public static let batch = 1 << 24
    /// Floats a training run's rollout or replay buffer may hold (2^30, 4 GiB).
    public static let bufferFloats = 1 << 30
    /// Width of a network layer (hidden sizes, checkpoint features and
    /// latent sizes, policy files): 2^16.
    public static let layerWidth = 1 << 16
    /// Layers of a network: 64.
    public static let layers = 64
    /// Parameters of one network (weights and biases): 2^26.
    public static let networkParameters = 1 << 26
    /// Bytes of a checkpoint or policy file (safetensors): 2^30 (1 GiB).
    public static let fileBytes = 1 << 30
    /// Bytes of a safetensors JSON header: 2^24 (16 MiB).
    public static let headerBytes = 1 << 24
    /// Bytes of a YAML config: 2^20 (1 MiB).
    public static let configBytes = 1 << 20
    /// Nesting depth of a YAML config (mappings and lists): 64.
    public static let configDepth = 64
    /// Values of a config once aliases are expanded: 2^20.
    public static let configNodes = 1 << 20
    /// Bytes of a meta-training state (state.json): 2^30 (1 GiB).
    public static let stateBytes = 1 << 30
    /// Population of an evolution strategy: 2^16.
    public static let population = 1 << 16
    /// Inner-loop runs per member (num_rollouts, num_rollouts_mean): 2^16.
    public static let rollouts = 1 << 16
    /// Bytes of a task's encoded outcome.
    public static let outcomeBytes = 4096
    /// Every other integer of a config or a hyperparameter (generations,
    /// total_timesteps, ...): 2^31 - 1 for counts reported as int32,
    /// 10^15 for step counts.
    public static let int32 = Int(Int32.max)

    /// `a * b`, or nil when it overflows.
    @inlinable
    public static func product(_ a: Int, _ b: Int) -> Int? {
        let (p, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? nil : p
    }

    /// The product of `factors`, or nil when it overflows.
    @inlinable
    public static func product(_ factors: [Int]) -> Int? {
        var p = 1
        for f in factors {
            guard let q = product(p, f) else { return nil }
            p = q
        }
        return p
    }

    /// `a + b`, or nil when it overflows.
    @inlinable
    public static func sum(_ a: Int, _ b: Int) -> Int? {
        let (s, overflow) = a.addingReportingOverflow(b)
        return overflow ? nil : s
    }

    /// Parameters of a dense network with layer sizes `sizes` (input,
    /// hidden..., output), or nil when it overflows.
    public static func parameterCount(_ sizes: [Int]) -> Int? {
        var total = 0
        for (n, m) in zip(sizes, sizes.dropFirst()) {
            guard let w = product(n, m), let wb = sum(w, m), let t = sum(total, wb) else { return nil }
            total = t
        }
        return total
    }

    /// Why a network with layer sizes `sizes` exceeds the bounds, or nil.
    public static func networkProblem(_ sizes: [Int]) -> String? {
        if sizes.count - 1 > layers { return "\(sizes.count - 1) layers exceed the bound of \(layers)" }
        if let w = sizes.first(where: { $0 > layerWidth }) {
            return "a layer of width \(w) exceeds the bound of \(layerWidth) (2^16)"
        }
        guard let count = parameterCount(sizes), count <= networkParameters else {
            return "layer sizes \(sizes) give more than \(networkParameters) (2^26) parameters"
        }
        return nil
    }

    /// A number that fits float32 (finite after rounding to float32).
    @inlinable
    public static func fitsFloat32(_ x: Double) -> Bool { Float(x).isFinite }
}
