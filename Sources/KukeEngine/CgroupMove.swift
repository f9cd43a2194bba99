import KukeModel

extension HostLayout {
    /// The controllers the host's cgroup manager enables by itself: systemd's under the systemd
    /// driver (kuke never writes them into `cgroup.subtree_control` there), none under cgroupfs.
    public var managedControllers: Set<String> { cgroupDriver == .systemd ? SystemdControllers.managed : [] }
}

/// A resource whose cgroup the host's settings now put elsewhere (the cgroup driver or the
/// cgroup root changed) while the recorded one still exists. kuke does not move a cgroup: the
/// processes in it, and whatever placed them there, would stay behind, under limits no one
/// keeps. Until the old cgroup is gone, the resource fails `CgroupMoved` and nothing is changed.
enum CgroupMove {
    static func check(recorded: String?, current: String, of resource: String, context: PassContext) throws(Failure) {
        guard let recorded, recorded != current else { return }
        let exists: Bool
        do { exists = try context.drivers.cgroups.observe(recorded) != nil } catch { throw Failure.host(.cgroupFailed, error) }
        guard exists else { return }
        throw Failure(
            .cgroupMoved,
            "\(resource) has its cgroup at \(recorded), and this host's settings (cgroup driver \(context.layout.cgroupDriver.rawValue), root \(context.layout.cgroupRoot)) put it at \(current); kuke does not move a cgroup with its processes: go back to the settings that made it, or stop what runs in it and delete it with those settings first (nothing was changed)"
        )
    }
}
