import SGXSupport
import SGXRandom

/// The buffers of one batched `reset`: `count` environments, one key (two
/// words) each; the outputs hold count observations, count states and count
/// times.
@frozen
public struct ResetBatch {
    public let count: Int
    public let keys: UnsafePointer<UInt32>
    public let observations: UnsafeMutablePointer<Float>
    public let states: UnsafeMutablePointer<Float>
    public let times: UnsafeMutablePointer<Int32>

    @inlinable
    public init(count: Int, keys: UnsafePointer<UInt32>, observations: UnsafeMutablePointer<Float>,
                states: UnsafeMutablePointer<Float>, times: UnsafeMutablePointer<Int32>) {
        (self.count, self.keys, self.observations, self.states, self.times) = (count, keys, observations, states, times)
    }

    @inlinable @inline(__always)
    public func key(_ i: Int) -> PRNGKey { PRNGKey(keys[2 * i], keys[2 * i + 1]) }
}

/// The buffers of one batched `step` with auto-reset, whatever the
/// environment: `count` environments, one key each; `actions` holds
/// `count * actionSpace.size` floats (already validated). The outputs may
/// alias `states` / `times`. The optional outputs are skipped when nil:
/// terminal flags, time-limit flags, and the observations before the reset.
@frozen
public struct StepBuffers {
    public let count: Int
    public let keys: UnsafePointer<UInt32>
    public let states: UnsafePointer<Float>
    public let times: UnsafePointer<Int32>
    public let actions: UnsafePointer<Float>
    public let observations: UnsafeMutablePointer<Float>
    public let nextStates: UnsafeMutablePointer<Float>
    public let nextTimes: UnsafeMutablePointer<Int32>
    public let rewards: UnsafeMutablePointer<Float>
    public let dones: UnsafeMutablePointer<UInt8>
    public let terminations: UnsafeMutablePointer<UInt8>?
    public let truncations: UnsafeMutablePointer<UInt8>?
    public let finalObservations: UnsafeMutablePointer<Float>?

    @inlinable
    public init(
        count: Int, keys: UnsafePointer<UInt32>, states: UnsafePointer<Float>,
        times: UnsafePointer<Int32>, actions: UnsafePointer<Float>,
        observations: UnsafeMutablePointer<Float>, nextStates: UnsafeMutablePointer<Float>,
        nextTimes: UnsafeMutablePointer<Int32>, rewards: UnsafeMutablePointer<Float>,
        dones: UnsafeMutablePointer<UInt8>, terminations: UnsafeMutablePointer<UInt8>? = nil,
        truncations: UnsafeMutablePointer<UInt8>? = nil, finalObservations: UnsafeMutablePointer<Float>? = nil
    ) {
        (self.count, self.keys, self.states, self.times, self.actions) = (count, keys, states, times, actions)
        (self.observations, self.nextStates, self.nextTimes) = (observations, nextStates, nextTimes)
        (self.rewards, self.dones, self.terminations, self.truncations, self.finalObservations) =
            (rewards, dones, terminations, truncations, finalObservations)
    }
}

/// A batched `step` of one environment type: the environment, the buffers
/// (`StepBuffers`, copied flat here for the hot loops) and what stepping
/// them needs, one environment at a time (`stepOne`, the reference) or a
/// tile of up to `Tile.size` at a time (`tiles(_:)`).
///
/// Vectorised steps follow one pattern: copy the tile's states into rows
/// (one array per state field), run the same scalar equations as `stepEnv`
/// in a loop over the rows, which the compiler turns into SIMD code because
/// the loop has neither calls nor branches (sinf/cosf come precomputed from
/// `sinCosf`, bit-identical to the C library), copy the rows out, and let
/// `finishTile` do the bookkeeping every environment shares: times, flags,
/// and the auto-reset of each environment whose episode ended.
@frozen
public struct StepBatch<Env: Environment> {
    public let env: Env
    public let count: Int
    public let keys: UnsafePointer<UInt32>
    public let states: UnsafePointer<Float>
    public let times: UnsafePointer<Int32>
    public let actions: UnsafePointer<Float>
    public let observations: UnsafeMutablePointer<Float>
    public let nextStates: UnsafeMutablePointer<Float>
    public let nextTimes: UnsafeMutablePointer<Int32>
    public let rewards: UnsafeMutablePointer<Float>
    public let dones: UnsafeMutablePointer<UInt8>
    public let terminations: UnsafeMutablePointer<UInt8>?
    public let truncations: UnsafeMutablePointer<UInt8>?
    public let finalObservations: UnsafeMutablePointer<Float>?
    public let observationSize: Int, stateSize: Int, actionSize: Int

    @inlinable
    public init(env: Env, _ b: StepBuffers) {
        (self.env, count, keys, states, times, actions) = (env, b.count, b.keys, b.states, b.times, b.actions)
        (observations, nextStates, nextTimes) = (b.observations, b.nextStates, b.nextTimes)
        (rewards, dones, terminations, truncations, finalObservations) =
            (b.rewards, b.dones, b.terminations, b.truncations, b.finalObservations)
        observationSize = env.observationSize
        stateSize = env.stateSize
        actionSize = env.actionSpace.size
    }

    @inlinable @inline(__always)
    public func key(_ i: Int) -> PRNGKey { PRNGKey(keys[2 * i], keys[2 * i + 1]) }

    /// Environment i stepped alone with `Environment.step(key:state:action:)`:
    /// the reference the vectorised paths equal.
    @inlinable @inline(__always)
    public func stepOne(_ i: Int) {
        let state = env.loadState(states + i * stateSize, time: times[i])
        let t = env.step(key: key(i), state: state, action: actions + i * actionSize)
        env.observation(of: t.state, into: observations + i * observationSize)
        env.storeState(t.state, into: nextStates + i * stateSize)
        nextTimes[i] = t.state.time
        rewards[i] = t.reward
        dones[i] = t.done ? 1 : 0
        terminations?[i] = t.terminated ? 1 : 0
        truncations?[i] = t.truncated ? 1 : 0
        if let finalObservations { env.observation(of: t.final, into: finalObservations + i * observationSize) }
    }

    /// The tiles covering `range`, in order: `while let tile = tiles.next()`.
    /// Call `deallocate()` when done. (A loop in the caller rather than a
    /// closure, so that it compiles as one function and vectorises.)
    @inlinable @inline(__always)
    public func tiles(_ range: Range<Int>) -> Tiles<Env> {
        Tiles(batch: self, range: range)
    }

    // Rows and records. A tile's environments are copied between the flat
    // records of the batch (state after state) and rows (field after field)
    // by one loop per record width, which compiles to vector shuffles.
    // (Index arithmetic inside loops wraps (&+, &*): overflow checks would
    // keep loops from vectorising; these indices are far from overflowing.)

    public typealias Row = UnsafeMutablePointer<Float>

    /// Copies the tile's states (two, three or four floats each) into rows.
    @inlinable @inline(__always)
    public func loadStates(_ tile: Tile, _ a: Row, _ b: Row) {
        let s = states + 2 * tile.start
        for i in 0..<tile.count { (a[i], b[i]) = (s[2 &* i], s[2 &* i &+ 1]) }
    }

    @inlinable @inline(__always)
    public func loadStates(_ tile: Tile, _ a: Row, _ b: Row, _ c: Row) {
        let s = states + 3 * tile.start
        for i in 0..<tile.count { (a[i], b[i], c[i]) = (s[3 &* i], s[3 &* i &+ 1], s[3 &* i &+ 2]) }
    }

    @inlinable @inline(__always)
    public func loadStates(_ tile: Tile, _ a: Row, _ b: Row, _ c: Row, _ d: Row) {
        let s = states + 4 * tile.start
        for i in 0..<tile.count {
            (a[i], b[i], c[i], d[i]) = (s[4 &* i], s[4 &* i &+ 1], s[4 &* i &+ 2], s[4 &* i &+ 3])
        }
    }

    /// Copies the tile's actions (one float each) into a row.
    @inlinable @inline(__always)
    public func loadActions(_ tile: Tile, _ a: Row) {
        let s = actions + tile.start
        for i in 0..<tile.count { a[i] = s[i] }
    }

    /// Writes rows as the tile's next states.
    @inlinable @inline(__always)
    public func storeStates(_ tile: Tile, _ a: Row, _ b: Row) {
        Self.interleave(tile, into: nextStates, a, b)
    }

    @inlinable @inline(__always)
    public func storeStates(_ tile: Tile, _ a: Row, _ b: Row, _ c: Row) {
        Self.interleave(tile, into: nextStates, a, b, c)
    }

    @inlinable @inline(__always)
    public func storeStates(_ tile: Tile, _ a: Row, _ b: Row, _ c: Row, _ d: Row) {
        Self.interleave(tile, into: nextStates, a, b, c, d)
    }

    /// Writes rows as the observations of the tile's next states, before any
    /// reset (so also as the final observations, when those are asked for).
    @inlinable @inline(__always)
    public func storeObservations(_ tile: Tile, _ a: Row, _ b: Row) {
        Self.interleave(tile, into: observations, a, b)
        if let finalObservations { Self.interleave(tile, into: finalObservations, a, b) }
    }

    @inlinable @inline(__always)
    public func storeObservations(_ tile: Tile, _ a: Row, _ b: Row, _ c: Row) {
        Self.interleave(tile, into: observations, a, b, c)
        if let finalObservations { Self.interleave(tile, into: finalObservations, a, b, c) }
    }

    @inlinable @inline(__always)
    public func storeObservations(_ tile: Tile, _ a: Row, _ b: Row, _ c: Row, _ d: Row) {
        Self.interleave(tile, into: observations, a, b, c, d)
        if let finalObservations { Self.interleave(tile, into: finalObservations, a, b, c, d) }
    }

    @inlinable @inline(__always)
    public func storeObservations(_ tile: Tile, _ a: Row, _ b: Row, _ c: Row, _ d: Row, _ e: Row, _ f: Row) {
        Self.interleave(tile, into: observations, a, b, c, d, e, f)
        if let finalObservations { Self.interleave(tile, into: finalObservations, a, b, c, d, e, f) }
    }

    @inlinable @inline(__always)
    static func interleave(_ tile: Tile, into out: UnsafeMutablePointer<Float>, _ a: Row, _ b: Row) {
        let o = out + 2 * tile.start
        for i in 0..<tile.count { (o[2 &* i], o[2 &* i &+ 1]) = (a[i], b[i]) }
    }

    @inlinable @inline(__always)
    static func interleave(_ tile: Tile, into out: UnsafeMutablePointer<Float>, _ a: Row, _ b: Row, _ c: Row) {
        let o = out + 3 * tile.start
        for i in 0..<tile.count { (o[3 &* i], o[3 &* i &+ 1], o[3 &* i &+ 2]) = (a[i], b[i], c[i]) }
    }

    @inlinable @inline(__always)
    static func interleave(_ tile: Tile, into out: UnsafeMutablePointer<Float>,
                           _ a: Row, _ b: Row, _ c: Row, _ d: Row) {
        let o = out + 4 * tile.start
        for i in 0..<tile.count {
            (o[4 &* i], o[4 &* i &+ 1], o[4 &* i &+ 2], o[4 &* i &+ 3]) = (a[i], b[i], c[i], d[i])
        }
    }

    @inlinable @inline(__always)
    static func interleave(_ tile: Tile, into out: UnsafeMutablePointer<Float>,
                           _ a: Row, _ b: Row, _ c: Row, _ d: Row, _ e: Row, _ f: Row) {
        let o = out + 6 * tile.start
        for i in 0..<tile.count {
            let r = o + 6 &* i
            (r[0], r[1], r[2], r[3], r[4], r[5]) = (a[i], b[i], c[i], d[i], e[i], f[i])
        }
    }

    /// The rest of `step` for a tile whose next states and observations are
    /// written: rewards, times, flags, then the reset of every environment
    /// whose episode ended (terminated or out of time), as `stepOne` does.
    @inlinable @inline(__always)
    public func finishTile(_ tile: Tile, rewards reward: UnsafePointer<Float>) {
        let start = tile.start, maxSteps = env.maxStepsInEpisode
        let (rewards, nextTimes, dones) = (self.rewards + start, self.nextTimes + start, self.dones + start)
        for i in 0..<tile.count {
            let time = tile.time[i] &+ 1
            let done = tile.terminated[i] | (time >= maxSteps)
            rewards[i] = reward[i]
            nextTimes[i] = time
            dones[i] = done ? 1 : 0
        }
        if let terminations = terminations.map({ $0 + start }) {
            for i in 0..<tile.count { terminations[i] = tile.terminated[i] ? 1 : 0 }
        }
        if let truncations = truncations.map({ $0 + start }) {
            for i in 0..<tile.count { truncations[i] = tile.time[i] &+ 1 >= maxSteps ? 1 : 0 }
        }
        // The environments to reset, listed without branches, then reset.
        var resets = 0
        for i in 0..<tile.count {
            tile.resets[resets] = UInt8(truncatingIfNeeded: i)
            resets &+= Int(dones[i])
        }
        for j in 0..<resets {
            let i = start + Int(tile.resets[j])
            let state = env.resetEnv(key: key(i).split(index: 1))
            env.observation(of: state, into: observations + i * observationSize)
            env.storeState(state, into: nextStates + i * stateSize)
            self.nextTimes[i] = state.time
        }
    }
}

/// The tiles of a range of environments, one after the other.
@frozen
public struct Tiles<Env: Environment> {
    public let batch: StepBatch<Env>
    @usableFromInline let end: Int
    @usableFromInline var start: Int
    @usableFromInline let storage: UnsafeMutableRawPointer

    @inlinable @inline(__always)
    init(batch: StepBatch<Env>, range: Range<Int>) {
        (self.batch, start, end) = (batch, range.lowerBound, range.upperBound)
        storage = UnsafeMutableRawPointer.allocate(byteCount: Tile.storageBytes, alignment: 64)
    }

    /// Frees the tiles' scratch memory.
    @inlinable @inline(__always)
    public func deallocate() { storage.deallocate() }

    /// The next tile, with its environments' times loaded and every other
    /// scratch lane zero past `tile.count` (so that loops may run over all
    /// `Tile.size` lanes harmlessly); nil after the last.
    @inlinable @inline(__always)
    public mutating func next() -> Tile? {
        guard start < end else { return nil }
        let count = Swift.min(Tile.size, end - start)
        let tile = Tile(start: start, count: count, storage: storage)
        if count < Tile.size { storage.initializeMemory(as: UInt8.self, repeating: 0, count: Tile.storageBytes) }
        let times = batch.times + start
        for i in 0..<count { tile.time[i] = times[i] }
        start += count
        return tile
    }
}

/// Up to `Tile.size` consecutive environments of a batch and scratch rows
/// for them (lane i of a row is environment start + i).
@frozen
public struct Tile {
    /// Environments per tile.
    public static var size: Int { 64 }
    /// Rows of scratch floats available.
    public static var rowCount: Int { 32 }
    /// Scratch memory: the rows, the times, and 3 bytes a lane (terminal
    /// flags, scratch bytes, the list of environments to reset).
    @inlinable
    static var storageBytes: Int { (rowCount + 1) * size * 4 + 3 * size }

    /// The first environment of the tile, and how many it holds.
    public let start: Int, count: Int
    @usableFromInline let storage: UnsafeMutableRawPointer

    @inlinable @inline(__always)
    init(start: Int, count: Int, storage: UnsafeMutableRawPointer) {
        (self.start, self.count, self.storage) = (start, count, storage)
    }

    /// Scratch row k (0 ..< rowCount) of `size` floats.
    @inlinable @inline(__always)
    public func row(_ k: Int) -> UnsafeMutablePointer<Float> {
        (storage + k * Tile.size * 4).assumingMemoryBound(to: Float.self)
    }

    /// The environments' times (loaded by `Tiles.next()`).
    @inlinable @inline(__always)
    public var time: UnsafeMutablePointer<Int32> {
        (storage + Tile.rowCount * Tile.size * 4).assumingMemoryBound(to: Int32.self)
    }

    /// Set by the environment: whether its step reached a terminal state.
    @inlinable @inline(__always)
    public var terminated: UnsafeMutablePointer<Bool> {
        (storage + (Tile.rowCount + 1) * Tile.size * 4).assumingMemoryBound(to: Bool.self)
    }

    /// Scratch bytes, one a lane.
    @inlinable @inline(__always)
    public var bytes: UnsafeMutablePointer<UInt8> {
        (storage + (Tile.rowCount + 1) * Tile.size * 4 + Tile.size).assumingMemoryBound(to: UInt8.self)
    }

    @inlinable @inline(__always)
    var resets: UnsafeMutablePointer<UInt8> {
        (storage + (Tile.rowCount + 1) * Tile.size * 4 + 2 * Tile.size).assumingMemoryBound(to: UInt8.self)
    }

    /// `sin[i] = sinf(x[i])`, `cos[i] = cosf(x[i])` for every lane, bit for bit.
    @inlinable @inline(__always)
    public func sinCos(_ x: UnsafePointer<Float>, sin: UnsafeMutablePointer<Float>,
                       cos: UnsafeMutablePointer<Float>) {
        Tile.sinCos(x, sin, cos)
    }

    /// `sin[i] = sinf(x[i])` for every lane, bit for bit.
    @inlinable @inline(__always)
    public func sin(_ x: UnsafePointer<Float>, into sin: UnsafeMutablePointer<Float>) {
        Tile.sin(x, sin)
    }

    /// `cos[i] = cosf(x[i])` for every lane, bit for bit.
    @inlinable @inline(__always)
    public func cos(_ x: UnsafePointer<Float>, into cos: UnsafeMutablePointer<Float>) {
        Tile.cos(x, cos)
    }

    // Out of line, on copies in their own stack frame: there the compiler
    // knows that the arrays do not overlap, and vectorises.

    @usableFromInline @inline(never)
    static func sinCos(_ x: UnsafePointer<Float>, _ sin: UnsafeMutablePointer<Float>,
                       _ cos: UnsafeMutablePointer<Float>) {
        onCopies(x) { lx, ls, lc, redo in
            sinCosf(count: Tile.size, lx, sin: ls, cos: lc, scratch: redo)
            for i in 0..<Tile.size { (sin[i], cos[i]) = (ls[i], lc[i]) }
        }
    }

    @usableFromInline @inline(never)
    static func sin(_ x: UnsafePointer<Float>, _ sin: UnsafeMutablePointer<Float>) {
        onCopies(x) { lx, ls, _, redo in
            sinCosf(count: Tile.size, lx, sin: ls, cos: nil, scratch: redo)
            for i in 0..<Tile.size { sin[i] = ls[i] }
        }
    }

    @usableFromInline @inline(never)
    static func cos(_ x: UnsafePointer<Float>, _ cos: UnsafeMutablePointer<Float>) {
        onCopies(x) { lx, _, lc, redo in
            sinCosf(count: Tile.size, lx, sin: nil, cos: lc, scratch: redo)
            for i in 0..<Tile.size { cos[i] = lc[i] }
        }
    }

    /// `body(copy of x, sin, cos, redo)` on local arrays of `size` lanes.
    @inlinable @inline(__always)
    static func onCopies(_ x: UnsafePointer<Float>, _ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>,
                                                           UnsafeMutablePointer<Float>, UnsafeMutablePointer<UInt8>) -> Void) {
        var local = (SIMD64<Float>(), SIMD64<Float>(), SIMD64<Float>(), SIMD64<UInt8>())
        withUnsafeMutableBytes(of: &local) { raw in
            let lx = raw.baseAddress!.assumingMemoryBound(to: Float.self)
            let redo = (raw.baseAddress! + 3 * 4 * Tile.size).assumingMemoryBound(to: UInt8.self)
            for i in 0..<Tile.size { lx[i] = x[i] }
            body(lx, lx + Tile.size, lx + 2 * Tile.size, redo)
        }
    }
}

