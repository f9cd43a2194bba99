#ifndef CKUKESYS_H
#define CKUKESYS_H
// Kernel headers kuke's host drivers need: rtnetlink and nfnetlink (nf_tables) messages and
// attributes, interface flags, and filesystem magic numbers for statfs. The drivers take
// their constants from here, never typed in by hand.
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>
#include <linux/if_addr.h>
#include <linux/magic.h>
// glibc's netinet/in.h first: linux/netfilter.h pulls in linux/in.h and linux/in6.h, whose
// libc-compat guard then leaves in_addr, sockaddr_in and in6_addr to glibc (one definition).
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/ipv6.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/vfs.h>
#include <sys/file.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#define CKUKE_HAS_OPENAT2 1
#endif
#include <sys/syscall.h>
#include <unistd.h>

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

/// O_PATH, which needs _GNU_SOURCE in the C headers and so is not in Swift's Glibc.
#define CKUKE_O_PATH 010000000

/// O_TMPFILE (with O_DIRECTORY, as the C headers define it): an unnamed file in a directory.
static const int CKUKE_O_TMPFILE = 020000000 | O_DIRECTORY;

/// openat2(2) with RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH: `path` (relative to `dirfd`) is
/// resolved without following any symbolic link and without leaving `dirfd`. Returns the
/// descriptor, or -1 with errno (ENOSYS on kernels before 5.6, ELOOP at a link, EXDEV on escape).
static inline int ckuke_open_beneath(int dirfd, const char *path, int flags, unsigned int mode) {
#if defined(SYS_openat2) && defined(CKUKE_HAS_OPENAT2)
    struct open_how how = {0};
    how.flags = (unsigned long long)flags;
    how.mode = (flags & O_CREAT) ? mode : 0;
    how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH;
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
#else
    errno = ENOSYS;
    return -1;
#endif
}
/// syncfs(2): commits the whole filesystem `fd` is on (one sync for a group of writes).
static inline int ckuke_syncfs(int fd) {
#ifdef SYS_syncfs
    return (int)syscall(SYS_syncfs, fd);
#else
    errno = ENOSYS;
    return -1;
#endif
}

/// eventfd(2), non-blocking and close-on-exec: a descriptor `poll` can wait on to be woken.
static inline int ckuke_wake_descriptor(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }

#endif
