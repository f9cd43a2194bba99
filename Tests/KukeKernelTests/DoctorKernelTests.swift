import Foundation
import KukeModel
import KukeTestSupport
import Testing

/// `kuke doctor` through the real binary in a sandbox, with faults injected one at a time:
/// the rows it reports follow the host, and a FAIL exits 1.
@Suite("doctor (kernel)", .enabled(if: KernelSandbox.enabled, "\(KernelSandbox.skipReason)"), .serialized)
struct DoctorKernelTests {
    /// `kuke doctor -o json` in the sandbox with `environment` added: the exit status and status by check.
    func doctor(_ sandbox: KernelSandbox, _ environment: [String] = []) throws -> (status: Int32, rows: [String: (String, String)]) {
        let result = sandbox.run(["env"] + environment + [sandbox.kukeBinary, "doctor", "-o", "json"])
        let rows = try JSONParser.parse(result.stdout).arrayValue ?? []
        var byCheck: [String: (String, String)] = [:]
        for row in rows {
            byCheck[row["check"]?.stringValue ?? ""] = (row["status"]?.stringValue ?? "", row["detail"]?.stringValue ?? "")
        }
        #expect(!rows.isEmpty, "\(result)")
        return (result.status, byCheck)
    }

    @Test("real plugins answer VERSION, nftables answers; a missing plugin fails, forwarding off, an overlapping conflist and stale leases warn")
    func faults() throws {
        try KernelSandbox.with { sandbox in
            _ = try sandbox.applyExamples()
            #expect(sandbox.run(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]).status == 0)
            let fit = try doctor(sandbox)
            #expect(fit.rows["cni-plugins"]?.0 == "OK", "\(fit.rows)")
            #expect(fit.rows["cni-plugins"]?.1.contains("bridge (/usr/lib/cni/bridge, CNI") == true)
            #expect(fit.rows["cni-version"]?.0 == "OK")
            #expect(fit.rows["nftables"]?.0 == "OK")
            #expect(fit.rows["ip-forward"]?.0 == "OK")
            #expect(fit.rows["cgroup-root"]?.0 == "OK")
            #expect(fit.rows["foreign-conflists"]?.0 == "OK")
            #expect(fit.rows["host-local-state"]?.0 == "OK")
            #expect(fit.rows["run-path"]?.1.contains("1 realm(s), 2 space(s)") == true)
            // The host's own networkd and br_netfilter are not the sandbox's to change: not asserted.
            #expect(fit.status == (fit.rows.values.contains { $0.0 == "FAIL" } ? 1 : 0))

            let empty = sandbox.directory + "/no-plugins"
            try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
            let missing = try doctor(sandbox, ["CNI_PATH=\(empty)"])
            #expect(missing.status == 1)
            #expect(missing.rows["cni-plugins"]?.0 == "FAIL")
            #expect(missing.rows["cni-plugins"]?.1.contains("bridge: not found in \(empty)") == true, "\(missing.rows)")

            #expect(sandbox.run(["sysctl", "-q", "-w", "net.ipv4.ip_forward=0"]).status == 0)
            try
                #"{"cniVersion":"1.0.0","name":"podman","plugins":[{"type":"bridge","bridge":"cni-podman0","ipam":{"type":"host-local","ranges":[[{"subnet":"10.88.200.0/24"}]]}}]}"#
                .write(toFile: "\(sandbox.cniDirectory)/87-podman-bridge.conflist", atomically: true, encoding: .utf8)
            try FileManager.default.createDirectory(atPath: "\(sandbox.cniStateDirectory)/networks/main-gone", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: "\(sandbox.cniStateDirectory)/networks/podman", withIntermediateDirectories: true)
            let warned = try doctor(sandbox)
            #expect(warned.rows["ip-forward"]?.0 == "WARN")
            #expect(warned.rows["foreign-conflists"]?.0 == "WARN")
            #expect(warned.rows["foreign-conflists"]?.1.contains("87-podman-bridge.conflist claims 10.88.200.0/24") == true)
            #expect(warned.rows["host-local-state"]?.0 == "WARN")
            #expect(warned.rows["host-local-state"]?.1.contains("networks/main-gone") == true)
            #expect(warned.rows["host-local-state"]?.1.contains("networks/podman") == false, "podman's conflist names it")
            #expect(warned.status == fit.status, "warnings alone do not change the exit status")

            // The human form: one row per check, each WARN and FAIL with its fix, and a summary.
            let human = sandbox.kuke("doctor")
            #expect(human.stdout.contains("WARN  ip-forward"), "\(human)")
            #expect(human.stdout.contains("fix: sysctl -w net.ipv4.ip_forward=1"))
            #expect(human.stdout.contains("13 checks: "))
        }
    }
}
