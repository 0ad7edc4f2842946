#!/bin/bash
# outbreak-switch: how long `quarantinectl outbreak on` and `off` take at
# campus size, and how large the kernel's part is.  A benchmark, not a
# test: it asserts nothing but that the groups reached the kernel.
#
#   bench/outbreak-switch.sh [BUILD_DIR]   (default: build)
#
#   SIZES="1000 10000 50000"   inventory entries: N/100 departments of a
#                               /24 each, and in each /24 99 single hosts
#                               (every other address) of the next
#                               department: the nested case that
#                               flattening is for, about 2N ranges
#   RUNS=5                      alternating runs (on, off, status)
#
# Baseline, measured in the same alternation: `quarantinectl status`, a
# command that changes nothing (the client's start, the socket, the
# answer).  Figures are medians over the runs, wall milliseconds from exec
# to exit; the command answers once the kernel acknowledged the one
# transaction and the state database holds the switch.
#
# Network safety: one namespace of its own, qdob<pid>, holding a veth pair
# made inside it (lan0, 10.99.0.1/16, and its peer lan0p, without an
# address) and loopback, nothing else: no packet leaves it, and the
# inventory's addresses exist only as set elements.  On exit (also after
# HUP, INT, PIPE, TERM) whatever runs in it is stopped by pid and the
# namespace is deleted.  Needs root and nft.
set -u

B=${1:-build}
SIZES=${SIZES:-"1000 10000 50000"}
RUNS=${RUNS:-5}
Q=$B/src/quarantined
CTL=$B/src/quarantinectl

. "$(dirname "$0")/nslib.sh"
bench_need outbreak-switch "$Q" "$CTL" ip nft python3
bench_setup qdob
DPID=""

in_ns() { ip netns exec "$NS" "$@"; }
now_ns() { date +%s%N; }
ctl() { "$CTL" -S "$TMP/control.sock" "$@"; }

if ! ip netns add "$NS"; then
	echo "outbreak-switch: cannot create a network namespace" >&2
	exit 1
fi
MADE=$NS
in_ns sh -c 'echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6 &&
	echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6 && ip link set lo up' || exit 1
in_ns ip link add lan0 type veth peer name lan0p || exit 1
in_ns ip addr add 10.99.0.1/16 dev lan0 || exit 1
in_ns ip link set lan0 up || exit 1
in_ns ip link set lan0p up || exit 1

# conf N: N/100 departments of a /24 each in 10.64.0.0/12, and 99 single
# hosts in each, of the next department, none adjacent to another.
conf() {
	python3 - "$1" "$TMP" >"$TMP/q-$1.conf" <<'EOF'
import sys
n, tmp = int(sys.argv[1]), sys.argv[2]
print('capture: { interfaces = [ "lan0" ]; };')
print('networks: { protected = [ "10.64.0.0/12" ]; };')
print('control: { socket = "%s/control.sock"; };' % tmp)
print('state: { dir = "%s/state"; };' % tmp)
print('inventory = (')
lines = []
deps = n // 100
for d in range(deps):
    net = "10.%d.%d" % (64 + d // 256, d % 256)
    lines.append('{ net = "%s.0/24"; department = "d%d"; }' % (net, d))
    for k in range(99):
        lines.append('{ net = "%s.%d/32"; department = "d%d"; }' % (net, 2 * k + 1, (d + 1) % deps))
print(",\n".join(lines))
print(');')
EOF
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# timed CMD...: wall ms of CMD (which must succeed).
timed() {
	local t0 t1
	t0=$(now_ns)
	"$@" >/dev/null || {
		echo "outbreak-switch: $* failed" >&2
		exit 1
	}
	t1=$(now_ns)
	echo $(((t1 - t0) / 1000000))
}

echo "outbreak-switch: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) at start"
printf '%8s %10s %8s %8s %8s %8s %8s\n' entries ob4_ranges rules on_ms off_ms status_ms regroup_ms
for n in $SIZES; do
	conf "$n"
	rm -rf "$TMP/state" "$TMP/control.sock"
	mkdir -p "$TMP/state"
	in_ns nft delete table inet quarantined 2>/dev/null
	ip netns exec "$NS" "$Q" -f -o json -i lan0 -c "$TMP/q-$n.conf" -S "$TMP/control.sock" \
		-D "$TMP/state" >"$TMP/events.json" 2>"$TMP/daemon.log" &
	DPID=$!
	if ! wait_for 30 ctl status; then
		echo "outbreak-switch: quarantined did not start:" >&2
		cat "$TMP/daemon.log" >&2
		exit 1
	fi
	: >"$TMP/on" ; : >"$TMP/off" ; : >"$TMP/st" ; : >"$TMP/re"
	for _ in $(seq "$RUNS"); do
		timed ctl outbreak on >>"$TMP/on"
		timed ctl outbreak on --by floor >>"$TMP/re"
		timed ctl outbreak on --by department >>"$TMP/re"
		# Ranges in obg4 and the per-bit sets obb4_0..9: nft prints
		# each as one element (a prefix or a-b).
		elems=0
		for s in obg4 obb4_0 obb4_1 obb4_2 obb4_3 obb4_4 obb4_5 obb4_6 obb4_7 obb4_8 obb4_9; do
			k=$(in_ns nft list set inet quarantined $s | grep -o '10\.[0-9./-]*' | wc -l)
			elems=$((elems + k))
		done
		rules=$(in_ns nft list chain inet quarantined outbreak | grep -cE 'return|drop')
		timed ctl outbreak off >>"$TMP/off"
		timed ctl status >>"$TMP/st"
	done
	if [ "$elems" -lt 100 ]; then
		echo "outbreak-switch: obg4 and obb4_* hold $elems ranges" >&2
		exit 1
	fi
	printf '%8s %10s %8s %8s %8s %8s %8s\n' "$n" "$elems" "$rules" "$(median <"$TMP/on")" \
		"$(median <"$TMP/off")" "$(median <"$TMP/st")" "$(median <"$TMP/re")"
	kill -TERM "$DPID" 2>/dev/null
	wait "$DPID" 2>/dev/null
	DPID=""
done
echo "load $(cut -d' ' -f1-3 /proc/loadavg) at end"
