import CSystemd
import Glibc
import KukeEngine

/// What the systemd cgroup driver asks of systemd (`SystemdSlices`): a narrow seam, so the
/// driver's mapping is tested against a fake and the real bus only in a VM under systemd.
public protocol UnitBus: Sendable {
    /// Why systemd cannot be asked, nil when it answers.
    func problem() -> String?
    /// Makes `name` a running transient slice with `properties` (`StartTransientUnit`); a slice
    /// that exists already (a transient one kuke made, or one systemd made for a child) gets the
    /// properties and is started.
    func startSlice(_ name: String, description: String, properties: [UnitProperty]) throws(HostError)
    /// `SetUnitProperties` at runtime (a drop-in under /run/systemd/system.control), applied now.
    func setProperties(_ name: String, _ properties: [UnitProperty]) throws(HostError)
    /// `StopUnit`; a unit systemd does not know is stopped already.
    func stop(_ name: String) throws(HostError)
}

/// `UnitBus` over libsystemd's sd-bus: systemd's private socket (what `systemctl` uses as root,
/// so no D-Bus daemon is needed), else the system bus. A connection per request: the driver asks
/// only when something changes, and sd-bus connections are not to be shared between threads.
public struct SystemdBus: UnitBus {
    static let destination = "org.freedesktop.systemd1"
    static let objectPath = "/org/freedesktop/systemd1"
    static let manager = "org.freedesktop.systemd1.Manager"

    public init() {}

    public func problem() -> String? {
        if sd_booted() <= 0 { return "systemd is not this host's init (no /run/systemd/system): use the cgroupfs driver" }
        do throws(HostError) {
            try call("GetUnit", ["-.slice"])
            return nil
        } catch {
            return "systemd does not answer on its bus: \(error)"
        }
    }

    public func startSlice(_ name: String, description: String, properties: [UnitProperty]) throws(HostError) {
        do {
            try call(
                "StartTransientUnit", [name, "fail"], properties: [UnitProperty("Description", .string(description))] + properties, auxiliary: true)
        } catch  where error.message.contains("org.freedesktop.systemd1.UnitExists") {
            if !properties.isEmpty { try setProperties(name, properties) }
            try call("StartUnit", [name, "replace"])
        }
    }

    public func setProperties(_ name: String, _ properties: [UnitProperty]) throws(HostError) {
        try call("SetUnitProperties", [name], runtime: true, properties: properties)
        // systemd applies the properties to the cgroup after it answered, before it reads the
        // next request: this round trip makes the kernel's files hold them when it returns.
        try call("GetUnit", [name])
    }

    public func stop(_ name: String) throws(HostError) {
        do {
            try call("StopUnit", [name, "replace"])
        } catch  where error.message.contains("org.freedesktop.systemd1.NoSuchUnit") {
            return
        }
    }

    /// One method call on systemd's manager: `strings` first, then (when given) the `runtime`
    /// boolean, the `a(sv)` properties and an empty `a(sa(sv))`, in the order the method takes them.
    func call(
        _ member: String, _ strings: [String], runtime: Bool? = nil, properties: [UnitProperty]? = nil, auxiliary: Bool = false
    ) throws(HostError) {
        let bus = try connect()
        defer { sd_bus_flush_close_unref(bus) }
        var message: OpaquePointer?
        try check(sd_bus_message_new_method_call(bus, &message, Self.destination, Self.objectPath, Self.manager, member), "\(member): building")
        defer { sd_bus_message_unref(message) }
        for string in strings { try check(sd_bus_message_append_basic(message, type("s"), string), "\(member): building") }
        if let runtime {
            var flag: Int32 = runtime ? 1 : 0
            try check(sd_bus_message_append_basic(message, type("b"), &flag), "\(member): building")
        }
        if let properties { try append(properties, to: message, member) }
        if auxiliary {
            try check(sd_bus_message_open_container(message, type("a"), "(sa(sv))"), "\(member): building")
            try check(sd_bus_message_close_container(message), "\(member): building")
        }
        var error = sd_bus_error()
        var reply: OpaquePointer?
        let result = sd_bus_call(bus, message, 30_000_000, &error, &reply)
        defer {
            sd_bus_error_free(&error)
            sd_bus_message_unref(reply)
        }
        if result < 0 {
            let name = error.name.map { String(cString: $0) } ?? ""
            let text = error.message.map { String(cString: $0) } ?? SystemError.text(-result)
            throw HostError("systemd \(member) \(strings.first ?? ""): \(text)\(name.isEmpty ? "" : " (\(name))")", errno: .init(rawValue: -result))
        }
    }

    func append(_ properties: [UnitProperty], to message: OpaquePointer?, _ member: String) throws(HostError) {
        let what = "\(member): building"
        try check(sd_bus_message_open_container(message, type("a"), "(sv)"), what)
        for property in properties {
            try check(sd_bus_message_open_container(message, type("r"), "sv"), what)
            try check(sd_bus_message_append_basic(message, type("s"), property.name), what)
            switch property.value {
            case .uint64(var number):
                try check(sd_bus_message_open_container(message, type("v"), "t"), what)
                try check(sd_bus_message_append_basic(message, type("t"), &number), what)
            case .string(let string):
                try check(sd_bus_message_open_container(message, type("v"), "s"), what)
                try check(sd_bus_message_append_basic(message, type("s"), string), what)
            case .devices(let entries):
                try check(sd_bus_message_open_container(message, type("v"), "a(st)"), what)
                try check(sd_bus_message_open_container(message, type("a"), "(st)"), what)
                for entry in entries {
                    var number = entry.value
                    try check(sd_bus_message_open_container(message, type("r"), "st"), what)
                    try check(sd_bus_message_append_basic(message, type("s"), entry.path), what)
                    try check(sd_bus_message_append_basic(message, type("t"), &number), what)
                    try check(sd_bus_message_close_container(message), what)
                }
                try check(sd_bus_message_close_container(message), what)
            }
            try check(sd_bus_message_close_container(message), what)  // v
            try check(sd_bus_message_close_container(message), what)  // r
        }
        try check(sd_bus_message_close_container(message), what)
    }

    /// systemd's private socket (root only, no D-Bus daemon involved), else the system bus.
    func connect() throws(HostError) -> OpaquePointer? {
        var bus: OpaquePointer?
        if sd_bus_new(&bus) >= 0 {
            if sd_bus_set_address(bus, "unix:path=/run/systemd/private") >= 0, sd_bus_start(bus) >= 0 { return bus }
            sd_bus_unref(bus)
            bus = nil
        }
        try check(sd_bus_open_system(&bus), "connecting to systemd (its private socket and the system bus)")
        return bus
    }

    func check(_ result: Int32, _ what: String) throws(HostError) {
        if result < 0 { throw SystemError.hostError(what, -result) }
    }

    func type(_ letter: Unicode.Scalar) -> CChar { CChar(UInt8(ascii: letter)) }
}
