#!/bin/bash
# sensor-syscalls: the system calls the sensor makes once in its sandbox,
# measured with strace -f through end-to-end tests, against the list its
# seccomp filter allows (src/sensor.c, allowed[]).  A measurement, not a
# test: it prints what it saw.
#
#   bench/sensor-syscalls.sh [BUILD_DIR] [E2E_TEST...]
#       (defaults: build; worm-isolated state-full reload incident)
#
# Each test runs as the suite runs it (its own namespaces, removed on
# exit), with the daemon started under `strace -f`.  For every process
# that loaded a seccomp filter (a sensor), the calls after the load are
# counted.  Needs root and strace.
#
# Under strace the tests' signals (SIGHUP for a reload, SIGTERM at the end)
# reach strace rather than the daemon, so a test that checks how the daemon
# exited may report a failure; the calls it made are counted all the same.
set -u
BUILD=${1:-build}
shift || true
TESTS=${*:-worm-isolated state-full reload incident}
SRC=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d /tmp/qd-syscalls.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

cat >"$TMP/q" <<EOT
#!/bin/sh
exec strace -f -qq -o "$TMP/trace.\$\$" "$SRC/$BUILD/src/quarantined" "\$@"
EOT
chmod +x "$TMP/q"
for t in $TESTS; do
	if ! timeout 300 "$SRC/tests/e2e/$t.sh" "$TMP/q" "$SRC/$BUILD/src/quarantinectl" \
		"$SRC/$BUILD/tests/worm" >"$TMP/$t.log" 2>&1; then
		echo "sensor-syscalls: e2e $t failed under strace (see below); its calls still count" >&2
		tail -5 "$TMP/$t.log" >&2
	fi
done
python3 - "$TMP" "$SRC/src/sensor.c" <<'EOT'
import collections, glob, re, sys
tmp, src = sys.argv[1], sys.argv[2]
seen = collections.Counter()
sensors = 0
for f in glob.glob(tmp + "/trace.*"):
    filtered = set()
    for line in open(f, errors="replace"):
        m = re.match(r"(\d+)\s+(?:<\.\.\. (\w+) resumed>|(\w+)\()", line)
        if not m:
            continue
        pid, name = m.group(1), m.group(2) or m.group(3)
        if pid in filtered:
            if m.group(3):  # count each call once, at its start
                seen[name] += 1
        elif name == "prctl" and "PR_SET_SECCOMP" in line and "= 0" in line:
            filtered.add(pid)
            sensors += 1
allowed = re.search(r"static const char \*const allowed\[\] = \{(.*?)\};", open(src).read(), re.S)
allowed = set(re.findall(r'"(\w+)"', allowed.group(1)))
print(f"sensors traced: {sensors}")
print(f"{'system call':20} {'calls':>9}  allowed")
for name, n in seen.most_common():
    print(f"{name:20} {n:9}  {'yes' if name in allowed else 'NO'}")
unused = sorted(allowed - set(seen))
print("allowed, not seen in these runs:", " ".join(unused) if unused else "none")
EOT
