/// How a systemd host is made to delegate a cgroup controller at its root. systemd owns the
/// root's `cgroup.subtree_control`: it enables a controller there when a unit needs it, and a
/// hand-written `+cpu` lasts only until the next boot. A unit that sets one of these properties
/// (the packaged `kuke-watch.service` sets all four, at systemd's default values) makes systemd
/// enable the controller at every boot; the VM tests (Tests/VM) show it on Debian 12.
public enum SystemdControllers {
    /// The unit property whose presence makes systemd enable `controller`, at its default value;
    /// nil for a controller systemd does not manage (`hugetlb`, `rdma`, `misc`).
    public static func property(for controller: String) -> String? {
        switch controller {
        case "cpu": "CPUWeight=100"
        case "io": "IOWeight=100"
        case "memory": "MemoryAccounting=yes"
        case "pids": "TasksAccounting=yes"
        default: nil
        }
    }

    /// The controllers systemd enables and disables itself in the `cgroup.subtree_control` of the
    /// cgroups it manages: under the systemd driver kuke never writes them there (systemd would
    /// take them back at its next realization of the slice); its unit properties ask for them.
    public static let managed: Set<String> = ["cpu", "cpuset", "io", "memory", "pids"]

    /// The command that makes systemd enable `controllers` at the root now and at every boot, nil
    /// when none of them is systemd's: the properties on `system.slice`, a slice every host has.
    public static func setProperty(_ controllers: [String]) -> String? {
        let properties = controllers.compactMap(property(for:))
        guard !properties.isEmpty else { return nil }
        return "systemctl set-property system.slice \(properties.joined(separator: " "))"
    }
}
