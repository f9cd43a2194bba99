#!/bin/bash
# The package on a fresh, stock systemd host, and a reboot. In the VM (Debian 12, systemd 252,
# cgroup v2 alone; the package installed by scripts/vm with apt, its dependencies from the image):
# boot 1: the package starts nothing; kuke-watch, enabled, makes spaces whose cpu and io limits a
#   stock root does not delegate Ready on its first start (its unit asks systemd for them); the
#   limits and the subtree_control chain survive daemon-reload, restarts of unrelated units and of
#   kuke-watch; `systemctl reload` repairs drift; stop is clean. Then `systemctl reboot`.
# boot 2: kuke-watch brings back bridges, cgroups with their limits and the table from the records
#   and the watched directory, writes the table before any space's record, and is timed from boot
#   to Ready; purge stops it and keeps the host's state.
# Run by Tests/VM/run (scripts/vm run --deb kuke.deb --copy Tests/VM/lib.sh).
source ./lib.sh
state=/var/lib/kuke-vm-test
mkdir -p $state
failures=$(cat $state/failures 2>/dev/null || echo 0)
manifests=/etc/kukeon/manifests
web=$cgroup_root/kukeon/host/web

# limits_hold WHEN: the space's limits and the controllers from the root down to the space.
limits_hold() {
  local level
  for level in "$cgroup_root" "$cgroup_root/kukeon" "$cgroup_root/kukeon/host" "$web"; do
    for controller in cpu io memory pids; do
      grep -qw $controller "$level/cgroup.subtree_control" ||
        { note "$1: $controller is missing from $level/cgroup.subtree_control"; return 1; }
    done
  done
  [[ $(cat $web/cpu.max) == "50000 100000" && $(cat $web/memory.max) == 67108864 &&
    $(cat $web/pids.max) == 64 && $(cat $web/io.weight) == "default 300" ]] ||
    { note "$1: cpu.max $(cat $web/cpu.max), memory.max $(cat $web/memory.max), pids.max $(cat $web/pids.max), io.weight $(cat $web/io.weight)"; return 1; }
}

# kernel_holds: what kuke-watch keeps: the bridges up, the cgroups, the table's rules.
kernel_holds() {
  ip link show kuke-host-web | grep -q "state UP\|,UP" &&
    ip link show kuke-host-db >/dev/null 2>&1 &&
    [[ -d $cgroup_root/kukeon/host/db ]] &&
    nft list table inet kukeon 2>/dev/null | grep -q 'iifname "kuke-host-web"'
}

if [[ $KUKE_VM_BOOT == 1 ]]; then
  section "a stock Debian 12 host with the package installed"
  note "$(systemctl --version | head -1); the root delegates: $(cat $cgroup_root/cgroup.subtree_control)"
  check "the stock root delegates neither cpu nor io (what systemd does with no unit asking)" \
    test -z "$(grep -ow 'cpu\|io' $cgroup_root/cgroup.subtree_control)"
  check "dpkg has kuke installed" bash -c "dpkg-query -W -f='\${Status}' kuke | grep -q 'install ok installed'"
  check "the package did not enable kuke-watch" test "$(systemctl is-enabled kuke-watch)" = disabled
  check "the package did not start kuke-watch" test "$(systemctl is-active kuke-watch)" = inactive

  cat >$manifests/host.yaml <<'EOF'
apiVersion: v1beta1
kind: Realm
metadata: {name: host}
spec: {}
---
apiVersion: v1beta1
kind: Space
metadata: {name: web}
spec:
  realmId: host
  network:
    egress:
      default: deny
      allow: [{cidr: 192.0.2.0/24, ports: [443]}]
  resources:
    cpu: {max: 500m}
    memory: {max: 64Mi}
    pids: {max: 64}
    io: {weight: 300}
---
apiVersion: v1beta1
kind: Space
metadata: {name: db}
spec:
  realmId: host
  resources:
    memory: {max: 32Mi}
EOF
  row=$(kuke doctor -f $manifests 2>&1 | grep -A1 "^FAIL *controllers")
  sed 's/^/     | /' <<<"$row"
  check "doctor names cpu and io as not delegated" grep -q "not-delegated): cpu .*; io " <<<"$row"
  check "doctor's fix under systemd is the set-property that lasts" \
    grep -q "systemctl set-property system.slice CPUWeight=100 IOWeight=100 (" <<<"$row"

  section "systemctl enable --now kuke-watch: Ready on the first start"
  systemctl enable --now kuke-watch 2>&1 | sed 's/^/     | /'
  check "kuke-watch is active (it sends READY=1 after its first pass)" systemctl is-active -q kuke-watch
  for space in web db; do
    check "host/$space is Ready in its record" grep -qx "  state: Ready" /opt/kukeon/host/$space/space.yaml
  done
  note "the root now delegates: $(cat $cgroup_root/cgroup.subtree_control)"
  check "the unit asked systemd for cpu and io: the limits and the chain hold" limits_hold "first start"
  check "the kernel holds bridges, cgroups and the table" kernel_holds
  check "doctor's controllers row is OK" grep -q "^OK *controllers" <<<"$(kuke doctor -f $manifests 2>&1)"

  section "the limits and the chain survive systemd's own work"
  for action in "systemctl daemon-reload" "systemctl restart systemd-journald" "systemctl restart systemd-logind" \
    "systemctl restart dbus" "systemctl restart kuke-watch" "systemctl stop kuke-watch" "systemctl start kuke-watch" \
    "systemctl daemon-reexec"; do
    $action
    sleep 1
    check "after $action" limits_hold "$action"
  done
  journalctl -u kuke-watch -b --no-pager -o cat | grep -i "error\|warn" | head -5 | sed 's/^/     | /'

  section "systemctl reload kuke-watch: a resync that repairs drift"
  echo 1073741824 >$web/memory.max
  systemctl reload kuke-watch
  check "systemctl reload kuke-watch exits 0 with only the package's dependencies" test $? = 0
  check "the reload's resync wrote memory.max back (64Mi)" wait_for 20 grep -qx 67108864 $web/memory.max

  section "systemctl stop kuke-watch is clean"
  systemctl stop kuke-watch
  note "Result=$(systemctl show -p Result --value kuke-watch) ExecMainStatus=$(systemctl show -p ExecMainStatus --value kuke-watch)"
  check "it stopped with Result=success" test "$(systemctl show -p Result --value kuke-watch)" = success
  check "kuke exited 0" test "$(systemctl show -p ExecMainStatus --value kuke-watch)" = 0
  systemctl start kuke-watch
  section "a space applied by hand, outside the watched directory"
  cat >/root/manual.yaml <<'EOF'
apiVersion: v1beta1
kind: Space
metadata: {name: manual}
spec: {realmId: host}
EOF
  kuke_ok "kuke apply -f /root/manual.yaml" apply -f /root/manual.yaml
  check "kuke get shows host/manual Ready" grep -q "^manual *host *Ready " <<<"$(kuke get spaces 2>&1)"
  # Watches this host's next boot from before kuke-watch starts: the first moment each record
  # carries the new boot's ID (the pass wrote it Ready), whether the kernel then holds the table's
  # rules for the space's bridge and the bridge itself (kuke writes the record last).
  cat >/usr/local/sbin/kuke-order-monitor <<'PY'
#!/usr/bin/python3
import subprocess, time
boot = open("/proc/sys/kernel/random/boot_id").read().strip()
spaces = {"web": "/opt/kukeon/host/web/space.yaml", "db": "/opt/kukeon/host/db/space.yaml"}
seen = set()
with open("/var/lib/kuke-vm-test/order.log", "w") as out:
    deadline = time.monotonic() + 300
    while len(seen) < len(spaces) and time.monotonic() < deadline:
        for name, path in spaces.items():
            if name in seen:
                continue
            try:
                text = open(path).read()
            except OSError:
                continue
            if "bootId: " + boot not in text:
                continue
            bridge = text.split("    bridge: ", 1)[1].split("\n", 1)[0]
            table = subprocess.run(["nft", "list", "table", "inet", "kukeon"], capture_output=True, text=True).stdout
            rules = 'iifname "%s" oifname "kuke-*"' % bridge in table
            link = subprocess.run(["ip", "link", "show", bridge], capture_output=True).returncode == 0
            uptime = open("/proc/uptime").read().split()[0]
            out.write("%s s: host/%s Ready in this boot; rules %s; bridge %s\n"
                      % (uptime, name, "present" if rules else "MISSING", "present" if link else "MISSING"))
            out.flush()
            seen.add(name)
        time.sleep(0.02)
PY
  chmod 0755 /usr/local/sbin/kuke-order-monitor
  cat >/etc/systemd/system/kuke-order-monitor.service <<'UNIT'
[Unit]
Description=VM test: what the kernel holds when kuke-watch writes a record Ready
DefaultDependencies=no
After=local-fs.target
Before=kuke-watch.service

[Service]
ExecStart=/usr/local/sbin/kuke-order-monitor

[Install]
WantedBy=multi-user.target
UNIT
  systemctl enable kuke-order-monitor.service 2>&1 | sed 's/^/     | /'
  echo "$failures" >$state/failures
  section "systemctl reboot"
  exit 100
fi

section "after the reboot (boot $KUKE_VM_BOOT)"
check "kuke-watch is active (started at boot)" wait_for 120 systemctl is-active -q kuke-watch
ready=$(systemctl show -p ActiveEnterTimestampMonotonic --value kuke-watch)
started=$(systemctl show -p ExecMainStartTimestampMonotonic --value kuke-watch)
note "from boot to kuke-watch Ready: $((ready / 1000)) ms (its first pass: $(((ready - started) / 1000)) ms)"
check "the kernel holds bridges, cgroups and the table again" kernel_holds
check "the limits and the chain hold again" limits_hold "after reboot"
for space in web db; do
  check "host/$space is Ready in its record" grep -qx "  state: Ready" /opt/kukeon/host/$space/space.yaml
done
journalctl -b -u kuke-watch --no-pager -o short-monotonic >"$KUKE_VM_RESULTS/kuke-watch-boot2.log"
journalctl -b --no-pager -o short-monotonic >"$KUKE_VM_RESULTS/journal-boot2.log"
wait_for 30 test "$(wc -l <$state/order.log 2>/dev/null)" = 2
sed 's/^/     | /' $state/order.log
check "when host/web's record said Ready in this boot, its rules and bridge were in the kernel" \
  grep -q "host/web Ready in this boot; rules present; bridge present" $state/order.log
check "when host/db's record said Ready in this boot, its rules and bridge were in the kernel" \
  grep -q "host/db Ready in this boot; rules present; bridge present" $state/order.log
kuke diff -f $manifests >/tmp/diff 2>&1
check "kuke diff finds no drift (exit 0)" test $? = 0

section "the space applied by hand: no pass has run for it in this boot"
spaces=$(kuke get spaces 2>&1)
sed 's/^/     | /' <<<"$spaces"
check "kuke get shows host/manual Stale, not Ready: its bridge is gone" grep -q "^manual *host *Stale " <<<"$spaces"
check "and warns that the kernel forgot it" grep -q "warning: 1 space(s) Stale" <<<"$spaces"
check "kuke get shows host/web Ready: kuke-watch's pass wrote it in this boot" grep -q "^web *host *Ready " <<<"$spaces"
manual_bridge=$(sed -n 's/^    bridge: //p' /opt/kukeon/host/manual/space.yaml)
check "the bridge of host/manual ($manual_bridge) is indeed gone" bash -c "! ip link show '$manual_bridge' >/dev/null 2>&1"
kuke_ok "kuke apply -f /root/manual.yaml" apply -f /root/manual.yaml
check "then it is Ready, with its bridge" bash -c "kuke get spaces manual 2>&1 | grep -q '^manual *host *Ready ' && ip link show '$manual_bridge' >/dev/null"

section "apt-get purge kuke: stops kuke-watch, keeps the host's state"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q kuke >/tmp/purge 2>&1
check "apt-get purge kuke exits 0" test $? = 0
check "kuke-watch is stopped" test "$(systemctl is-active kuke-watch)" != active
check "the records stay" test -f /opt/kukeon/host/web/space.yaml
check "the conflists stay" test -f /etc/cni/net.d/host-web.conflist
check "the manifests stay" test -f $manifests/host.yaml
check "the bridge stays" ip link show kuke-host-web
finish
