import KukeEngine
import KukeModel

/// The properties both fuzz targets check on one manifest file. Beyond "no crash, no hang, no
/// runaway memory" (libFuzzer's own checks): every issue has a position, and every resource
/// that decodes cleanly survives the record round trip (stored as `space.yaml`/`realm.yaml`
/// and read back, it is the same manifest). A broken property traps, so libFuzzer saves the input.
public enum ManifestChecks {
    /// Decodes `bytes` as `kuke apply -f` reads one file, checks the properties, and returns the
    /// resources when the file is valid (empty otherwise).
    @discardableResult
    public static func decode(_ bytes: [UInt8], file: String) -> [Resource] {
        let (resources, issues) = ManifestLoader.decode(bytes: bytes, file: file)
        for issue in issues {
            precondition(issue.position.line >= 1 && issue.position.column >= 1, "an issue without a position: \(issue)")
        }
        guard issues.isEmpty else { return [] }
        for resource in resources {
            switch resource {
            case .space(let space):
                let record = SpaceRecord(metadata: space.metadata, spec: space.spec, status: SpaceStatus())
                let text = RecordCodec.recordText(RecordCodec.value(of: record))
                guard let back = try? RecordCodec.decodeSpace(text, file: "space.yaml") else {
                    preconditionFailure("a valid space does not read back from its record:\n\(text)")
                }
                precondition(back.spec == space.spec && back.metadata.name == space.metadata.name, "the space changed in its record:\n\(text)")
            case .realm(let realm):
                let record = RealmRecord(metadata: realm.metadata, spec: realm.spec, status: RealmStatus())
                let text = RecordCodec.recordText(RecordCodec.value(of: record))
                guard let back = try? RecordCodec.decodeRealm(text, file: "realm.yaml") else {
                    preconditionFailure("a valid realm does not read back from its record:\n\(text)")
                }
                precondition(back.spec == realm.spec && back.metadata.name == realm.metadata.name, "the realm changed in its record:\n\(text)")
            }
        }
        return resources
    }
}

/// libFuzzer's driver, from its runtime.
@_silgen_name("LLVMFuzzerRunDriver")
func runDriver(
    _ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32
) -> Int32

/// Hands the process over to libFuzzer's driver, which calls `callback` with each input.
/// SwiftPM links an executable with `main` aliased to `<Module>_main`; with `-parse-as-library`
/// no such function is emitted, so each target defines it and calls this.
public func runLibFuzzer(
    _ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32
) -> Int32 {
    var count = argc
    var arguments = argv
    return runDriver(&count, &arguments, callback)
}
