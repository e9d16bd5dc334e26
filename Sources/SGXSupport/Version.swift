/// The library's version; the bytes of a task context
/// carry it, so that workers of another version refuse them.
public let libraryVersion = "0.1.0"
