#!/bin/sh
# What passing bare ACKs costs (issue 10; docs/BENCHMARKS.md, "Bare ACKs").
#
#   bench/ack-filter.sh [BASE]
#
# Writes a 5,000,000-packet trace of mostly established TCP
# (bench_detect --midflow) to build-bench/bench-data/, then:
#   - with BASE (a release build directory of the commit before, with its
#     src/quarantined and bench/bench_detect), three alternating pairs of
#     `quarantined -r` and the in-process engine over every packet, each
#     next to a bare libpcap pcap_next_ex() loop over the same file;
#   - what the live filter passes, before bare ACKs (old), with them
#     (bare, the daemon's) and with every pure ACK (pure), and what the
#     engine costs for what passed, twice each.
# Run as root on the benchmark machine; needs what bench/run.sh needs.
set -eu
cd "$(dirname "$0")/.."

B=build-bench
BASE=${1:-}
F=$B/bench-data/midflow-5000000.pcap

if [ ! -f $B/build.ninja ]; then
	meson setup $B --buildtype=release -Dtests=false >/dev/null
fi
ninja -C $B src/quarantined bench/bench_detect >/dev/null
mkdir -p $B/bench-data
[ -f $F ] || $B/bench/bench_detect --midflow 5000000 --write $F

echo "load: $(cut -d' ' -f1-3 /proc/loadavg) at the start"
if [ -n "$BASE" ]; then
	for i in 1 2 3; do
		echo "=== pair $i: base"
		"$BASE/bench/bench_detect" -k 5 --no-warm -q "$BASE/src/quarantined" $F
		echo "=== pair $i: this tree"
		$B/bench/bench_detect -k 5 --no-warm -q $B/src/quarantined $F
	done
fi
for i in 1 2; do
	for f in old bare pure; do
		echo "=== filter round $i: $f"
		$B/bench/bench_detect -k 3 --filter $f $F
	done
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) at the end"
