import Foundation
import Glibc
import Testing

@testable import KukeHost

@Suite("Process spawn")
struct ProcessSpawnTests {
    @Test("an exit code is reported as is, a signal as 128 + its number; output goes where it is sent")
    func statuses() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kuke-spawn-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func run(_ script: String) throws -> Int32 {
            let spawned = ProcessSpawn.spawn(
                ["sh", "-c", script], environment: ["PATH=/usr/bin:/bin"], searchPath: true, stdin: .file("/dev/null"),
                stdout: .file("\(directory)/out"), stderr: .file("\(directory)/err"))
            return ProcessSpawn.wait(try spawned.get()).status
        }
        #expect(try run("echo hello; exit 3") == 3)
        #expect(try String(contentsOfFile: "\(directory)/out", encoding: .utf8) == "hello\n")
        #expect(try run("kill -9 $$") == 128 + SIGKILL)
        #expect(ProcessSpawn.status(of: 0x0200) == 2 && ProcessSpawn.status(of: 15) == 128 + 15)
        let missing = ProcessSpawn.spawn(
            ["/nonexistent/program"], environment: [], searchPath: false, stdin: .file("/dev/null"), stdout: .file("/dev/null"),
            stderr: .file("/dev/null"))
        #expect(throws: Error.self) { try missing.get() }
    }
}
