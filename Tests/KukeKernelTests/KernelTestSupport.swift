import Foundation
import Glibc
import KukeTestSupport
import KukeWatch
import Testing

let examples = """
    apiVersion: v1beta1
    kind: Realm
    metadata:
      name: main
    spec: {}
    ---
    apiVersion: v1beta1
    kind: Space
    metadata:
      name: blog
    spec:
      realmId: main
    ---
    apiVersion: v1beta1
    kind: Space
    metadata:
      name: analytics-pipeline
    spec:
      realmId: main
    """

extension KernelSandbox {
    var blogCgroup: String { "\(cgroupRoot)/kukeon/main/blog" }
    var blogConflist: String { "\(cniDirectory)/main-blog.conflist" }
    var blogRecord: String { "\(runPath)/main/blog/space.yaml" }

    /// Applies the standard two-space batch and checks it succeeded.
    func applyExamples(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let path = try writeManifest("examples.yaml", examples)
        let result = kuke("apply", "-f", path)
        #expect(result.status == 0, "\(result)", sourceLocation: sourceLocation)
        return path
    }

    func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }
}
