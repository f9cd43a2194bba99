import Foundation
import KukeModel
import KukeTestSupport
import Testing

/// `kuke version` through the real binary: what it reports must be what that process runs with.
@Suite("kuke version")
struct VersionTests {
    @Test("names the commit it was built from and the libraries the dynamic linker loaded")
    func reportsWhatRuns() throws {
        let kuke = try KernelSandbox.locateKuke()
        let result = Subprocess.run([kuke, "version", "-o", "json"])
        #expect(result.status == 0, "\(result)")
        let report = try JSONParser.parse(result.stdout)
        let commit = report["kuke"]?["commit"]?.stringValue ?? ""
        #expect(commit.range(of: "^[0-9a-f]{40}(-dirty)?$", options: .regularExpression) != nil, "\(commit)")
        // The checkout this test runs in built the binary: its HEAD is the commit reported.
        let head = Subprocess.run(["git", "-C", #filePath.components(separatedBy: "/Tests/")[0], "rev-parse", "HEAD"])
        if head.status == 0 { #expect(commit.hasPrefix(head.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), "\(commit) vs \(head.stdout)") }
        #expect(report["kuke"]?["version"]?.stringValue == Subprocess.run([kuke, "--version"]).stdout.trimmingCharacters(in: .newlines))

        // ldd resolves the same libraries the kernel mapped into the running kuke.
        let ldd = Subprocess.run(["ldd", kuke])
        for library in report["libraries"]?.arrayValue ?? [] {
            let name = library["name"]?.stringValue ?? ""
            let file = library["file"]?.stringValue ?? ""
            let soname = name == "libyaml" ? "libyaml-0.so" : "\(name).so"
            let line = ldd.stdout.split(separator: "\n").first { $0.contains(soname) }
            let linked = line.flatMap { $0.components(separatedBy: "=> ").last?.components(separatedBy: " (").first }
            let resolved = linked.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path }
            #expect(resolved == URL(fileURLWithPath: file).resolvingSymlinksInPath().path, "\(name): \(file) vs ldd \(line ?? "none")")
            if name == "libyaml" {
                // libyaml names its own version: the upstream part of the Debian package's.
                let package = Subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "libyaml-0-2"])
                #expect(package.status == 0 && package.stdout.hasPrefix((library["version"]?.stringValue ?? "?") + "-"), "\(library) vs \(package)")
            } else {
                #expect(file.hasSuffix(".so." + (library["version"]?.stringValue ?? "?")), "\(library)")
            }
        }
        let swiftCore = ldd.stdout.contains("libswiftCore.so")
        let runtime = report["swift"]?["runtime"]?.stringValue ?? ""
        #expect(swiftCore ? runtime.hasSuffix("libswiftCore.so") : runtime == "linked in", "\(runtime)")
    }
}
