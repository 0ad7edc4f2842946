#!/bin/bash
# sync-rebuild: how long quarantine-sync takes at its start to rebuild its
# merge view from a bucket of N keys (quarantine-sync(8), MERGING): the
# time its poll loop waits before it consumes.  A benchmark, not a test:
# it asserts nothing but that the rebuild read every key.
#
#   bench/sync-rebuild.sh [BUILD_DIR]   (default: build; -Dsync=enabled)
#
#   SIZES="1000 10000"   keys per bucket
#   RUNS=3               starts of the sync program per bucket
#   VIEW=N               sync.view_size (default twice the keys): smaller,
#                        the rebuild stops when the view is full
#
# Uses BUILD_DIR/src/quarantined, quarantinectl, quarantine-sync and
# BUILD_DIR/bench/kvfill.  Needs root and nats-server.
#
# Network safety: one namespace of its own, qdsyncrb<pid>, holding
# loopback and a veth pair made inside it (lan0 and its peer, for the
# daemon's capture), nothing else: one nats-server with JetStream listens
# on its 127.0.0.1, the daemon and the sync program run inside it.  On
# exit (also after HUP, INT, PIPE, TERM) whatever runs in the namespace is
# stopped by pid and the namespace is deleted.
#
# For each size, kvfill writes N records of a gateway gw-x into a bucket
# of its own (one replica, history 1): blocks that expired, so that the
# sync program merges each into its view and hands none to the daemon.
# Then the sync program (gateway gw-b) is started RUNS times; each start
# rebuilds the view and logs how long it took (its monotonic clock, from
# the stream's info to the last record merged), which is the figure;
# median and range over the runs, milliseconds.
set -u

B=${1:-build}
SIZES=${SIZES:-"1000 10000"}
RUNS=${RUNS:-3}
Q=$B/src/quarantined
CTL=$B/src/quarantinectl
SYNC=$B/src/quarantine-sync
FILL=$B/bench/kvfill

. "$(dirname "$0")/nslib.sh"
bench_need sync-rebuild "$Q" "$CTL" "$SYNC" "$FILL" ip nats-server
bench_setup qdsyncrb

in_ns() { ip netns exec "$NS" "$@"; }

if ! ip netns add "$NS"; then
	echo "sync-rebuild: cannot create a network namespace" >&2
	exit 1
fi
MADE=$NS
in_ns ip link set lo up || exit 1
in_ns ip link add lan0 type veth peer name lan0p || exit 1
in_ns ip link set lan0 up || exit 1
in_ns ip link set lan0p up || exit 1

mkdir -p "$TMP/js" "$TMP/state" "$TMP/sync"
in_ns nats-server -js -sd "$TMP/js" -a 127.0.0.1 -p 4222 -l "$TMP/nats.log" &
if ! wait_for 15 grep -q 'Server is ready' "$TMP/nats.log"; then
	echo "sync-rebuild: nats-server did not start:" >&2
	tail "$TMP/nats.log" >&2
	exit 1
fi
cat >"$TMP/q.conf" <<EOF
capture: { interfaces = [ "lan0" ]; };
networks: { protected = [ "10.64.0.0/12" ]; };
control: { socket = "$TMP/control.sock"; };
state: { dir = "$TMP/state"; };
EOF
in_ns "$Q" -f -o json -i lan0 -c "$TMP/q.conf" -S "$TMP/control.sock" -D "$TMP/state" \
	>"$TMP/events.json" 2>"$TMP/daemon.log" &
if ! wait_for 15 "$CTL" -S "$TMP/control.sock" status; then
	echo "sync-rebuild: quarantined did not start:" >&2
	cat "$TMP/daemon.log" >&2
	exit 1
fi

echo "keys  runs  rebuild ms (median, min-max)  records read"
for n in $SIZES; do
	t0=$(date +%s%N)
	if ! in_ns "$FILL" nats://127.0.0.1:4222 "b$n" "$n"; then
		echo "sync-rebuild: kvfill failed" >&2
		exit 1
	fi
	fill_ms=$((($(date +%s%N) - t0) / 1000000))
	cat >"$TMP/sync-$n.conf" <<EOF
sync: {
  gateway = "gw-b";
  servers = [ "nats://127.0.0.1:4222" ];
  bucket = "b$n";
  socket = "$TMP/control.sock";
  state_dir = "$TMP/sync";
  view_size = ${VIEW:-$((n * 2))};
};
EOF
	ms=""
	for r in $(seq "$RUNS"); do
		log=$TMP/sync-$n-$r.log
		ip netns exec "$NS" "$SYNC" -d -c "$TMP/sync-$n.conf" >"$log" 2>&1 &
		pid=$!
		if ! wait_for 120 grep -q 'view: rebuilt from' "$log"; then
			echo "sync-rebuild: no rebuild with $n keys:" >&2
			tail "$log" >&2
			exit 1
		fi
		kill -TERM "$pid"
		wait "$pid" 2>/dev/null
		line=$(grep -o 'view: rebuilt from [0-9]* records.* in [0-9]* ms' "$log")
		rec=$(echo "$line" | awk '{ print $4 }')
		if [ -z "${VIEW:-}" ] && [ "$rec" != "$n" ]; then
			echo "sync-rebuild: read $rec records of $n: $line" >&2
			exit 1
		fi
		ms="$ms $(echo "$line" | awk '{ print $(NF - 1) }')"
	done
	sorted=$(echo $ms | tr ' ' '\n' | sort -n)
	med=$(echo "$sorted" | sed -n "$(((RUNS + 1) / 2))p")
	printf '%5s  %4s  %s (%s-%s)  %s (filled in %s ms)\n' "$n" "$RUNS" "$med" \
		"$(echo "$sorted" | head -1)" "$(echo "$sorted" | tail -1)" "$rec" "$fill_ms"
done
