import KukeEngine
import KukeModel

/// The real drivers for a host layout.
public enum HostFactory {
    public static func drivers(for layout: HostLayout, onLockWait: @escaping @Sendable (String) -> Void = { _ in }) -> HostDrivers {
        HostDrivers(
            files: LocalFileStore(roots: [layout.runPath, layout.cniConfigDirectory]),
            links: NetlinkLinkControl(),
            cgroups: layout.cgroupDriver == .systemd ? SystemdSlices(root: layout.cgroupRoot) : CgroupFilesystem(root: layout.cgroupRoot),
            lock: FlockHostLock(path: layout.lockPath, onWait: onLockWait),
            firewall: NftablesFirewall(), resolver: SystemResolver(), plugins: CNIPluginRunner(directories: layout.cniPluginDirectories))
    }
}
