#!/bin/bash
# The limits test again under the systemd cgroup driver (cgroupDriver: systemd): realms and
# spaces are slices made through systemd's bus, cells are scopes started with systemd-run in
# them, Podman uses its systemd cgroup manager. Then what only this driver does: the limits as
# unit properties, drift through systemd (set-property, a slice stopped by hand), daemon-reload,
# delete stopping the slice and never while something runs in it, a switch of driver refused,
# and (boot 2) kuke-watch making the slices again after a reboot.
# Run by Tests/VM/run (scripts/vm run --deb kuke.deb --copy Tests/VM/lib.sh --copy … limits.test.sh).
driver=systemd
manifests=/etc/kukeon/manifests
vmstate=/var/lib/kuke-vm-test
if [[ $KUKE_VM_BOOT == 1 ]]; then
  source ./limits.test.sh

  section "the limits are the slices' unit properties"
  shown=$(systemctl show kukeon-vm-mem.slice -p MemoryMax -p Transient -p ControlGroup -p ActiveState)
  sed 's/^/     | /' <<<"$shown"
  check "kukeon-vm-mem.slice is a running transient unit" grep -q "^Transient=yes" <<<"$shown"
  check "its MemoryMax is the space's memory.max (20Mi)" grep -qx "MemoryMax=20971520" <<<"$shown"
  check "its ControlGroup is status.cgroupPath" grep -qx "ControlGroup=${mem#"$cgroup_root"}" <<<"$shown"
  shown=$(systemctl show kukeon-vm-cpu.slice -p CPUQuotaPerSecUSec -p TasksMax)
  note "kukeon-vm-cpu.slice: $(tr '\n' ' ' <<<"$shown")"
  check "vm/cpu: CPUQuotaPerSecUSec=200ms, TasksMax=16" \
    bash -c "grep -qx CPUQuotaPerSecUSec=200ms <<<'$shown' && grep -qx TasksMax=16 <<<'$shown'"
  shown=$(systemctl show kukeon-vm.slice -p TasksMax)
  check "the realm's slice has TasksMax=24 ($shown)" test "$shown" = TasksMax=24

  section "a service started with systemd-run --slice is OOM-killed at the space's limit"
  before=$(field "$mem/memory.events" oom_kill)
  systemd-run --quiet --wait --collect --slice=kukeon-vm-mem.slice --unit=hog-service hog 160
  status=$?
  after=$(field "$mem/memory.events" oom_kill)
  note "systemd-run --wait exited $status; vm/mem oom_kill $before -> $after"
  check "the service failed" test "$status" -ne 0
  check "the space counted the OOM kill" test "$after" -gt "$before"

  section "drift through systemd: set-property, a slice stopped by hand"
  systemctl set-property --runtime kukeon-vm-mem.slice MemoryMax=64M
  note "after set-property MemoryMax=64M: memory.max $(cat "$mem/memory.max")"
  kuke diff -f limits.yaml >/tmp/diff 2>&1
  status=$?
  sed 's/^/     | /' /tmp/diff | head -20
  check "kuke diff exits 1" test "$status" = 1
  check "and shows memory.max" grep -q "memory.max" /tmp/diff
  kuke_ok "kuke apply" apply -f limits.yaml
  check "memory.max is 20Mi again" test "$(cat "$mem/memory.max")" = 20971520
  check "and so is the slice's MemoryMax" test "$(systemctl show -p MemoryMax --value kukeon-vm-mem.slice)" = 20971520
  high=$(space_cgroup vm high)
  systemctl stop kukeon-vm-high.slice
  check "systemctl stop removed vm/high's cgroup" test ! -d "$high"
  kuke diff -f limits.yaml >/tmp/diff 2>&1
  check "kuke diff exits 1 for the stopped slice" test $? = 1
  kuke_ok "kuke apply" apply -f limits.yaml
  check "the slice runs again, memory.high 32Mi" test "$(cat "$high/memory.high" 2>&1)" = 33554432

  section "systemctl daemon-reload keeps the slices and their limits"
  systemctl daemon-reload
  sleep 1
  check "memory.max of vm/mem is still 20Mi" test "$(cat "$mem/memory.max")" = 20971520
  check "cpu.max of vm/cpu is still 20000 100000" test "$(cat "$cpu/cpu.max")" = "20000 100000"
  kuke diff -f limits.yaml >/tmp/diff 2>&1
  status=$?
  check "kuke diff exits 0 after daemon-reload" test "$status" = 0
  ((status == 0)) || sed 's/^/     | /' /tmp/diff | head -20

  section "delete stops the slice, never while something runs in it"
  other=$(space_cgroup vm other)
  sleep_cell=$(cellpath "$other" cell-sleep)
  cell "$sleep_cell" sleep 600 &
  wait_for 20 test -d "$sleep_cell"
  kuke delete space other --realm vm >/tmp/delete 2>&1
  status=$?
  sed 's/^/     | /' /tmp/delete
  check "the delete is refused: the scope is a child (exit 1, HasChildren)" bash -c "test $status = 1 && grep -q HasChildren /tmp/delete"
  kuke delete space other --realm vm --cascade >/tmp/delete 2>&1
  status=$?
  sed 's/^/     | /' /tmp/delete
  check "with --cascade too: processes run in it (exit 1, CgroupBusy)" bash -c "test $status = 1 && grep -q CgroupBusy /tmp/delete"
  check "the slice still runs" test "$(systemctl is-active kukeon-vm-other.slice)" = active
  check "the scope in it still runs" test "$(systemctl is-active "${sleep_cell##*/}")" = active
  systemctl stop "${sleep_cell##*/}"
  wait_for 20 test ! -d "$sleep_cell"
  kuke_ok "kuke delete space other: the slice is stopped" delete space other --realm vm
  check "its cgroup is gone" test ! -d "$other"
  check "systemd no longer has the unit active" test "$(systemctl is-active kukeon-vm-other.slice)" != active

  section "switching the driver under existing spaces is refused"
  kuke apply --cgroup-driver cgroupfs -f limits.yaml >/tmp/switch 2>&1
  status=$?
  sed 's/^/     | /' /tmp/switch | head -4
  check "kuke apply --cgroup-driver cgroupfs exits 1 with CgroupMoved" bash -c "test $status = 1 && grep -q CgroupMoved /tmp/switch"
  check "nothing was made under $cgroup_root/kukeon" test ! -e "$cgroup_root/kukeon"

  section "kuke-watch enabled, then a reboot"
  mkdir -p $manifests
  cp limits.yaml $manifests/limits.yaml
  systemctl enable --now kuke-watch 2>&1 | sed 's/^/     | /'
  wait_for 60 test -d "$other"
  check "kuke-watch made vm/other's slice again" test -d "$other"
  mkdir -p $vmstate
  echo "$failures" >$vmstate/failures
  exit 100
fi

source ./lib.sh
failures=$(cat $vmstate/failures 2>/dev/null || echo 0)
note "$failures check(s) failed before the reboot"
section "after the reboot (boot $KUKE_VM_BOOT): kuke-watch makes the slices again"
mem=$cgroup_root/kukeon.slice/kukeon-vm.slice/kukeon-vm-mem.slice
wait_for 120 bash -c "kuke diff -f $manifests >/dev/null 2>&1"
check "kuke diff exits 0: everything converged" kuke diff -f $manifests
check "memory.max of vm/mem is 20Mi" test "$(cat "$mem/memory.max" 2>&1)" = 20971520
check "the slice is transient again" test "$(systemctl show -p Transient --value kukeon-vm-mem.slice)" = yes
before=$(field "$mem/memory.events" oom_kill)
cell "$(cellpath "$mem" cell-boot2)" hog 40
status=$?
note "a 40 MiB hog in vm/mem: status $status, oom_kill $before -> $(field "$mem/memory.events" oom_kill)"
check "it is OOM-killed at 20Mi" test "$status" = 137
journalctl -u kuke-watch -b --no-pager >"$KUKE_VM_RESULTS/kuke-watch.log" 2>&1
finish
