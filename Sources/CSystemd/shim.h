// libsystemd's sd-bus (Debian libsystemd-dev): systemd's own D-Bus client, for the systemd
// cgroup driver's slices.
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
