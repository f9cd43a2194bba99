import FuzzChecks
import KukeEngine
import KukeModel

/// libFuzzer's entry point: the bytes are choices (`Choices`) that build one schema-shaped
/// document (`SchemaDocument`): a Space, a Realm or a HostConfig with hostile numbers. It goes
/// through the byte fuzzer's checks (`ManifestChecks`: what `kuke apply -f` reads), then through
/// what re-reads the values later (`SchemaChecks`): the limits, the egress policy, the record
/// decoder with a hand-edited status, the planner and `kuke top`'s reading of cgroup files.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var choices = Choices(Array(UnsafeBufferPointer(start: data, count: size)))
    let kind = choices.pick(["Space", "Realm", "Space", "HostConfig"])
    var document = SchemaDocument(choices)
    document.document(kind: kind, status: document.choices.chance(30))
    let text = document.text
    if kind == "HostConfig" {
        SchemaChecks.hostConfig(text)
        return 0
    }
    for resource in ManifestChecks.decode(Array(text.utf8), file: "schema.yaml") {
        switch resource {
        case .space(let space):
            SchemaChecks.validLimits(space.spec.resources, text: text)
            SchemaChecks.validEgress(space.spec.network, text: text)
        case .realm(let realm):
            SchemaChecks.validLimits(realm.spec.resources, text: text)
        }
    }
    SchemaChecks.record(text, kind: kind, choices: &document.choices)
    return 0
}

/// The executable's `main` (see `runLibFuzzer`).
@_cdecl("SchemaFuzzer_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runLibFuzzer(argc, argv) { data, size in fuzz(data, size) }
}
