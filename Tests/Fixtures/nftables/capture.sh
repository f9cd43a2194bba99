#!/usr/bin/env bash
# Captures, from the real kernel and the real nft, the isolation table kuke writes for
# examples/ (blog, shop with default deny, analytics-pipeline), after traffic it drops:
#   examples.json      `nft -j list table inet kukeon` (what NftablesFirewall decodes)
#   examples.nft       `nft list table inet kukeon`, the same table as text (what the JSON's
#                      rules must read as, in nft's own syntax)
#   examples-table.hex the kernel's NFT_MSG_NEWTABLE reply to NFT_MSG_GETTABLE for the table,
#                      as hex (its NFTA_TABLE_USERDATA holds the comment, kuke's mark)
# Drops: 3 pings blog -> shop (isolate, kuke-main-blog), 2 pings shop -> blog (isolate,
# kuke-main-shop), 4 pings shop -> 203.0.113.2 (deny, kuke-main-shop); none for analytics.
# The run path is /mnt/kukeon (a tmpfs in the sandbox's mount namespace), so the table's owner is
# stable: run:/mnt/kukeon. Usage (as root, after `swift build`): Tests/Fixtures/nftables/capture.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
if [[ ${KUKE_IN_SANDBOX:-} != 1 ]]; then
  exec "$root/scripts/sandbox" "$0" "$@"
fi
mount -t tmpfs kuke-fixture /mnt
export KUKEON_RUN_PATH=/mnt/kukeon
"$root/.build/debug/kuke" apply -f "$root/examples/" >/dev/null

token=$$
cells=()
cleanup() { for cell in "${cells[@]}"; do ip netns del "$cell" 2>/dev/null || true; done; }
trap cleanup EXIT
# cell NAME BRIDGE NET: a namespace behind a veth port of BRIDGE, NET.2 with the gateway NET.1.
cell() {
  cells+=("$1")
  ip netns add "$1"
  ip link add "p$token${#cells[@]}" type veth peer name eth0 netns "$1"
  ip link set "p$token${#cells[@]}" master "$2" up
  ip address add "$3.1/24" dev "$2"
  ip -n "$1" address add "$3.2/24" dev eth0
  ip -n "$1" link set eth0 up
  ip -n "$1" route add default via "$3.1"
}
net() { sed -n 's/^    subnet: \(.*\)\.0\/24$/\1/p' "$KUKEON_RUN_PATH/main/$1/space.yaml"; }
sysctl -qw net.ipv4.ip_forward=1
cell "fx-blog-$token" kuke-main-blog "$(net blog)"
cell "fx-shop-$token" kuke-main-shop "$(net shop)"
cells+=("fx-out-$token")
ip netns add "fx-out-$token"
ip link add "o$token" type veth peer name eth0 netns "fx-out-$token"
ip address add 203.0.113.1/24 dev "o$token"
ip link set "o$token" up
ip -n "fx-out-$token" address add 203.0.113.2/24 dev eth0
ip -n "fx-out-$token" link set eth0 up
ping() { ip netns exec "$1" ping -q -c "$3" -i 0.2 -W 1 "$2" >/dev/null && echo "not dropped: $1 -> $2" >&2 && exit 1 || true; }
ping "fx-blog-$token" "$(net shop).2" 3
ping "fx-shop-$token" "$(net blog).2" 2
ping "fx-shop-$token" 203.0.113.2 4

nft -j list table inet kukeon >"$here/examples.json"
nft list table inet kukeon >"$here/examples.nft"
python3 - >"$here/examples-table.hex" <<'PYTHON'
import socket, struct
# NFT_MSG_GETTABLE (subsystem NFNL_SUBSYS_NFTABLES) for inet kukeon, NLM_F_REQUEST | NLM_F_ACK.
name = b"kukeon\0"
attribute = struct.pack("=HH", 4 + len(name), 1) + name + b"\0" * (-len(name) % 4)
body = struct.pack("=BBH", 1, 0, 0) + attribute
request = struct.pack("=IHHII", 16 + len(body), (10 << 8) | 1, 0x1 | 0x4, 1, 0) + body
with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12) as netfilter:
    netfilter.send(request)
    reply = netfilter.recv(65536)
length, kind = struct.unpack_from("=IH", reply)
assert kind == (10 << 8), f"expected NFT_MSG_NEWTABLE, got {kind:#x}"
print(reply[:length].hex())
PYTHON
