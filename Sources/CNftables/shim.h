// libnftables (Debian libnftables-dev): the library nft itself uses, with atomic transactions.
#include <nftables/libnftables.h>
