// swift-tools-version:6.0
// The manifest fuzzer, a package of its own so the main build never links libFuzzer.
// Build and run: fuzz/run (or see docs/reliability.md).
import PackageDescription

let package = Package(
    name: "kuke-fuzz",
    dependencies: [.package(name: "kuke", path: "..")],
    targets: [
        .executableTarget(name: "ManifestFuzzer", dependencies: [.product(name: "KukeCore", package: "kuke")])
    ]
)
