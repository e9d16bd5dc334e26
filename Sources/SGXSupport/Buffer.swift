/// A fixed float buffer (allocated once, freed with its owner).
package final class Buffer {
    package let p: UnsafeMutablePointer<Float>
    package init(_ count: Int) {
        p = .allocate(capacity: Swift.max(count, 1))
        p.initialize(repeating: 0, count: Swift.max(count, 1))
    }
    deinit { p.deallocate() }
}
