import CKukeBuild
import Foundation
import KukeHost
import KukeModel

/// What kuke is and what it runs with, for `kuke version` and bug reports.
struct BuildInfo {
    /// kuke's release version (also `kuke --version`).
    static let version = "0.1.0"
    /// The Git commit it was built from (`-dirty` with uncommitted changes), or "unknown".
    static var commit: String { String(cString: ckuke_build_commit()) }

    /// The Swift compiler that built kuke (Swift has no run-time version string).
    static let swiftCompiler: String = {
        #if compiler(>=7.0)
            return "7.0 or later"
        #elseif compiler(>=6.4.4)
            return "6.4.4"
        #elseif compiler(>=6.4.3)
            return "6.4.3"
        #elseif compiler(>=6.4.2)
            return "6.4.2"
        #elseif compiler(>=6.4.1)
            return "6.4.1"
        #elseif compiler(>=6.4.0)
            return "6.4"
        #elseif compiler(>=6.3.4)
            return "6.3.4"
        #elseif compiler(>=6.3.3)
            return "6.3.3"
        #elseif compiler(>=6.3.2)
            return "6.3.2"
        #elseif compiler(>=6.3.1)
            return "6.3.1"
        #elseif compiler(>=6.3.0)
            return "6.3"
        #elseif compiler(>=6.2.4)
            return "6.2.4"
        #elseif compiler(>=6.2.3)
            return "6.2.3"
        #elseif compiler(>=6.2.2)
            return "6.2.2"
        #elseif compiler(>=6.2.1)
            return "6.2.1"
        #elseif compiler(>=6.2.0)
            return "6.2"
        #elseif compiler(>=6.1.4)
            return "6.1.4"
        #elseif compiler(>=6.1.3)
            return "6.1.3"
        #elseif compiler(>=6.1.2)
            return "6.1.2"
        #elseif compiler(>=6.1.1)
            return "6.1.1"
        #elseif compiler(>=6.1.0)
            return "6.1"
        #elseif compiler(>=6.0.4)
            return "6.0.4"
        #elseif compiler(>=6.0.3)
            return "6.0.3"
        #elseif compiler(>=6.0.2)
            return "6.0.2"
        #elseif compiler(>=6.0.1)
            return "6.0.1"
        #elseif compiler(>=6.0.0)
            return "6.0"
        #else
            return "before 6.0"
        #endif
    }()

    /// A shared library as loaded now: its file and the version in the file name.
    struct Library {
        var name: String
        /// The real path the process mapped, or nil when it is linked in (or not loaded).
        var file: String?
        var version: String?
        /// What to say in place of a file when the library is part of kuke's binary.
        var linkedIn = "linked in"
    }

    /// The Swift runtime: the libswiftCore this process mapped, or nil when it is linked in.
    static var swiftRuntimeFile: String? { LoadedLibraries.files(named: "libswiftCore").first }

    /// libnftables and libinotifytools, which export no version of their own: the loaded file
    /// and the library version its name carries (`libnftables.so.1.1.0` → `1.1.0`).
    static func sharedLibrary(_ name: String) -> Library {
        let file = LoadedLibraries.files(named: name).first
        let version = file.flatMap { path -> String? in
            guard let range = path.range(of: ".so.", options: .backwards) else { return nil }
            return String(path[range.upperBound...])
        }
        return Library(name: name, file: file, version: version)
    }

    /// libyaml: the version it reports of itself, and the file the process mapped.
    static var yaml: Library { Library(name: "libyaml", file: LoadedLibraries.files(named: "libyaml-0").first, version: YAMLLibrary.version) }
}
