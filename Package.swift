// swift-tools-version:6.0
import PackageDescription

// Linux only: KukeHost speaks rtnetlink, cgroup2 and libnftables (it refuses to build elsewhere);
// KukeModel and KukeEngine (the product KukeCore) know nothing of the kernel and build anywhere.

/// The commit `kuke version` reports, read by SwiftPM from the checkout ("unknown" outside Git).
let commit = Context.gitInformation.map { $0.currentCommit + ($0.hasUncommittedChanges ? "-dirty" : "") } ?? "unknown"

let package = Package(
    name: "kuke",
    products: [
        .executable(name: "kuke", targets: ["kuke"]),
        // The manifest layer without the kernel, for the fuzzer in fuzz/ (a package of its own).
        .library(name: "KukeCore", targets: ["KukeModel", "KukeEngine"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // Linux kernel headers (netlink, rtnetlink, statfs magic numbers) as a Swift module.
        .target(name: "CKukeSys"),
        // The build's commit, for `kuke version`.
        .target(name: "CKukeBuild", cSettings: [.define("KUKE_COMMIT", to: "\"\(commit)\"")]),
        // libyaml, the YAML parser and emitter, through its event API.
        .systemLibrary(name: "CYAML", providers: [.apt(["libyaml-dev"])]),
        // libinotifytools, for `kuke watch`.
        .systemLibrary(name: "CInotifyTools", providers: [.apt(["libinotifytools0-dev"])]),
        // libnftables, for the isolation table.
        .systemLibrary(name: "CNftables", providers: [.apt(["libnftables-dev"])]),
        // libsystemd's sd-bus, for the systemd cgroup driver (slices through systemd's D-Bus API).
        .systemLibrary(name: "CSystemd", providers: [.apt(["libsystemd-dev"])]),
        .target(name: "KukeModel", dependencies: ["CYAML"]),
        .target(name: "KukeEngine", dependencies: ["KukeModel", .product(name: "SystemPackage", package: "swift-system")]),
        .target(
            name: "KukeHost",
            dependencies: ["KukeModel", "KukeEngine", "CKukeSys", "CNftables", "CSystemd", .product(name: "SystemPackage", package: "swift-system")]
        ),
        .target(
            name: "KukeWatch",
            dependencies: [
                "KukeModel", "KukeEngine", "KukeHost", "CInotifyTools",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .target(
            name: "KukeCLI",
            dependencies: [
                "KukeModel", "KukeEngine", "KukeHost", "KukeWatch", "CKukeBuild",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(name: "kuke", dependencies: ["KukeCLI"]),
        .target(
            name: "KukeTestSupport", dependencies: ["KukeModel", "KukeEngine", "KukeHost", .product(name: "SystemPackage", package: "swift-system")]),
        .testTarget(name: "KukeModelTests", dependencies: ["KukeModel"]),
        .testTarget(
            name: "KukeEngineTests",
            dependencies: ["KukeModel", "KukeEngine", "KukeHost", "KukeTestSupport", .product(name: "SystemPackage", package: "swift-system")]
        ),
        .testTarget(name: "KukeCLITests", dependencies: ["KukeCLI", "KukeModel", "KukeTestSupport"]),
        .testTarget(
            name: "KukeWatchTests",
            dependencies: [
                "KukeWatch", "KukeEngine", "KukeModel", "KukeHost", "KukeTestSupport", .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"), .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .testTarget(
            name: "KukeHostTests",
            dependencies: ["KukeHost", "KukeEngine", "KukeModel", "KukeTestSupport", .product(name: "SystemPackage", package: "swift-system")]
        ),
        // Needs the `kuke` executable next to it (built by `swift build --build-tests`), which it runs.
        .testTarget(name: "KukeKernelTests", dependencies: ["KukeModel", "KukeEngine", "KukeHost", "KukeWatch", "KukeTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
