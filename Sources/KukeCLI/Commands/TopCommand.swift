import ArgumentParser
import Foundation
import KukeEngine
import KukeHost
import KukeModel

struct TopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top", abstract: "Show the live resource usage of each space beside its limits.",
        subcommands: [TopSpacesCommand.self])
}

struct TopSpacesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spaces",
        abstract: "Usage per space, read from its cgroup: CPU over a short interval, memory, pids, IO bytes.",
        discussion: """
            Like systemd-cgtop for the space cgroups: CPU is the use over --interval as a percentage of one \
            CPU (cpu.stat), MEMORY is memory.current, PIDS is pids.current, IO is the bytes read and written \
            (io.stat); each with the limit the kernel holds (cpu.max, memory.max, pids.max). A column shows \
            `-` where its controller is not enabled in the space cgroup (on a hybrid host: memory, cpu, io and \
            pids are bound to cgroup v1). Read-only; no lock.

            Example:
              kuke top spaces --realm main
            """, aliases: ["space"])

    @Option(help: "Only the spaces of this realm.") var realm: String?
    // `.unconditional`: `--interval -1` takes "-1" as its value and gets the range error, not "Missing value".
    @Option(parsing: .unconditional, help: "Seconds between the two CPU readings.") var interval: Double = 0.5
    @OptionGroup var host: HostOptions

    func validate() throws {
        if !(interval > 0 && interval <= 60) { throw ValidationError("--interval must be above 0 and at most 60 seconds") }
    }

    func run() throws {
        let console = Console.current
        let inventory = try loadInventory(host, console, realm: realm)
        let layout = try host.layout(console)
        let cgroups = CgroupFilesystem(root: layout.cgroupRoot)
        let spaces = inventory.spaces.values.filter { realm == nil || $0.spec.realmId == realm }.sorted { $0.id < $1.id }
        guard !spaces.isEmpty else {
            console.out("No spaces found.")
            return
        }
        func sample(_ id: SpaceID) -> CgroupUsage {
            CgroupUsage { file in try? cgroups.readFile(file, in: layout.spaceCgroup(id)) }
        }
        let first = spaces.map { sample($0.id) }
        Thread.sleep(forTimeInterval: interval)
        var rows = [["NAME", "REALM", "CPU", "CPU-LIMIT", "MEMORY", "MEMORY-LIMIT", "PIDS", "PIDS-LIMIT", "IO-READ", "IO-WRITE"]]
        for (space, before) in zip(spaces, first) {
            let now = sample(space.id)
            rows.append([
                space.metadata.name, space.spec.realmId,
                CgroupUsage.cpuPercent(from: before, to: now, seconds: interval) ?? "-", now.cpuLimit ?? "-",
                now.memoryBytes.map(CgroupUsage.bytes) ?? "-", now.memoryLimit ?? "-",
                now.pids.map(String.init) ?? "-", now.pidsLimit ?? "-",
                now.ioReadBytes.map(CgroupUsage.bytes) ?? "-", now.ioWrittenBytes.map(CgroupUsage.bytes) ?? "-",
            ])
        }
        console.writeOut(table(rows))
    }
}
