#!/bin/bash
# Offline detection against the bare libpcap read loop (issue 11,
# "Throughput"; docs/BENCHMARKS.md, "Offline detection against the bare
# read loop").
#
#   bench/offline-throughput.sh [-k K] [-n PACKETS] [QUARANTINED...]
#
# Writes the scale issue's trace with bench_detect --midflow (PACKETS
# header-only packets, 5,000,000 by default: 95 % of the draws a segment
# of one of the established TCP connections, 3 % a DNS query and its
# answer, 1.5 % a ping and its reply, 0.5 % an SMB probe of one of three
# scanners; see bench/bench_detect.c) to build-bench/bench-data/, then
# runs, K times (5 by default) in turn, as whole processes over that same
# file (page cache warm):
#   (a) build-bench/bench/pcaploop FILE: a bare pcap_next_ex() loop, the
#       issue's baseline;
#   (a') build-bench/bench/pcaploop -q FILE: the same loop over
#       quarantined's own reading of capture files (capture_next()), which
#       quarantined -r cannot go below: what it costs beyond this is
#       detection;
#   (b) QUARANTINED -r FILE -o json >/dev/null, for each QUARANTINED given
#       (build-bench/src/quarantined when none is: the default
#       configuration, as a fresh installation has it);
#   (c) tcpdump -r FILE -w /dev/null.
# and prints, for each, the medians of wall time and of CPU time (user +
# system) with Mpkt/s, its ratios to (a) and the CPU ratio to (a').  The
# events of every
# QUARANTINED are compared: a faster build must detect the same.  Run as
# root or not; needs what bench/run.sh needs.
set -eu
cd "$(dirname "$0")/.."

K=5
N=5000000
while getopts k:n: o; do
	case $o in
	k) K=$OPTARG ;;
	n) N=$OPTARG ;;
	*)
		echo "usage: $0 [-k K] [-n PACKETS] [QUARANTINED...]" >&2
		exit 2
		;;
	esac
done
shift $((OPTIND - 1))

B=build-bench
F=$B/bench-data/midflow-$N.pcap
if [ ! -f $B/build.ninja ]; then
	meson setup $B --buildtype=release -Dtests=false >/dev/null
fi
ninja -C $B src/quarantined bench/bench_detect bench/pcaploop >/dev/null
mkdir -p $B/bench-data
[ -f "$F" ] || $B/bench/bench_detect --midflow "$N" --write "$F" >/dev/null
[ $# -gt 0 ] || set -- $B/src/quarantined

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Names and command lines of the contenders, in the order they run.
names=(pcaploop capture-loop)
cmds=("$B/bench/pcaploop $F" "$B/bench/pcaploop -q $F")
i=0
for q in "$@"; do
	i=$((i + 1))
	names+=("quarantined-$i")
	cmds+=("$q -r $F -o json")
done
if command -v tcpdump >/dev/null; then
	names+=(tcpdump)
	cmds+=("tcpdump -r $F -w /dev/null")
fi

echo "trace: $F ($(stat -c %s "$F") bytes, $N packets)"
i=0
for q in "$@"; do
	i=$((i + 1))
	echo "quarantined-$i: $q"
done
echo "machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg) at the start"

# The events, once each: every build must find the same.
i=0
for q in "$@"; do
	i=$((i + 1))
	"$q" -r "$F" -o json >"$TMP/events-$i" 2>/dev/null || true
	if [ $i -gt 1 ] && ! cmp -s "$TMP/events-1" "$TMP/events-$i"; then
		echo "quarantined-$i: its events differ from quarantined-1's" >&2
		exit 1
	fi
done
echo "events: $(wc -l <"$TMP/events-1") lines, the same from every build;" \
	"hosts flagged: $(grep -o '"event":"detect","host":"[^"]*"' "$TMP/events-1" | sort -u | wc -l)"

# Alternating runs: a drift of the machine touches every contender alike.
TIMEFORMAT='%3R %3U %3S'
for ((k = 1; k <= K; k++)); do
	for ((c = 0; c < ${#names[@]}; c++)); do
		# shellcheck disable=SC2086
		{ time ${cmds[$c]} >/dev/null 2>&1; } 2>>"$TMP/t-${names[$c]}"
	done
done

median() {
	sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

printf '%-14s %9s %9s %7s %7s %9s %9s %8s %8s %8s\n' "" "wall ms" "CPU ms" "user" "sys" "Mpkt/s" "(CPU)" \
	"x wall" "x CPU" "x' CPU"
base_w=
base_c=
own_c=
for n in "${names[@]}"; do
	w=$(awk '{ print $1 * 1000 }' "$TMP/t-$n" | median)
	c=$(awk '{ print ($2 + $3) * 1000 }' "$TMP/t-$n" | median)
	u=$(awk '{ print $2 * 1000 }' "$TMP/t-$n" | median)
	s=$(awk '{ print $3 * 1000 }' "$TMP/t-$n" | median)
	[ -n "$base_w" ] || { base_w=$w; base_c=$c; }
	[ "$n" != capture-loop ] || own_c=$c
	awk -v n="$n" -v w="$w" -v c="$c" -v u="$u" -v s="$s" -v bw="$base_w" -v bc="$base_c" \
		-v oc="$own_c" -v p="$N" 'BEGIN {
		printf "%-14s %9.0f %9.0f %7.0f %7.0f %9.2f %9.2f %7.2fx %7.2fx", n, w, c, u, s,
		    p / w / 1000, p / c / 1000, w / bw, c / bc
		if (oc != "")
			printf " %7.2fx", c / oc
		printf "\n" }'
done
echo "(medians of $K alternating runs, CPU = user + sys ms, each column its own median;"
echo " x: the ratio to pcaploop, the bare libpcap loop;"
echo " x': to capture-loop, the same loop over quarantined's own reading)"
echo "machine: load $(cut -d' ' -f1-3 /proc/loadavg) at the end"
