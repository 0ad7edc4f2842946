#!/bin/bash
# bulk-quarantine: `quarantinectl quarantine --from FILE` against `nft -f`
# adding the same elements to a set of the same type (issue 11's bulk
# goal).  A benchmark, not a test: it asserts nothing but that every
# element reached the kernel.
#
#   bench/bulk-quarantine.sh [BUILD_DIR [BASE_DIR]]   (default: build)
#
# With BASE_DIR (another build, say of the commit before a change), its
# daemon and client are timed too, in the same alternation: a before and
# after measured side by side.
#
#   SIZES="1000 10000 100000"   addresses per file
#   RUNS=5                      alternating runs of each tool per size
#   PROBE=1                     also one run per size and build with another
#                               client asking status every 10 ms: the
#                               longest it waited (the daemon's loop is
#                               busy with the list meanwhile)
#
# Uses BUILD_DIR/src/quarantined and BUILD_DIR/src/quarantinectl.  Needs
# root and nft.
#
# Network safety: one namespace of its own, qdbulk<pid>, holding a veth
# pair made inside it (lan0, 10.99.0.1/16, and its peer lan0p, without an
# address) and loopback, nothing else: nothing is linked to another
# namespace, and the addresses quarantined exist only as set elements.
# The daemon and nft run inside it, so their tables vanish with it.  On
# exit (also after HUP, INT, PIPE, TERM) whatever runs in the namespace is
# stopped by pid and the namespace is deleted.
#
# Each run of quarantined starts a fresh daemon (no state, no table), then
# times `quarantinectl quarantine --from FILE --ttl 1h` from exec to exit:
# the command answers after the kernel acknowledged the last transaction
# and the database committed the last step of the list, so every element
# is in the kernel and durable then; this is checked afterwards with
# `nft list set ... iso4` (not timed).  Then, for a build with the
# database's host log, the time from the answer until the log is drained
# into the hosts' rows (polled every 20 ms with sqlite3; "-" for a build
# without the log, which wrote the rows within the command).  Each
# run of nft times `nft -f FILE` adding the same elements, each with
# `timeout 1h`, to `set iso4 { type ipv4_addr; flags timeout; counter; }`
# (the type of the daemon's iso4) in table inet qdbulk, created fresh
# before the run (not timed).  The two alternate, nft first.  Figures are
# medians over the runs, wall milliseconds.
set -u

B=${1:-build}
BASE=${2:-}
SIZES=${SIZES:-"1000 10000 100000"}
RUNS=${RUNS:-5}
Q=$B/src/quarantined
CTL=$B/src/quarantinectl

. "$(dirname "$0")/nslib.sh"
bench_need bulk-quarantine "$Q" "$CTL" ${BASE:+"$BASE/src/quarantined" "$BASE/src/quarantinectl"} \
	ip nft python3 sqlite3
bench_setup qdbulk
DPID=""

in_ns() { ip netns exec "$NS" "$@"; }

now_ns() { date +%s%N; }

if ! ip netns add "$NS"; then
	echo "bulk-quarantine: cannot create a network namespace" >&2
	exit 1
fi
MADE=$NS
in_ns sh -c 'echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6 &&
	echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6 && ip link set lo up' || exit 1
# Both ends in the namespace: the kernel here has no dummy interfaces.
in_ns ip link add lan0 type veth peer name lan0p || exit 1
in_ns ip addr add 10.99.0.1/16 dev lan0 || exit 1
in_ns ip link set lan0 up || exit 1
in_ns ip link set lan0p up || exit 1

# The registry holds more than the largest file, so that the benchmark
# measures the bulk path, not the registry making room.
cat >"$TMP/q.conf" <<EOF
capture: { interfaces = [ "lan0" ]; };
networks: { protected = [ "10.64.0.0/12" ]; };
control: { socket = "$TMP/control.sock"; };
state: { dir = "$TMP/state"; };
limits: { max_blocked = 200000; };
EOF

# Files of N distinct addresses of 10.64.0.0/12 (10.64.0.1 on, skipping
# .0 and .255), and the nft script adding the same elements.
for n in $SIZES; do
	python3 - "$n" "$TMP/hosts-$n.txt" "$TMP/nft-$n.nft" <<'EOF'
import sys
n, hosts, script = int(sys.argv[1]), sys.argv[2], sys.argv[3]
addrs = []
i = 0
while len(addrs) < n:
    a = (10 << 24) | (64 << 16) | i
    i += 1
    if a & 0xff in (0, 255):
        continue
    addrs.append("%d.%d.%d.%d" % (a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255))
with open(hosts, "w") as f:
    f.write("\n".join(addrs) + "\n")
with open(script, "w") as f:
    f.write("add element inet qdbulk iso4 { ")
    f.write(", ".join(a + " timeout 1h" for a in addrs))
    f.write(" }\n")
EOF
done

# count_iso4 TABLE: elements in TABLE's iso4.
count_iso4() {
	in_ns nft list set inet "$1" iso4 | grep -o '10\.[0-9.]*' | wc -l
}

# daemon_start BUILD_DIR
daemon_start() {
	rm -rf "$TMP/state" "$TMP/control.sock"
	mkdir -p "$TMP/state"
	in_ns nft delete table inet quarantined 2>/dev/null
	# Not through in_ns: $! must be the daemon itself (ip netns exec
	# execs it).
	ip netns exec "$NS" "$1/src/quarantined" -f -o json -i lan0 -c "$TMP/q.conf" -S "$TMP/control.sock" \
		-D "$TMP/state" >"$TMP/events.json" 2>"$TMP/daemon.log" &
	DPID=$!
	if ! wait_for 15 "$CTL" -S "$TMP/control.sock" status; then
		echo "bulk-quarantine: quarantined did not start:" >&2
		cat "$TMP/daemon.log" >&2
		exit 1
	fi
}

daemon_stop() {
	kill -TERM "$DPID" 2>/dev/null
	wait "$DPID" 2>/dev/null
	DPID=""
	in_ns nft delete table inet quarantined 2>/dev/null
}

# run_nft N: prints the wall ms of nft -f.
run_nft() {
	local n=$1 t0 t1 got
	in_ns nft delete table inet qdbulk 2>/dev/null
	in_ns nft -f - <<EOF || exit 1
table inet qdbulk {
	set iso4 { type ipv4_addr; flags timeout; counter; }
}
EOF
	t0=$(now_ns)
	in_ns nft -f "$TMP/nft-$n.nft" || exit 1
	t1=$(now_ns)
	got=$(count_iso4 qdbulk)
	if [ "$got" != "$n" ]; then
		echo "bulk-quarantine: nft -f put $got of $n elements in the kernel" >&2
		exit 1
	fi
	in_ns nft delete table inet qdbulk
	echo $(((t1 - t0) / 1000000))
}

# logged: the number of host_log entries in the daemon's database, or
# nothing when it has no such table.
logged() {
	sqlite3 -readonly "$TMP/state/state.db" "SELECT count(*) FROM host_log" 2>/dev/null
}

# run_qd N BUILD_DIR: prints the wall ms of the command, then the ms from
# its answer until the host log is drained ("-" without a host log).
run_qd() {
	local n=$1 t0 t1 t2 got left drained
	daemon_start "$2"
	t0=$(now_ns)
	# ip netns exec costs a fork and a setns: the client needs no
	# namespace (the socket is a file), so it runs as it would.
	"$2/src/quarantinectl" -S "$TMP/control.sock" quarantine --from "$TMP/hosts-$n.txt" --ttl 1h \
		--reason bench >"$TMP/ctl.out" 2>&1 || {
		echo "bulk-quarantine: quarantinectl failed:" >&2
		tail -n 5 "$TMP/ctl.out" >&2
		exit 1
	}
	t1=$(now_ns)
	got=$(count_iso4 quarantined)
	if [ "$got" != "$n" ]; then
		echo "bulk-quarantine: quarantined put $got of $n elements in the kernel" >&2
		tail -n 3 "$TMP/ctl.out" >&2
		exit 1
	fi
	drained=-
	left=$(logged)
	if [ -n "$left" ]; then
		for _ in $(seq 3000); do
			[ "$left" = 0 ] && break
			sleep 0.02
			left=$(logged)
		done
		t2=$(now_ns)
		drained=$(((t2 - t1) / 1000000))
		[ "$left" = 0 ] || drained="?"
	fi
	daemon_stop
	echo "$(((t1 - t0) / 1000000)) $drained"
}

# probe_qd N BUILD_DIR: one more run of the command, with another client
# asking `status` every 10 ms meanwhile; prints the longest a status took
# from exec to exit (it waits while the daemon's loop applies the list).
probe_qd() {
	local n=$1 ppid
	daemon_start "$2"
	(
		max=0
		while [ ! -e "$TMP/probe.stop" ]; do
			t0=$(now_ns)
			"$CTL" -S "$TMP/control.sock" status >/dev/null 2>&1
			t=$((($(now_ns) - t0) / 1000000))
			[ $t -gt $max ] && max=$t
			sleep 0.01
		done
		echo $max >"$TMP/probe.max"
	) &
	ppid=$!
	sleep 0.2
	"$2/src/quarantinectl" -S "$TMP/control.sock" quarantine --from "$TMP/hosts-$n.txt" \
		--ttl 1h --reason bench >/dev/null 2>&1
	sleep 0.2
	touch "$TMP/probe.stop"
	wait $ppid
	rm -f "$TMP/probe.stop"
	daemon_stop
	cat "$TMP/probe.max"
}

median() {
	tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END {
		if (NR % 2) print v[(NR + 1) / 2]; else printf "%d\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "bulk-quarantine: $(nproc) CPUs, $(uname -r), $(nft --version)"
echo "load at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
ROWS=""
for n in $SIZES; do
	nfts="" qds="" saves="" bqds="" bsaves=""
	for _ in $(seq "$RUNS"); do
		nfts="$nfts $(run_nft "$n")"
		if [ -n "$BASE" ]; then
			read -r q s < <(run_qd "$n" "$BASE")
			[ -n "$q" ] || exit 1
			bqds="$bqds $q"
			bsaves="$bsaves $s"
		fi
		read -r q s < <(run_qd "$n" "$B")
		[ -n "$q" ] || exit 1
		qds="$qds $q"
		saves="$saves $s"
	done
	mn=$(echo "$nfts" | median)
	mq=$(echo "$qds" | median)
	ms=$(echo "$saves" | median)
	echo "$n addresses: nft -f:$nfts ms; quarantinectl:$qds ms; rows after:$saves ms"
	if [ "${PROBE:-0}" = 1 ]; then
		[ -n "$BASE" ] && echo "$n addresses, $BASE: longest status during the command: $(probe_qd "$n" "$BASE") ms"
		echo "$n addresses, $B: longest status during the command: $(probe_qd "$n" "$B") ms"
	fi
	if [ -n "$BASE" ]; then
		bq=$(echo "$bqds" | median)
		bs=$(echo "$bsaves" | median)
		echo "$n addresses, $BASE: quarantinectl:$bqds ms; rows after:$bsaves ms"
		ROWS="$ROWS$(printf '%8s %-22s %10s %14s %7s %12s' "$n" "$BASE" "$mn" "$bq" \
			"$(awk -v a="$bq" -v b="$mn" 'BEGIN { printf "%.2f", b ? a / b : 0 }')" "$bs")
"
	fi
	ROWS="$ROWS$(printf '%8s %-22s %10s %14s %7s %12s' "$n" "$B" "$mn" "$mq" \
		"$(awk -v a="$mq" -v b="$mn" 'BEGIN { printf "%.2f", b ? a / b : 0 }')" "$ms")
"
done
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf '%8s %-22s %10s %14s %7s %12s\n' hosts build "nft -f ms" "quarantine ms" ratio "rows ms"
printf '%s' "$ROWS"
echo
echo "medians of $RUNS alternating runs, wall ms; quarantine: quarantinectl"
echo "quarantine --from FILE until it returns (every element is then in the"
echo "kernel and durable); ratio: quarantine / nft -f; rows: from the answer"
echo "until the host log is drained into the hosts' rows (-: no host log)."
