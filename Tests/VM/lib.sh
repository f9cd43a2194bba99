# Sourced by the VM tests (Tests/VM/*.test.sh) in the guest, as root: checks that print what they
# measured, and cells (a process in a cgroup of its own under a space, as a runtime puts one).
set -uo pipefail
export LC_ALL=C
failures=0
cgroup_root=/sys/fs/cgroup

note() { echo "     $*"; }
# section TITLE: a heading, with the seconds since boot (where a slow guest spends its time).
section() { echo "== [$(cut -d' ' -f1 /proc/uptime) s] $*"; }
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; failures=$((failures + 1)); }

# check DESCRIPTION COMMAND...: passes when COMMAND succeeds.
check() {
  local description=$1
  shift
  if "$@"; then pass "$description"; else fail "$description"; fi
}

# finish: the test's status, 1 when a check failed.
finish() {
  if ((failures)); then
    echo "$failures check(s) failed"
    exit 1
  fi
  echo "every check passed"
  exit 0
}

# field FILE KEY: the value of KEY in a flat-keyed cgroup file (memory.events, cpu.stat, …).
field() { awk -v key="$2" '$1 == key { print $2 }' "$1"; }

# The cgroup driver the test runs kuke with (a test sets driver=systemd before sourcing this).
driver=${driver:-cgroupfs}

# cellpath SPACE NAME: where the cell NAME of the space whose cgroup is SPACE lives: a child
# cgroup under cgroupfs; under systemd a scope in the space's slice, named after the space too
# (unit names are host-wide).
cellpath() {
  if [[ $driver == systemd ]]; then
    local stem=${1##*/}
    stem=${stem%.slice}
    echo "$1/$2-${stem#kukeon-}.scope"
  else
    echo "$1/$2"
  fi
}

# cell CGROUP COMMAND...: runs COMMAND in CGROUP, a cell under a space (see cellpath). Under
# cgroupfs the shell makes the cgroup, writes its own PID to cgroup.procs, then becomes COMMAND;
# a scope is started with systemd-run --scope in its parent slice, as systemd places work.
cell() {
  local cgroup=$1
  shift
  if [[ $cgroup == *.scope ]]; then
    local slice=${cgroup%/*}
    systemd-run --quiet --collect --scope --slice="${slice##*/}" --unit="${cgroup##*/}" -- "$@"
    return
  fi
  mkdir -p "$cgroup"
  sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cgroup" "$@"
}

# forks_in CELL N SECONDS: runs `forks N SECONDS` in CELL and prints how many children it got
# and the cell's pids.events max, read while the children sleep (a scope's cgroup goes with its
# last process). Linux 6.1 counts a refused fork in the pids.events of the cgroup that forked
# (the cell), not of the cgroup whose limit refused it (later kernels add pids.events.local).
forks_in() {
  local out forker
  out=$(mktemp)
  cell "$1" forks "$2" "$3" >"$out" &
  forker=$!
  wait_for 90 test -s "$out"
  echo "$(cat "$out") $(field "$1/pids.events" max)"
  wait "$forker"
  rm -f "$out"
}

# space_cgroup REALM SPACE: the space's cgroup, as its record says (status.cgroupPath).
space_cgroup() {
  sed -n 's/^  cgroupPath: //p' "/opt/kukeon/$1/$2/space.yaml"
}

# kuke_ok DESCRIPTION ARGS...: runs kuke, prints its output, checks status 0.
kuke_ok() {
  local description=$1
  shift
  local output status
  output=$(kuke "$@" 2>&1)
  status=$?
  sed 's/^/     | /' <<<"$output"
  if ((status == 0)); then pass "$description"; else fail "$description (kuke $* exited $status)"; fi
}

# wait_for SECONDS COMMAND...: retries COMMAND every 0.2 s until it succeeds or SECONDS pass.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# The workloads, as commands on PATH (python3 is in the image), so that a cell can exec them:
# hog MIB [SECONDS]: touches MIB MiB of anonymous memory, says so, then sleeps SECONDS.
# forks N [SECONDS]: forks up to N children that sleep SECONDS (3), prints how many it got, waits.
# burn SECONDS: a busy loop for SECONDS of wall time.
mkdir -p /usr/local/bin
cat >/usr/local/bin/hog <<'PY'
#!/usr/bin/python3
import sys, time
block = b"x" * (int(sys.argv[1]) << 20)
print("allocated", flush=True)
time.sleep(float(sys.argv[2]) if len(sys.argv) > 2 else 0)
PY
cat >/usr/local/bin/forks <<'PY'
#!/usr/bin/python3
import os, sys, time
wanted, sleep = int(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 3
got = 0
for _ in range(wanted):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(sleep)
        os._exit(0)
    got += 1
print(got, flush=True)
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
PY
cat >/usr/local/bin/burn <<'PY'
#!/usr/bin/python3
import sys, time
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    pass
PY
chmod 0755 /usr/local/bin/hog /usr/local/bin/forks /usr/local/bin/burn

# Podman's stock 87-podman-bridge.conflist claims 10.88.0.0/16, kuke's default pool: the host
# configuration moves kuke's, as docs/troubleshooting.md says to (every command reads it).
mkdir -p /etc/kukeon
cat >/etc/kukeon/kuke.yaml <<YAML
apiVersion: v1beta1
kind: HostConfig
spec:
  subnetPool: 10.89.0.0/16
  cgroupDriver: $driver
YAML

# example NAME: the sh block after `<!-- vm-example: NAME -->` in concepts.md (docs/concepts.md,
# copied beside this file), run as written by the tests.
example() {
  awk -v marker="<!-- vm-example: $1 -->" '$0 == marker { found = 1; next }
    found && /^```sh$/ { inside = 1; next } inside && /^```$/ { exit } inside { print }' concepts.md
}
