// swift-tools-version: 6.0
import PackageDescription

/// spinebench: the SpineNet ablations re-run on one CPU machine.
/// Modules follow docs/design.md §2-§3: data flows Datasets -> Engine/Models -> Detection -> Harness -> CLI.
/// Release builds use the default -O (not -Ounchecked) so preconditions on shapes stay checked.

/// The engine's own loops (SIMD8 kernels, Winograd transforms, batch norm) compile for Haswell-level x86 (AVX2 + FMA,
/// every Intel CPU since 2013 and AMD since 2015) rather than the SSE2 baseline. A fixed level, not "native": the same commit
/// gives the same machine code, so the same bits, on every x86 machine.
#if arch(x86_64)
let engineFlags: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
#else
let engineFlags: [SwiftSetting] = []
#endif

let package = Package(
    name: "spinebench",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "spinebench", targets: ["spinebench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        // System libraries: found through pkg-config (install `pkg-config`, or SwiftPM cannot find them).
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5",
                       providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),

        // What several modules share: durable file writes, the box, the hash, the seeded generator.
        .target(name: "Common"),
        .target(name: "Engine", dependencies: ["CBLAS", "Common"], swiftSettings: engineFlags),
        .target(name: "Models", dependencies: ["Common", "Engine", .product(name: "Yams", package: "Yams")]),
        .target(name: "Detection", dependencies: ["Common", "Engine"]),
        .target(name: "Datasets", dependencies: ["CHDF5", "CZlib", "Common"]),
        .target(name: "Harness",
                dependencies: ["Common", "Engine", "Models", "Detection", "Datasets",
                               .product(name: "Yams", package: "Yams")]),
        .target(name: "Search", dependencies: ["Models", "Harness", "Datasets", .product(name: "Yams", package: "Yams")]),
        .executableTarget(name: "spinebench",
                          dependencies: ["Harness", "Search", "Engine", "Models", "Detection", "Datasets",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")]),

        .testTarget(name: "CommonTests", dependencies: ["Common"]),
        .testTarget(name: "EngineTests", dependencies: ["Engine"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "Engine"]),
        .testTarget(name: "DetectionTests", dependencies: ["Detection", "Engine", "Models"], exclude: ["Fixtures"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets"]),
        .testTarget(name: "HarnessTests", dependencies: ["Harness", "Common", "Engine", "Models", "Detection", "Datasets"]),
        .testTarget(name: "SearchTests", dependencies: ["Search", "Harness", "Models", "Datasets"]),
    ]
)
