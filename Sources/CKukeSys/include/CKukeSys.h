#ifndef CKUKESYS_H
#define CKUKESYS_H
// Kernel headers kuke's host drivers need: rtnetlink messages and attributes,
// interface flags, and filesystem magic numbers for statfs.
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>
#include <linux/if_addr.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/vfs.h>
#include <sys/file.h>
#include <errno.h>

/// The sockaddr_nl of the kernel (pid 0), for sendto on a NETLINK_ROUTE socket.
static inline struct sockaddr_nl ckuke_kernel_address(void) {
    struct sockaddr_nl address = {0};
    address.nl_family = AF_NETLINK;
    return address;
}

/// The f_type statfs reports for `path`, or -errno.
static inline long ckuke_filesystem_magic(const char *path) {
    struct statfs info;
    if (statfs(path, &info) != 0) return -(long)errno;
    return (long)info.f_type;
}
#endif
