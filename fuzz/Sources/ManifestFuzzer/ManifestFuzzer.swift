import FuzzChecks

/// libFuzzer's entry point: one input is the bytes of one manifest file, checked as
/// `ManifestChecks.decode` says.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    ManifestChecks.decode(Array(UnsafeBufferPointer(start: data, count: size)), file: "fuzz.yaml")
    return 0
}

/// The executable's `main` (see `runLibFuzzer`).
@_cdecl("ManifestFuzzer_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runLibFuzzer(argc, argv) { data, size in fuzz(data, size) }
}
