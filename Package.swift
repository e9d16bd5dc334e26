// swift-tools-version:6.0
import PackageDescription
import Foundation

// The library is built from source on the machine that runs it (swift build,
// pip install ./python), so it may use that machine's vector units, like
// -march=native: AVX-512 (F, DQ, BW, VL) or else AVX2 and FMA when
// /proc/cpuinfo lists them. Results do not depend on it (no fast-math;
// fused multiply-adds are explicit; the NN kernels compute every entry in one
// order whatever the vector width), only speed: AVX-512 doubles the
// training kernels' throughput. SGX_NO_AVX512=1 stops at AVX2;
// SGX_PORTABLE=1 builds for the baseline x86-64.
let cpuFlags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
let nativeVectors = ProcessInfo.processInfo.environment["SGX_PORTABLE"] == nil
    && cpuFlags.contains(" avx2") && cpuFlags.contains(" fma")
// AVX-512: 16-lane vectors in single registers, and the SGX_AVX512
// condition that gives the NN kernels tile shapes for 32 registers.
let avx512 = nativeVectors && ProcessInfo.processInfo.environment["SGX_NO_AVX512"] == nil
    && ["avx512f", "avx512dq", "avx512bw", "avx512vl"].allSatisfy { cpuFlags.contains(" \($0)") }
let coreFlags = ["-enforce-exclusivity=unchecked"]
    + (avx512 ? ["-target-cpu", "skylake-avx512", "-DSGX_AVX512"] : nativeVectors ? ["-target-cpu", "haswell"] : [])

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
        // YAML for the meta-training configs (SGXMetaLearning/MetaConfig.swift).
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        // MuJoCo's C header (libmujoco-dev, 2.2.2) for the MuJoCo environments;
        // the library is opened at run time, not linked (MuJoCoLibrary.swift).
        .systemLibrary(name: "CMuJoCo", path: "Sources/CMuJoCo", providers: [.apt(["libmujoco-dev"])]),
        // The core, one target per layer, each depending only on the layers
        // below it (so the compiler refuses an upward reference): Support
        // <- Random <- NN <- Environments <- Agents <- MetaLearning. What a
        // layer uses of a lower one that is not public API is `package`.
        .target(name: "SGXSupport", swiftSettings: [.unsafeFlags(coreFlags)]),
        .target(name: "SGXRandom", dependencies: ["SGXSupport"], swiftSettings: [.unsafeFlags(coreFlags)]),
        .target(name: "SGXNN", dependencies: ["SGXRandom"], swiftSettings: [.unsafeFlags(coreFlags)]),
        .target(
            name: "SGXEnvironments",
            dependencies: ["SGXNN", "CMuJoCo"],
            exclude: ["MuJoCo/Models"],
            swiftSettings: [.unsafeFlags(coreFlags)]
        ),
        .target(name: "SGXAgents", dependencies: ["SGXEnvironments"], swiftSettings: [.unsafeFlags(coreFlags)]),
        .target(
            name: "SGXMetaLearning",
            dependencies: ["SGXAgents", .product(name: "Yams", package: "Yams")],
            swiftSettings: [.unsafeFlags(coreFlags)]
        ),
        // The public module: re-exports the layers, so `import SyntheticGymnax`
        // is the whole core.
        .target(name: "SyntheticGymnax", dependencies: ["SGXMetaLearning"]),
        // Our declarations of the XLA FFI C structures, for the custom-call
        // handlers of the C ABI (XLAFFI.swift): a header, nothing to link.
        .systemLibrary(name: "CXLAFFI", path: "Sources/CXLAFFI"),
        // include/synthetic_gymnax.h as a module, so that the C target takes
        // the ABI's constants and structures from the header itself.
        .systemLibrary(name: "CSyntheticGymnax", path: "Sources/CSyntheticGymnax"),
        .target(
            name: "SyntheticGymnaxC",
            dependencies: ["SyntheticGymnax", "CSyntheticGymnax", "CXLAFFI"]
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
