import ArgumentParser
import KukeModel

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "Show kuke's version and commit, and the Swift and C libraries it runs with.",
        discussion: """
            The Swift version is the compiler's that built kuke; the runtime line says whether the Swift \
            runtime is linked in (a static build, as the Debian package ships) or which libswiftCore was \
            loaded. libyaml reports its own version; kuke shows it with the file the process mapped. \
            libnftables and libinotifytools export no version: kuke shows the file the process mapped and \
            the library version in its name (libnftables.so.1.1.0 is the library of nftables 1.0.6).

            Example:
              kuke version -o json
            """)

    @Option(name: .shortAndLong, help: "Print as json or yaml.") var output: OutputFormat?

    func run() throws {
        let console = Console.current
        let runtime = BuildInfo.swiftRuntimeFile
        let libraries = [BuildInfo.yaml, BuildInfo.sharedLibrary("libnftables"), BuildInfo.sharedLibrary("libinotifytools")]
        func library(_ library: BuildInfo.Library) -> ManifestValue {
            var entries = [ManifestValue.Entry("name", .string(library.name))]
            entries.append(.init("version", .string(library.version ?? "unknown")))
            entries.append(.init("file", .string(library.file ?? library.linkedIn)))
            return .map(entries)
        }
        let value = ManifestValue.map([
            .init("kuke", .map([.init("version", .string(BuildInfo.version)), .init("commit", .string(BuildInfo.commit))])),
            .init("swift", .map([.init("compiler", .string(BuildInfo.swiftCompiler)), .init("runtime", .string(runtime ?? "linked in"))])),
            .init("libraries", .list(libraries.map(library))),
        ])
        switch output {
        case .json: console.writeOut(JSONValue(value).canonicalText)
        case .yaml: console.writeOut(RecordCodec.yaml(value))
        case nil:
            console.out("kuke \(BuildInfo.version) (commit \(BuildInfo.commit))")
            console.out("swift \(BuildInfo.swiftCompiler) (runtime: \(runtime ?? "linked in"))")
            for entry in libraries {
                console.out("\(entry.name)\(entry.version.map { " " + $0 } ?? "") (\(entry.file ?? entry.linkedIn))")
            }
        }
    }
}
