import Glibc

/// The shared objects this process has mapped, as the kernel names them in /proc/self/maps
/// (real paths, symbolic links resolved): what `kuke version` reports for the libraries that
/// export no version of their own (libnftables, libinotifytools). Their file names carry the
/// library's version (`libnftables.so.1.1.0`).
public enum LoadedLibraries {
    /// The mapped files whose name starts with `prefix` + ".so" (`libnftables` finds
    /// `/usr/lib/x86_64-linux-gnu/libnftables.so.1.1.0`), each once, in order of address.
    public static func files(named prefix: String, maps: String? = ProcFile.read("/proc/self/maps")) -> [String] {
        guard let text = maps else { return [] }
        var found: [String] = []
        for line in text.split(separator: "\n") {
            // address perms offset dev inode path: the path is the rest of the line from its first "/".
            guard let slash = line.firstIndex(of: "/") else { continue }
            let path = line[slash...]
            guard let name = path.split(separator: "/").last, name.hasPrefix(prefix + ".so") else { continue }
            let file = String(path)
            if !found.contains(file) { found.append(file) }
        }
        return found
    }
}
