#!/usr/bin/env bash
# The plain one-shot script an operator writes once: the four materializations of N spaces with
# no checks, no temp files and no fsync (`ip link add` and `ip link set up`, `mkdir`, and the
# conflist and space.yaml written with printf). Not idempotent and not crash-safe: the point of
# comparison issue 13 asks for beside baseline.sh (which checks, and so can run again).
# Usage: oneshot.sh N   (paths from KUKEON_RUN_PATH, KUKEON_CNI_CONFIG_DIR and
#        KUKEON_CGROUP_ROOT; realm "bench", spaces s1..sN; baseline.sh delete N removes them)
set -euo pipefail
count=$1
run=$KUKEON_RUN_PATH cni=$KUKEON_CNI_CONFIG_DIR cg=$KUKEON_CGROUP_ROOT/kukeon
realm=bench
mkdir -p "$run/$realm" "$cni" "$cg/$realm"
for i in $(seq 1 "$count"); do
  space=s$i bridge=kb-$realm-s$i subnet=10.$((i / 256 + 1)).$((i % 256)).0/24
  ip link add "$bridge" type bridge
  ip link set "$bridge" up
  mkdir "$cg/$realm/$space" "$run/$realm/$space"
  printf '{"cniVersion":"1.0.0","name":"%s","plugins":[{"type":"bridge","bridge":"%s","isGateway":true,"ipMasq":true,"ipam":{"type":"host-local","ranges":[[{"subnet":"%s"}]],"routes":[{"dst":"0.0.0.0/0"}]}}]}\n' \
    "$realm-$space" "$bridge" "$subnet" >"$cni/$realm-$space.conflist"
  printf 'apiVersion: v1beta1\nkind: Space\nmetadata:\n  name: %s\nspec:\n  realmId: %s\nstatus:\n  state: Ready\n  network:\n    bridge: %s\n    subnet: %s\n' \
    "$space" "$realm" "$bridge" "$subnet" >"$run/$realm/$space/space.yaml"
done
