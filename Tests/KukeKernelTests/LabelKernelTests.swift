import Foundation
import KukeTestSupport
import Testing

/// Labels follow Kubernetes' rules (issue 10, part 6): a bad key or value, given with
/// `--label` or in a manifest, is refused with exit 2 before anything is written.
@Suite("Kernel: labels", .enabled(if: KernelSandbox.enabled, "\(KernelSandbox.skipReason)"), .serialized)
struct LabelKernelTests {
    /// What the sandbox holds besides the realm created first: nothing of the space `lab`.
    func expectNoLab(_ sandbox: KernelSandbox, realmRecord: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!sandbox.exists("\(sandbox.runPath)/main/lab"), sourceLocation: sourceLocation)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: sandbox.cniDirectory)) ?? []).isEmpty, sourceLocation: sourceLocation)
        #expect(!sandbox.exists("\(sandbox.cgroupRoot)/kukeon/main/lab"), sourceLocation: sourceLocation)
        #expect(!sandbox.links().values.contains("bridge"), sourceLocation: sourceLocation)
        #expect(
            (try? String(contentsOfFile: "\(sandbox.runPath)/main/realm.yaml", encoding: .utf8)) == realmRecord, "the realm is untouched",
            sourceLocation: sourceLocation)
    }

    @Test("create space --label 'Bad Key=v a l' exits 2 and leaves no record; a manifest with a bad label is refused at its line and column")
    func badLabelsRefused() throws {
        try KernelSandbox.with { sandbox in
            #expect(sandbox.kuke("create", "realm", "main", "--label", "team=web").status == 0)
            let realmRecord = try String(contentsOfFile: "\(sandbox.runPath)/main/realm.yaml", encoding: .utf8)

            let created = sandbox.kuke("create", "space", "lab", "--realm", "main", "--label", "Bad Key=v a l")
            #expect(created.status == 2, "\(created)")
            #expect(created.stderr.contains("label key \"Bad Key\": name part must consist of alphanumeric characters"), "\(created)")
            #expect(created.stderr.contains("label value \"v a l\" of key \"Bad Key\""), "\(created)")
            expectNoLab(sandbox, realmRecord: realmRecord)

            let manifest = try sandbox.writeManifest(
                "lab.yaml",
                """
                apiVersion: v1beta1
                kind: Space
                metadata:
                  name: lab
                  labels:
                    Bad Key: ok
                    tier: v a l
                spec: {realmId: main}

                """)
            let applied = sandbox.kuke("apply", "-f", manifest)
            #expect(applied.status == 2, "\(applied)")
            #expect(
                applied.stderr.contains(
                    "\(manifest):6:5: label key \"Bad Key\": name part must consist of alphanumeric characters, '-', '_' or '.', "
                        + "and must start and end with an alphanumeric character [label]"), "\(applied)")
            #expect(applied.stderr.contains("\(manifest):7:11: label value \"v a l\" of key \"tier\""), "\(applied)")
            #expect(applied.stderr.contains("nothing was changed"), "\(applied)")
            expectNoLab(sandbox, realmRecord: realmRecord)

            // The same space with valid labels goes through, so the refusal was the labels'.
            let fixed = try sandbox.writeManifest(
                "lab.yaml",
                "apiVersion: v1beta1\nkind: Space\nmetadata:\n  name: lab\n  labels: {example.com/tier: front, empty: \"\"}\nspec: {realmId: main}\n")
            #expect(sandbox.kuke("apply", "-f", fixed).status == 0)
            #expect(sandbox.exists("\(sandbox.runPath)/main/lab/space.yaml"))
        }
    }
}
