/// A fixed float buffer (allocated once, freed with its owner).
final class Buffer {
    let p: UnsafeMutablePointer<Float>
    init(_ count: Int) {
        p = .allocate(capacity: Swift.max(count, 1))
        p.initialize(repeating: 0, count: Swift.max(count, 1))
    }
    deinit { p.deallocate() }
}
