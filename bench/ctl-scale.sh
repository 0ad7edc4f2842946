#!/bin/bash
# ctl-scale: every control command timed as the client sees it, against a
# daemon sized for a campus (limits.max_hosts = 1,000,000) with 100,000
# hosts blocked.  A benchmark, not a test: it asserts nothing.
#
#   bench/ctl-scale.sh [BUILD_DIR]        (default: build)
#
#   HOSTS=100000   hosts blocked by one `quarantine --from FILE`
#   TRACKED=1000000  limits.max_hosts
#   RUNS=5         runs of each command (the median is printed)
#
# Uses BUILD_DIR/src/quarantined and BUILD_DIR/src/quarantinectl.  Needs
# root (a network namespace, nftables).
#
# Network safety: one namespace of its own, qdscale<pid>, with a veth pair
# made inside it (lan0 and its peer); no address, route or link reaches
# the root namespace, and nothing is sent: the daemon captures on lan0,
# which stays silent.  Its nftables table lives in that namespace.  On
# exit (also after HUP, INT, PIPE, TERM) whatever runs there is killed by
# pid and the namespace deleted.
#
# What it prints, per command: the median, minimum and maximum client wall
# time in ms over RUNS runs (each a fresh quarantinectl, connect to exit),
# and the reply's size.  Then the daemon's resident memory (parent and
# sensor, VmRSS and VmHWM) before and after the bulk block, and what that
# makes per blocked host; and the sensor's tables as sized for TRACKED
# hosts (VmRSS of the sensor against a run with the default 65,536: the
# tables' pages are touched only as hosts fill them, so this is what an
# idle campus costs) and their bound when full (detect_memory() of
# BUILD_DIR/bench/bench_detect, at TRACKED and at 65,536 tracked hosts).
# For list --json and report --format csv, the answers that grow with the
# registry, also the time to the first byte of the answer and to its end,
# from a client of its own (python3) that reads the whole answer.
# Each command is run RUNS times in turn with the others (alternating),
# so that load from the rest of the machine falls on all of them alike;
# the load average is printed with the figures.
set -u

B=${1:-build}
HOSTS=${HOSTS:-100000}
TRACKED=${TRACKED:-1000000}
RUNS=${RUNS:-5}
Q=$B/src/quarantined
CTL=$B/src/quarantinectl
BD=$B/bench/bench_detect

. "$(dirname "$0")/nslib.sh"
bench_need ctl-scale "$Q" "$CTL" ip nft
bench_setup qdscale
PID=""

in_ns() { ip netns exec "$NS" "$@"; }
qctl() { "$CTL" -S "$TMP/control.sock" "$@"; }

# kib PID FIELD: a /proc/PID/status field (VmRSS, VmHWM) in KiB.
kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

ip netns add "$NS" || {
	echo "ctl-scale: cannot create a network namespace" >&2
	exit 1
}
MADE=$NS
in_ns sh -c 'echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6 &&
	echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6 && ip link set lo up' || exit 1
in_ns ip link add lan0 type veth peer name peer0 || exit 1
in_ns ip link set lan0 up || exit 1
in_ns ip link set peer0 up || exit 1

# conf MAX_HOSTS: the configuration.
conf() {
	cat >"$TMP/q.conf" <<EOF
capture: { interfaces = [ "lan0" ]; };
networks: { protected = [ "10.0.0.0/8" ]; };
control: { socket = "$TMP/control.sock"; };
state: { dir = "$TMP/state"; };
limits: { max_hosts = $1; max_blocked = $((HOSTS + 1000 > 100000 ? HOSTS + 1000 : 100000)); };
EOF
}

start() {
	rm -rf "$TMP/state" "$TMP/control.sock"
	mkdir -p "$TMP/state"
	conf "$1"
	ip netns exec "$NS" "$Q" -f -o json -i lan0 -c "$TMP/q.conf" -S "$TMP/control.sock" \
		-D "$TMP/state" >/dev/null 2>"$TMP/daemon.log" &
	PID=$!
	if ! wait_for 60 qctl status; then
		echo "ctl-scale: quarantined did not start:" >&2
		cat "$TMP/daemon.log" >&2
		exit 1
	fi
	SPID=$(pgrep -P "$PID" | head -1)
}

stop() {
	kill -TERM "$PID"
	wait "$PID" 2>/dev/null
	in_ns nft delete table inet quarantined 2>/dev/null
	PID=""
}

# ---- the sensor's tables at the default size, for the difference ------------
start 65536
S_DEFAULT=$(kib "$SPID" VmRSS)
P_DEFAULT=$(kib "$PID" VmRSS)
stop

# ---- the daemon at campus size -----------------------------------------------
start "$TRACKED"
S_EMPTY=$(kib "$SPID" VmRSS)
P_EMPTY=$(kib "$PID" VmRSS)

# HOSTS addresses in 10.100.0.0/14, one a line.
awk -v n="$HOSTS" 'BEGIN { for (i = 1; i <= n; i++)
	printf "10.%d.%d.%d\n", 100 + int(i / 65536), int(i / 256) % 256, i % 256 }' >"$TMP/bulk.txt"
t0=$(date +%s%N)
qctl quarantine --from "$TMP/bulk.txt" --reason scale >"$TMP/bulk.out" 2>&1 || {
	echo "ctl-scale: bulk quarantine failed:" >&2
	cat "$TMP/bulk.out" >&2
	exit 1
}
t1=$(date +%s%N)
BULK_MS=$(((t1 - t0) / 1000000))
sleep 2 # the state's batch and the sensor's first reports
P_FULL=$(kib "$PID" VmRSS)
S_FULL=$(kib "$SPID" VmRSS)

# The commands, one per line: a label, then quarantinectl's arguments.
FIRST=10.100.0.1
cat >"$TMP/cmds" <<EOF
status|status
status --json|--json status
list|list
list --wide|list --wide
list --json|--json list
list --state contained|list --state contained
list --level isolate|list --level isolate
list --rule smb-propagation|list --rule smb-propagation
list --since 1h|list --since 1h
show HOST|show $FIRST
show --json HOST|--json show $FIRST
show NAME (unknown)|show no-such-machine
allowlist|allowlist
incidents|incidents
report (text)|report
report --format json|report --format json
report --format csv|report --format csv
report --format html|report --format html
metrics|metrics
events --since 1h|events --since 1h
quarantine HOST|quarantine 10.99.0.1 --reason scale
release HOST|release 10.99.0.1 --reason scale
EOF

# first REQUEST: ms to the first byte of the answer, and to its end.
first() {
	/usr/bin/python3 - "$TMP/control.sock" "$1" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
t0 = time.monotonic()
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
s.shutdown(socket.SHUT_WR)
t1 = None
while True:
    b = s.recv(1 << 16)
    if not b:
        break
    if t1 is None:
        t1 = time.monotonic()
print("%.1f %.1f" % ((t1 - t0) * 1000, (time.monotonic() - t0) * 1000))
PY
}
RAW1=$'cmd=list\tjson=1'
RAW2=$'cmd=report\tformat=csv'

: >"$TMP/times"
for run in $(seq "$RUNS"); do
	while IFS='|' read -r label args; do
		t0=$(date +%s%N)
		# shellcheck disable=SC2086
		qctl $args >"$TMP/out" 2>&1
		rc=$?
		t1=$(date +%s%N)
		printf '%s|%d|%d|%d\n' "$label" $(((t1 - t0) / 1000)) "$(stat -c %s "$TMP/out")" \
			$rc >>"$TMP/times"
	done <"$TMP/cmds"
	first "$RAW1" | sed 's/^/1 /' >>"$TMP/firsts"
	first "$RAW2" | sed 's/^/2 /' >>"$TMP/firsts"
done
P_AFTER=$(kib "$PID" VmRSS)
P_HWM=$(kib "$PID" VmHWM)
S_HWM=$(kib "$SPID" VmHWM)
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
stop

echo "ctl-scale: max_hosts $TRACKED, $HOSTS hosts blocked (bulk quarantine ${BULK_MS} ms), $RUNS runs each, load $LOAD"
echo
printf '%-32s %10s %10s %10s %12s %s\n' command "median ms" "min ms" "max ms" "reply bytes" exit
while IFS='|' read -r label args; do
	# Sorted by time first (mawk has no asort).
	awk -F'|' -v l="$label" '$1 == l' "$TMP/times" | sort -t'|' -k2,2n |
		awk -F'|' -v l="$label" '{ t[++n] = $2 / 1000; b = $3; rc = $4 }
		END { m = n % 2 ? t[(n + 1) / 2] : (t[n / 2] + t[n / 2 + 1]) / 2
		      printf "%-32s %10.1f %10.1f %10.1f %12d %d\n", l, m, t[1], t[n], b, rc }'
done <"$TMP/cmds"
echo
# med: the median of the numbers on stdin.
med() { sort -n | awk '{ t[++n] = $1 } END { print n % 2 ? t[(n + 1) / 2] : (t[n / 2] + t[n / 2 + 1]) / 2 }'; }
printf '%-32s %14s %14s\n' "own client" "first byte ms" "whole ms"
for k in 1 2; do
	[ $k = 1 ] && label="list --json" || label="report --format csv"
	printf '%-32s %14.1f %14.1f\n' "$label" \
		"$(awk -v k=$k '$1 == k { print $2 }' "$TMP/firsts" | med)" \
		"$(awk -v k=$k '$1 == k { print $3 }' "$TMP/firsts" | med)"
done
echo
printf 'parent VmRSS: %d KiB at max_hosts 65536, %d KiB empty at %d, %d KiB with %d blocked, %d KiB after the commands (peak %d KiB)\n' \
	"$P_DEFAULT" "$P_EMPTY" "$TRACKED" "$P_FULL" "$HOSTS" "$P_AFTER" "$P_HWM"
printf 'registry: %d bytes per blocked host (parent VmRSS with them less without)\n' \
	$(((P_FULL - P_EMPTY) * 1024 / HOSTS))
printf 'sensor VmRSS: %d KiB at max_hosts 65536, %d KiB at %d, %d KiB with the hosts blocked (peak %d KiB)\n' \
	"$S_DEFAULT" "$S_EMPTY" "$TRACKED" "$S_FULL" "$S_HWM"
# Per-host figures compare two sizes: at the default size itself there is
# nothing to compare.
if [ "$TRACKED" -le 65536 ]; then
	echo "sensor: per-host figures need TRACKED above 65536 (the default max_hosts)"
	exit 0
fi
printf 'sensor, idle: %d bytes per tracked-host slot ((VmRSS at %d - at 65536) / %d)\n' \
	$(((S_EMPTY - S_DEFAULT) * 1024 / (TRACKED - 65536))) "$TRACKED" $((TRACKED - 65536))
if [ -x "$BD" ]; then
	for m in 65536 "$TRACKED"; do
		printf 'networks: { protected = [ "10.0.0.0/8" ]; };\nlimits: { max_hosts = %s; };\n' \
			"$m" >"$TMP/bd.conf"
		"$BD" -c "$TMP/bd.conf" --flood 1000 | sed -n 's/.*detect_memory() \([0-9.]*\) MiB.*/\1/p'
	done | paste -sd' ' | awk -v t="$TRACKED" '{ printf "sensor, full: detect_memory() %.1f MiB at 65536, %.1f MiB at %d: %.0f bytes per tracked host\n", $1, $2, t, ($2 - $1) * 1048576 / (t - 65536) }'
fi
