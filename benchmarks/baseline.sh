#!/usr/bin/env bash
# The four materializations of N spaces written as an operator would script them, one
# command per step: `ip link add`, `mkdir`, and the conflist and space.yaml written from
# the shell (temp file + mv, so a reader never sees half a file). The comparison point
# for `kuke apply` in benchmarks/run.
# Usage: baseline.sh create|apply-again|delete N   (paths from KUKEON_RUN_PATH,
#        KUKEON_CNI_CONFIG_DIR and KUKEON_CGROUP_ROOT; realm "bench", spaces s1..sN)
set -euo pipefail
action=$1 count=$2
run=$KUKEON_RUN_PATH cni=$KUKEON_CNI_CONFIG_DIR cg=$KUKEON_CGROUP_ROOT/kukeon
realm=bench

conflist() { # name bridge subnet
  cat <<JSON
{
  "cniVersion": "1.0.0",
  "name": "$1",
  "plugins": [
    {
      "bridge": "$2",
      "ipMasq": true,
      "ipam": {"ranges": [[{"subnet": "$3"}]], "routes": [{"dst": "0.0.0.0/0"}], "type": "host-local"},
      "isGateway": true,
      "type": "bridge"
    }
  ]
}
JSON
}

record() { # space bridge subnet
  cat <<YAML
apiVersion: v1beta1
kind: Space
metadata:
  name: $1
spec:
  realmId: $realm
status:
  state: Ready
  network:
    bridge: $2
    subnet: $3
YAML
}

write() { # path, content on stdin
  cat > "$1.tmp" && mv "$1.tmp" "$1"
}

mkdir -p "$run/$realm" "$cni" "$cg/$realm"
for i in $(seq 1 "$count"); do
  space=s$i bridge=kb-$realm-s$i subnet=10.$((i / 256 + 1)).$((i % 256)).0/24
  case $action in
    create|apply-again)
      if ! ip link show "$bridge" >/dev/null 2>&1; then
        ip link add "$bridge" type bridge
        ip link set "$bridge" up
      fi
      [[ -d $cg/$realm/$space ]] || mkdir "$cg/$realm/$space"
      mkdir -p "$run/$realm/$space"
      if ! conflist "$realm-$space" "$bridge" "$subnet" | cmp -s - "$cni/$realm-$space.conflist"; then
        conflist "$realm-$space" "$bridge" "$subnet" | write "$cni/$realm-$space.conflist"
      fi
      if ! record "$space" "$bridge" "$subnet" | cmp -s - "$run/$realm/$space/space.yaml"; then
        record "$space" "$bridge" "$subnet" | write "$run/$realm/$space/space.yaml"
      fi
      ;;
    delete)
      ip link delete "$bridge" 2>/dev/null || true
      rm -f "$cni/$realm-$space.conflist"
      rmdir "$cg/$realm/$space" 2>/dev/null || true
      rm -rf "$run/$realm/$space"
      ;;
  esac
done
if [[ $action == delete ]]; then rmdir "$cg/$realm" "$run/$realm" 2>/dev/null || true; fi
