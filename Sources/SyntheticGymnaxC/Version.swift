import CSyntheticGymnax
import SyntheticGymnax

/// Version of the ABI in include/synthetic_gymnax.h (the library's: `libraryVersion`).
let abiVersion = Int32(SGX_ABI_VERSION)

private let versionCString = staticCString(libraryVersion)

@_cdecl("sgx_abi_version")
public func sgx_abi_version() -> Int32 { abiVersion }

@_cdecl("sgx_version")
public func sgx_version() -> UnsafePointer<CChar> { versionCString }
