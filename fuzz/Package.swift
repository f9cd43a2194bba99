// swift-tools-version:6.0
// The fuzz targets, a package of their own so the main build never links libFuzzer:
// ManifestFuzzer (the bytes of a manifest file) and SchemaFuzzer (schema-shaped manifests,
// records and host configurations built from the bytes, with hostile numbers).
// Build and run: fuzz/run (or see docs/reliability.md).
import PackageDescription

let package = Package(
    name: "kuke-fuzz",
    dependencies: [.package(name: "kuke", path: "..")],
    targets: [
        .target(name: "FuzzChecks", dependencies: [.product(name: "KukeCore", package: "kuke")]),
        .executableTarget(name: "ManifestFuzzer", dependencies: ["FuzzChecks"]),
        .executableTarget(name: "SchemaFuzzer", dependencies: ["FuzzChecks", .product(name: "KukeCore", package: "kuke")]),
    ]
)
