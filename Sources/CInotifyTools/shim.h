// libinotifytools (Debian libinotifytools0-dev) and the inotify event constants.
#include <sys/inotify.h>
#include <inotifytools/inotifytools.h>
