#!/bin/bash
# flood-live: live capture under a forged SYN flood on a veth, quarantined
# against tcpdump.  A benchmark, not a test: it asserts nothing.
#
#   bench/flood-live.sh [BUILD_DIR]        (default: build)
#
#   RATE=100000   frames per second
#   SECS=10       seconds per run
#   SRC_MAC=own   flood's --src-mac: own (one forging machine) or random
#   RUNS=1        runs of each capture
#
# Uses BUILD_DIR/src/quarantined, BUILD_DIR/src/quarantinectl and
# BUILD_DIR/tests/flood (built with the tests; `meson setup build &&
# ninja -C build`).  Needs root and tcpdump.
#
# Network safety: two namespaces of its own, qdbench<pid>s (the sender)
# and qdbench<pid>g (the gateway), joined by a veth pair made inside the
# sender namespace; neither has a route or an address anywhere else, and
# nothing is linked to the root namespace.  The gateway does not forward:
# the frames stop there.  flood refuses the initial namespace and any
# address outside 10.66.0.0/16.  On exit (also after HUP, INT, PIPE,
# TERM) whatever runs in the two namespaces is stopped by pid and both
# are deleted.
#
# Each run sends RATE forged SYNs/s for SECS s to tcp/445 of
# 10.66.128.0/18, 10 per forged source of 10.66.1.0/24, at the gateway's
# lan0, and captures there with one of:
#
#   quarantined   the daemon (-i lan0, its defaults: snaplen 160, a 32 MiB
#                 ring, its BPF filter, enforce mode); its received and
#                 dropped counts from `quarantinectl --json status`.
#   tcpdump       `tcpdump -i lan0 -w /dev/null` (its defaults: snaplen
#                 262144, a 2 MiB ring); the counts it prints at the end.
#   tcpdump -s160 -B32768   the same with the daemon's snaplen and ring.
#
# CPU is the capturing processes' user + system time over the run (for
# quarantined, its sensor and its parent together, and each apart), in % of
# one core (/proc/PID/stat), so 100 % is a whole core; the softirq work of
# delivering the frames is not in it.  Run it on an otherwise idle
# machine: the sender, the kernel and the capture share the cores.
set -u

B=${1:-build}
RATE=${RATE:-100000}
SECS=${SECS:-10}
SRC_MAC=${SRC_MAC:-own}
RUNS=${RUNS:-1}
Q=$B/src/quarantined
CTL=$B/src/quarantinectl
FLOOD=$B/tests/flood

. "$(dirname "$0")/nslib.sh"
bench_need flood-live "$Q" "$CTL" "$FLOOD" ip tcpdump
bench_setup qdbench
HZ=$(getconf CLK_TCK)

in_s() { ip netns exec "${NS}s" "$@"; }
in_g() { ip netns exec "${NS}g" "$@"; }

# cpu_ticks PID: user + system clock ticks so far.
cpu_ticks() {
	awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

# ---- namespaces -------------------------------------------------------------

for n in s g; do
	if ! ip netns add "$NS$n"; then
		echo "flood-live: cannot create a network namespace" >&2
		exit 1
	fi
	MADE="$MADE $NS$n"
	ip netns exec "$NS$n" sh -c 'echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6 &&
		echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6 && ip link set lo up' || exit 1
done
# Made inside the sender namespace, the pair never touches the root one.
in_s ip link add eth0 type veth peer name lan0 netns "${NS}g" || exit 1
in_s ip addr add 10.66.1.2/24 dev eth0 || exit 1
in_s ip link set eth0 up || exit 1
in_g ip addr add 10.66.1.1/24 dev lan0 || exit 1
in_g ip link set lan0 up || exit 1
GMAC=$(in_g cat /sys/class/net/lan0/address)

cat >"$TMP/q.conf" <<EOF
capture: { interfaces = [ "lan0" ]; };
networks: { protected = [ "10.66.1.0/24" ]; };
control: { socket = "$TMP/control.sock"; };
state: { dir = "$TMP/state"; };
EOF
mkdir -p "$TMP/state"

flood() {
	in_s "$FLOOD" -i eth0 --dst-mac "$GMAC" --quiet --rate "$RATE" --duration "$SECS" \
		--src 10.66.1.0/24 --per-src 10 --src-mac "$SRC_MAC" --dst 10.66.128.0/18 \
		--dport 445 >"$TMP/flood.out"
	# "sent N frames in T s (R pps), errors E"
	awk '/^sent / { sub(/^\(/, "", $7); printf "%d %.0f\n", $2, $7 }' "$TMP/flood.out"
}

ROWS=""
# pct TICKS NS: CPU ticks over NS nanoseconds, in % of one core.
pct() {
	awk -v c="$1" -v hz="$HZ" -v t="$2" 'BEGIN { printf "%.0f", 100 * c / hz / (t / 1e9) }'
}

row() {
	ROWS="$ROWS$(printf '%-26s %9s %9s %9s %9s %7s %6s' "$@")
"
}

# ---- quarantined --------------------------------------------------------------

run_daemon() {
	local pid spid t0 c0 t1 c1 s0 s1 r0 d0 r1 d1 sent pps
	rm -rf "$TMP/state" "$TMP/control.sock"
	mkdir -p "$TMP/state"
	in_g nft delete table inet quarantined 2>/dev/null
	# Not through in_g: $! must be the daemon itself (ip netns exec execs it).
	ip netns exec "${NS}g" "$Q" -f -o json -i lan0 -c "$TMP/q.conf" -S "$TMP/control.sock" -D "$TMP/state" \
		>"$TMP/events.json" 2>"$TMP/daemon.log" &
	pid=$!
	if ! wait_for 15 "$CTL" -S "$TMP/control.sock" status >/dev/null; then
		echo "flood-live: quarantined did not start:" >&2
		cat "$TMP/daemon.log" >&2
		exit 1
	fi
	read -r r0 d0 < <("$CTL" -S "$TMP/control.sock" --json status | python3 -c \
		'import json,sys; i=json.load(sys.stdin)["interfaces"][0]; print(i["received"], i["dropped"])')
	# The sensor (the daemon's child) reads the packets; the parent
	# takes its reports.  Both are counted, and shown apart.
	spid=$(pgrep -P $pid | head -1)
	t0=$(date +%s%N)
	c0=$(cpu_ticks $pid)
	s0=$(cpu_ticks "$spid")
	read -r sent pps < <(flood)
	sleep 1.5 # the sensor reports its capture statistics every second
	c1=$(cpu_ticks $pid)
	s1=$(cpu_ticks "$spid")
	t1=$(date +%s%N)
	read -r r1 d1 < <("$CTL" -S "$TMP/control.sock" --json status | python3 -c \
		'import json,sys; i=json.load(sys.stdin)["interfaces"][0]; print(i["received"], i["dropped"])')
	kill -TERM $pid
	wait $pid 2>/dev/null
	in_g nft delete table inet quarantined 2>/dev/null
	row quarantined "$pps" "$sent" $((r1 - r0)) $((d1 - d0)) \
		"$(awk -v d=$((d1 - d0)) -v r=$((r1 - r0)) 'BEGIN { printf "%.2f", r + d ? 100 * d / (r + d) : 0 }')" \
		"$(pct $((c1 - c0 + s1 - s0)) $((t1 - t0)))"
	row "  of which the sensor" "" "" "" "" "" "$(pct $((s1 - s0)) $((t1 - t0)))"
	row "  and the parent" "" "" "" "" "" "$(pct $((c1 - c0)) $((t1 - t0)))"
}

# ---- tcpdump ---------------------------------------------------------------------

# run_tcpdump LABEL [ARGS...]
run_tcpdump() {
	local label=$1 pid t0 c0 t1 c1 sent pps got drop
	shift
	ip netns exec "${NS}g" tcpdump -Z root -i lan0 -w /dev/null "$@" 2>"$TMP/tcpdump.err" &
	pid=$!
	if ! wait_for 10 grep -q "listening on" "$TMP/tcpdump.err"; then
		echo "flood-live: tcpdump did not start:" >&2
		cat "$TMP/tcpdump.err" >&2
		exit 1
	fi
	t0=$(date +%s%N)
	c0=$(cpu_ticks $pid)
	read -r sent pps < <(flood)
	sleep 1.5
	c1=$(cpu_ticks $pid)
	t1=$(date +%s%N)
	kill -INT $pid
	wait $pid 2>/dev/null
	got=$(awk '/packets received by filter/ { print $1 }' "$TMP/tcpdump.err")
	drop=$(awk '/packets dropped by kernel/ { print $1 }' "$TMP/tcpdump.err")
	row "$label" "$pps" "$sent" "$got" "$drop" \
		"$(awk -v d="$drop" -v r="$got" 'BEGIN { printf "%.2f", r + d ? 100 * d / (r + d) : 0 }')" \
		"$(pct $((c1 - c0)) $((t1 - t0)))"
}

echo "flood-live: $RATE forged SYNs/s for $SECS s (--src-mac $SRC_MAC) on a veth, $(nproc) CPUs, $(uname -r)"
for _ in $(seq "$RUNS"); do
	run_daemon
	run_tcpdump "tcpdump"
	run_tcpdump "tcpdump -s160 -B32768" -s 160 -B 32768
done
echo
printf '%-26s %9s %9s %9s %9s %7s %6s\n' capture "rate/s" sent received dropped "drop%" "CPU%"
printf '%s' "$ROWS"
echo
echo "rate/s: what flood achieved; received/dropped: the capture's own counts"
echo "(the packet socket's counters); CPU: the capturing processes (quarantined:"
echo "its sensor and its parent), % of one core."
