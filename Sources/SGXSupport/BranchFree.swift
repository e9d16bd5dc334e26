// Boolean operators that evaluate both sides, for the loops over
// environments: `a || b` on two comparisons compiles to a branch (the right
// side is an autoclosure), and a loop with branches does not vectorise;
// `a | b` compiles to a bitwise or. For side-effect-free operands such as
// comparisons the result is the same.

extension Bool {
    /// `lhs || rhs` with both sides evaluated and no branch, so that loops
    /// over environments vectorise. (For side-effect-free operands, as
    /// comparisons, the result is the same.)
    @inlinable @inline(__always)
    package static func | (lhs: Bool, rhs: Bool) -> Bool {
        unsafeBitCast(unsafeBitCast(lhs, to: UInt8.self) | unsafeBitCast(rhs, to: UInt8.self), to: Bool.self)
    }

    /// `lhs && rhs` with both sides evaluated and no branch.
    @inlinable @inline(__always)
    package static func & (lhs: Bool, rhs: Bool) -> Bool {
        unsafeBitCast(unsafeBitCast(lhs, to: UInt8.self) & unsafeBitCast(rhs, to: UInt8.self), to: Bool.self)
    }
}
