// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "kuke",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "kuke", targets: ["kuke"]),
        // The manifest layer without the kernel, for the fuzzer in fuzz/ (a package of its own).
        .library(name: "KukeCore", targets: ["KukeModel", "KukeEngine"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // Linux kernel headers (netlink, rtnetlink, statfs magic numbers) as a Swift module.
        .target(name: "CKukeSys"),
        // libinotifytools, for `kuke watch`.
        .systemLibrary(name: "CInotifyTools", providers: [.apt(["libinotifytools0-dev"])]),
        // libnftables, for the isolation table.
        .systemLibrary(name: "CNftables", providers: [.apt(["libnftables-dev"])]),
        .target(name: "KukeModel", dependencies: [.product(name: "Yams", package: "Yams")]),
        .target(name: "KukeEngine", dependencies: ["KukeModel"]),
        .target(
            name: "KukeHost",
            dependencies: ["KukeModel", "KukeEngine", "CKukeSys", "CNftables", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "KukeWatch",
            dependencies: [
                "KukeModel", "KukeEngine", "KukeHost", "CInotifyTools",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "KukeCLI",
            dependencies: [
                "KukeModel", "KukeEngine", "KukeHost", "KukeWatch",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(name: "kuke", dependencies: ["KukeCLI"]),
        .target(name: "KukeTestSupport", dependencies: ["KukeModel", "KukeEngine", "KukeHost", "CKukeSys"]),
        .testTarget(name: "KukeModelTests", dependencies: ["KukeModel"]),
        .testTarget(name: "KukeEngineTests", dependencies: ["KukeModel", "KukeEngine", "KukeTestSupport"]),
        .testTarget(name: "KukeCLITests", dependencies: ["KukeCLI", "KukeTestSupport"]),
        .testTarget(name: "KukeWatchTests", dependencies: ["KukeWatch", "KukeEngine", "KukeModel", "KukeTestSupport"]),
        .testTarget(name: "KukeHostTests", dependencies: ["KukeHost", "KukeEngine", "KukeModel"]),
        .testTarget(
            name: "KukeKernelTests",
            dependencies: ["KukeModel", "KukeEngine", "KukeHost", "KukeCLI", "KukeWatch", "KukeTestSupport", "CKukeSys"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
