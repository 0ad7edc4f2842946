#!/bin/bash
# feeds-backlog.sh [BUILD]: how fast the feeds reader goes through a
# backlog of Suricata alerts (an IDS that alerts on every packet of a
# flood, or a daemon back after a while), and what it costs.
#
# The daemon runs in a network namespace of its own (a veth pair to
# capture on, nothing routed) with one Suricata feed on a file in a
# temporary directory.  LINES eve.json alert lines (Suricata 7, about
# 540 bytes each: flow endpoints, metadata) are appended at once; the
# time from the append to `quarantinectl status` counting them all, and
# the reader's CPU time (utime + stime from /proc), are measured.  A
# tenth of the alerts are about inside hosts (detections, which the
# parent's per-source budget then bounds), the rest about outside ones
# (parsed, attributed, counted).  Baseline, in the same run: reading
# the same bytes with wc -l, the floor for anything that reads them.
# RUNS alternating runs of each (the machine is shared); medians.
#
# Prints one line per run and the medians; docs/BENCHMARKS.md has the
# figures.  Needs root.
set -u

B=${1:-build}
LINES=${LINES:-200000}
RUNS=${RUNS:-5}
Q=$B/src/quarantined
CTL=$B/src/quarantinectl

. "$(dirname "$0")/nslib.sh"
bench_need feeds-backlog "$Q" "$CTL" ip nft python3
bench_setup qdfeeds
PID=""

in_ns() { ip netns exec "$NS" "$@"; }
qctl() { "$CTL" -S "$TMP/control.sock" "$@"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

ip netns add "$NS" || {
	echo "feeds-backlog: cannot create a network namespace" >&2
	exit 1
}
MADE=$NS
in_ns sh -c 'echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6 &&
	echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6 && ip link set lo up' || exit 1
in_ns ip link add lan0 type veth peer name peer0 || exit 1
in_ns ip link set lan0 up || exit 1
in_ns ip link set peer0 up || exit 1

python3 - "$LINES" >"$TMP/lines" <<'PY'
import sys
n = int(sys.argv[1])
for i in range(n):
    dst = "10.66.1.%d" % (20 + i % 200) if i % 10 == 0 else "198.51.100.%d" % (i % 250 + 1)
    print('{"timestamp":"2026-12-03T14:20:01.123456+0000","flow_id":%d,"in_iface":"eth1",'
          '"event_type":"alert","src_ip":"203.0.113.9","src_port":80,"dest_ip":"%s",'
          '"dest_port":49152,"proto":"TCP","direction":"to_client","flow":{"pkts_toserver":3,'
          '"pkts_toclient":4,"src_ip":"%s","dest_ip":"203.0.113.9"},"alert":{"action":"allowed",'
          '"gid":1,"signature_id":2999001,"rev":1,"signature":"ET TROJAN Test Checkin %d",'
          '"category":"A Network Trojan was detected","severity":1,'
          '"metadata":{"signature_severity":["Major"]}}}' % (i, dst, dst, i % 50))
PY
BYTES=$(stat -c %s "$TMP/lines")

start() {
	rm -rf "$TMP/state" "$TMP/control.sock" "$TMP/eve.json"
	mkdir -p "$TMP/state"
	: >"$TMP/eve.json"
	cat >"$TMP/q.conf" <<EOC
capture: { interfaces = [ "lan0" ]; };
networks: { protected = [ "10.66.0.0/16" ]; };
control: { socket = "$TMP/control.sock"; };
state: { dir = "$TMP/state"; };
feeds: { sources = ( { name = "ids1"; kind = "suricata"; path = "$TMP/eve.json"; } ); };
EOC
	# Not through in_ns: $! must be the daemon's pid, for stop().
	ip netns exec "$NS" "$Q" -f -o json -i lan0 -c "$TMP/q.conf" -S "$TMP/control.sock" \
		-D "$TMP/state" >/dev/null 2>"$TMP/daemon.log" &
	PID=$!
	if ! wait_for 60 following; then
		echo "feeds-backlog: quarantined did not start:" >&2
		cat "$TMP/daemon.log" >&2
		exit 1
	fi
	RPID=$(qctl --json status | json "d['feeds']['pid']")
}

following() {
	[ "$(qctl --json status | json "d['feeds']['sources'][0]['state']")" = following ]
}

all_read() {
	[ "$(qctl --json status | json "d['feeds']['sources'][0]['lines']")" -ge "$LINES" ]
}

stop() {
	kill -TERM "$PID"
	wait "$PID" 2>/dev/null
	in_ns nft delete table inet quarantined 2>/dev/null
	PID=""
}

cpu_ms() {
	awk -v t="$(getconf CLK_TCK)" '{ print int(($14 + $15) * 1000 / t) }' "/proc/$1/stat"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "feeds-backlog: $LINES lines, $BYTES bytes; $RUNS runs; load $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$TMP/wc" && : >"$TMP/wall" && : >"$TMP/cpu"
for r in $(seq "$RUNS"); do
	t0=$(date +%s%N)
	wc -l "$TMP/lines" >/dev/null
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000)) >>"$TMP/wc"

	start
	c0=$(cpu_ms "$RPID")
	t0=$(date +%s%N)
	cat "$TMP/lines" >>"$TMP/eve.json"
	wait_for 600 all_read || {
		echo "feeds-backlog: the reader did not read every line" >&2
		exit 1
	}
	t1=$(date +%s%N)
	c1=$(cpu_ms "$RPID")
	echo $(((t1 - t0) / 1000000)) >>"$TMP/wall"
	echo $((c1 - c0)) >>"$TMP/cpu"
	echo "run $r: wc -l $(tail -1 "$TMP/wc") us; reader $(tail -1 "$TMP/wall") ms wall, $(tail -1 "$TMP/cpu") ms CPU;" \
		"$(qctl --json status | json "'%(alerts)d alerts, %(detections)d detections (%(taken)d taken, %(over_budget)d over budget), %(ignored)d ignored, %(errors)d errors' % d['feeds']['sources'][0]")"
	stop
done
wcm=$(median <"$TMP/wc")
wall=$(median <"$TMP/wall")
cpu=$(median <"$TMP/cpu")
echo "median: wc -l $wcm us ($((BYTES / (wcm ? wcm : 1))) MB/s); reader $wall ms wall" \
	"($((LINES * 1000 / (wall ? wall : 1))) lines/s, $((BYTES / 1000 / (wall ? wall : 1))) MB/s)," \
	"$cpu ms CPU ($((cpu * 1000000 / LINES)) ns a line)"
