import Foundation
import Glibc
import KukeModel
import KukeTestSupport
import Testing

/// Every dry run predicts the real run: each command runs twice on the same host, first with
/// `--dry-run`, then for real, and their outcomes, reasons, changes and exit statuses must match.
@Suite("Kernel: dry runs predict the real run", .enabled(if: KernelSandbox.enabled, "\(KernelSandbox.skipReason)"), .serialized)
struct DryRunKernelTests {
    static let examples = """
        apiVersion: v1beta1
        kind: Realm
        metadata: {name: main}
        ---
        apiVersion: v1beta1
        kind: Space
        metadata: {name: blog}
        spec: {realmId: main}
        ---
        apiVersion: v1beta1
        kind: Space
        metadata: {name: shop}
        spec:
          realmId: main
          network:
            egress:
              default: deny
              allow: [{cidr: 10.20.0.0/16, ports: [443]}]
        ---
        apiVersion: v1beta1
        kind: Space
        metadata: {name: analytics-pipeline}
        spec: {realmId: main}
        """

    /// The JSON outcomes without the `dryRun` marker, one canonical line each.
    func outcomes(_ result: Subprocess.Result) -> [String] {
        guard case .array(let items)? = try? JSONParser.parse(result.stdout) else { return ["not JSON: \(result)"] }
        return items.map { item in
            guard case .object(var object) = item else { return item.compactText }
            object["dryRun"] = nil
            return JSONValue.object(object).compactText
        }
    }

    /// Runs `arguments` dry, then for real, and checks the two agree.
    @discardableResult
    func predicts(_ sandbox: KernelSandbox, _ arguments: String..., sourceLocation: SourceLocation = #_sourceLocation) -> [String] {
        let dry = sandbox.kuke(arguments + ["--dry-run", "-o", "json"])
        let real = sandbox.kuke(arguments + ["-o", "json"])
        #expect(dry.status == real.status, "exit: dry \(dry.status), real \(real.status)\n\(dry)\n\(real)", sourceLocation: sourceLocation)
        #expect(outcomes(dry) == outcomes(real), "dry:\n\(dry.stdout)\nreal:\n\(real.stdout)", sourceLocation: sourceLocation)
        #expect(!outcomes(real).isEmpty, "\(real)", sourceLocation: sourceLocation)
        return outcomes(real)
    }

    @Test("apply (create, update, failure), create (new, existing), delete (space, refusal, files, realm --cascade)")
    func scenarios() throws {
        try KernelSandbox.with { sandbox in
            let examples = try sandbox.writeManifest("examples.yaml", Self.examples)
            predicts(sandbox, "apply", "-f", examples)  // create, with a deny space's rules installed first
            predicts(sandbox, "apply", "-f", examples)  // unchanged
            let relabeled = try sandbox.writeManifest(
                "relabel.yaml", Self.examples.replacingOccurrences(of: "metadata: {name: blog}", with: "metadata: {name: blog, labels: {tier: web}}"))
            predicts(sandbox, "apply", "-f", relabeled)  // update
            let typo = try sandbox.writeManifest(
                "typo.yaml", "apiVersion: v1beta1\nkind: Space\nmetadata: {name: blog}\nspec: {realmId: mian}\n")
            let failed = predicts(sandbox, "apply", "-f", typo)
            #expect(failed.contains { $0.contains("RealmNotFound") }, "\(failed)")

            predicts(sandbox, "create", "space", "cache", "--realm", "main")
            let exists = predicts(sandbox, "create", "space", "blog", "--realm", "main")
            #expect(exists.contains { $0.contains("AlreadyExists") })
            predicts(sandbox, "create", "realm", "lab")

            // A child record: refused without --cascade, deleted with it.
            try FileManager.default.createDirectory(atPath: "\(sandbox.runPath)/main/cache/stack-a", withIntermediateDirectories: true)
            let refused = predicts(sandbox, "delete", "space", "cache", "--realm", "main")
            #expect(refused.contains { $0.contains("HasChildren") })
            predicts(sandbox, "delete", "space", "cache", "--realm", "main", "--cascade")

            // The files' spaces, then their realm, in one pass (a dry run once said ForeignFiles here).
            let deleted = predicts(sandbox, "delete", "-f", examples)
            #expect(deleted.allSatisfy { !$0.contains("\"error\"") }, "\(deleted)")
            #expect(sandbox.kuke("get", "spaces").stdout.contains("No spaces found."))

            predicts(sandbox, "apply", "-f", examples)
            predicts(sandbox, "delete", "realm", "main", "--cascade")
            predicts(sandbox, "delete", "realm", "lab")
        }
    }
}
