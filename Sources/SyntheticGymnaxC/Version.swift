/// Version of the library and of the ABI in include/synthetic_gymnax.h.
let libraryVersion = "0.1.0"
let abiVersion: Int32 = 1

private let versionCString = staticCString(libraryVersion)

@_cdecl("sgx_abi_version")
public func sgx_abi_version() -> Int32 { abiVersion }

@_cdecl("sgx_version")
public func sgx_version() -> UnsafePointer<CChar> { versionCString }
