// swift-tools-version:6.0
import PackageDescription
import Foundation

// The library is built from source on the machine that runs it (swift build,
// pip install ./python), so it may use that machine's vector units, like
// -march=native: AVX2 and FMA when /proc/cpuinfo lists them. Results do not
// depend on it (no fast-math; fused multiply-adds are explicit), only speed.
// SGX_PORTABLE=1 builds for the baseline x86-64 instead.
let cpuFlags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
let nativeVectors = ProcessInfo.processInfo.environment["SGX_PORTABLE"] == nil
    && cpuFlags.contains(" avx2") && cpuFlags.contains(" fma")
let coreFlags = ["-enforce-exclusivity=unchecked"] + (nativeVectors ? ["-target-cpu", "haswell"] : [])

let package = Package(
    name: "SyntheticGymnax",
    products: [
        // The pure-Swift core: environments, JAX-exact PRNG.
        .library(name: "SyntheticGymnax", targets: ["SyntheticGymnax"]),
        // The C ABI (include/synthetic_gymnax.h) as one shared library:
        // libsynthetic_gymnax.so.
        .library(name: "synthetic_gymnax", type: .dynamic, targets: ["SyntheticGymnaxC"]),
        // Command-line tool: random-policy rollouts (and, later, training).
        .executable(name: "sgx", targets: ["sgx"]),
    ],
    dependencies: [
        // YAML for the meta-training configs (MetaLearning/MetaConfig.swift).
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        // MuJoCo's C header (libmujoco-dev, 2.2.2) for the MuJoCo environments;
        // the library is opened at run time, not linked (MuJoCoLibrary.swift).
        .systemLibrary(name: "CMuJoCo", path: "Sources/CMuJoCo", providers: [.apt(["libmujoco-dev"])]),
        .target(
            name: "SyntheticGymnax",
            dependencies: ["CMuJoCo", .product(name: "Yams", package: "Yams")],
            exclude: ["Environments/MuJoCo/Models"],
            swiftSettings: [.unsafeFlags(coreFlags)]
        ),
        // Our declarations of the XLA FFI C structures, for the custom-call
        // handlers of the C ABI (XLAFFI.swift): a header, nothing to link.
        .systemLibrary(name: "CXLAFFI", path: "Sources/CXLAFFI"),
        .target(
            name: "SyntheticGymnaxC",
            dependencies: ["SyntheticGymnax", "CXLAFFI"]
        ),
        .executableTarget(
            name: "sgx",
            dependencies: ["SyntheticGymnax"]
        ),
        .testTarget(
            name: "SyntheticGymnaxTests",
            dependencies: ["SyntheticGymnax", "SyntheticGymnaxC"],
            resources: [.copy("Fixtures")]
        ),
    ],
    swiftLanguageModes: [.v5]
)
