// KukeHost is the kernel layer: rtnetlink, cgroup2, libnftables, /proc. It exists on Linux only.
#if !os(Linux)
    #error("KukeHost (and so kuke) builds on Linux only; KukeModel and KukeEngine build anywhere")
#endif
