// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "SyntheticGymnax",
    products: [
        // The pure-Swift core: environments, JAX-exact PRNG.
        .library(name: "SyntheticGymnax", targets: ["SyntheticGymnax"]),
        // The C ABI (include/synthetic_gymnax.h) as one shared library:
        // libsynthetic_gymnax.so.
        .library(name: "synthetic_gymnax", type: .dynamic, targets: ["SyntheticGymnaxC"]),
    ],
    targets: [
        .target(
            name: "SyntheticGymnax",
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"])]
        ),
        .target(
            name: "SyntheticGymnaxC",
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
