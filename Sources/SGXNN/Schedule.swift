/// optax's `linear_schedule(init, end, transition_steps)` at `count`: from
/// init to end over the steps, then end (init throughout when steps ≤ 0).
package func linearSchedule(init initValue: Float, end: Float, steps: Int, at count: Int) -> Float {
    guard steps > 0 else { return initValue }
    let done = Float(Swift.min(Swift.max(count, 0), steps)) / Float(steps)
    return (initValue - end) * (1 - done) + end
}
