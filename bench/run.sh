#!/bin/sh
# Builds the benchmarks (release), generates their inputs, runs both and
# prints a compact table.  Run as root on Debian 12 (bench_nft needs a
# network namespace of its own).  docs/BENCHMARKS.md explains the figures.
#
#   bench/run.sh            everything (about 15 minutes on 2 cores)
#   BENCH_QUICK=1 bench/run.sh   smaller inputs, fewer runs: a smoke test
#
# Needs only what tools/deps.sh installs (meson, ninja, libpcap, libnftnl,
# libmnl, nftables, tcpdump).  Everything is written under build-bench/:
# the full output goes to build-bench/bench-results-DATE.txt.
set -eu
cd "$(dirname "$0")/.."

tools/deps.sh

B=build-bench
DATA=$B/bench-data
SHARED=../shared/data/pcaps
QUICK=${BENCH_QUICK:-0}

if [ ! -f $B/build.ninja ]; then
	# tests=false: the benchmarks need neither cmocka nor the unit tests
	# (bench/meson.build builds the trace generator itself then).
	meson setup $B --buildtype=release -Dtests=false >/dev/null
fi
ninja -C $B src/quarantined src/quarantinectl bench/bench_detect bench/bench_nft bench/bench_state bench/tracegen >/dev/null

mkdir -p $DATA
out=$B/bench-results-$(date -u +%Y%m%dT%H%M%SZ).txt
: >"$out"

say() {
	printf '%s\n' "$*" | tee -a "$out"
}

run() {
	say ""
	say "\$ $*"
	"$@" 2>&1 | tee -a "$out"
}

if [ "$QUICK" = 1 ]; then
	K=5
	K_BIG=3
	SYNTH_FILE=200000
	SYNTH="200000 1000000"
	FLOOD="500000 1000000"
	FLOOD_DETECT=1000000
	OFFLINE_N=1000000
	NFT_ARGS="-r 5 --spawn 20"
	BULK_SIZES="1000 10000"
	BULK_RUNS=3
else
	K=11
	K_BIG=5
	SYNTH_FILE=1000000
	SYNTH="1000000 10000000"
	FLOOD="1000000 5000000"
	FLOOD_DETECT=5000000
	OFFLINE_N=5000000
	NFT_ARGS=""
	BULK_SIZES="1000 10000 100000"
	BULK_RUNS=5
fi

say "== machine"
say "date:   $(date -u +%Y-%m-%dT%H:%M:%SZ)"
say "cpu:    $(nproc) x $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
say "kernel: $(uname -r)"
say "memory: $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
say "load:   $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) at the start"
say "tools:  $(nft --version), $(tcpdump --version 2>&1 | head -n 1), $(tcpdump --version 2>&1 | sed -n 2p)"

say ""
say "== inputs"
$B/bench/tracegen $DATA outbreak vertical-syn-scan
say "generated traces: $DATA/outbreak.pcap, $DATA/vertical-syn-scan.pcap"
synth_file=$DATA/synth-$SYNTH_FILE.pcap
if [ ! -f "$synth_file" ]; then
	$B/bench/bench_detect --synth $SYNTH_FILE --write "$synth_file" >/dev/null
fi
say "synthetic capture: $synth_file"

Q=$B/src/quarantined
T=$(command -v tcpdump)
PROC="-q $Q -T $T"

say ""
say "== bench_detect: generated traces (their own configuration)"
for name in outbreak vertical-syn-scan; do
	conf=""
	[ -f $DATA/$name.conf ] && conf="-c $DATA/$name.conf"
	# shellcheck disable=SC2086
	run $B/bench/bench_detect -k $K $conf $PROC $DATA/$name.pcap
done

say ""
say "== bench_detect: synthetic capture from a file (built-in defaults)"
# shellcheck disable=SC2086
run $B/bench/bench_detect -k $K_BIG $PROC "$synth_file"

say ""
say "== bench_detect: synthetic mixed traffic in memory"
for n in $SYNTH; do
	run $B/bench/bench_detect -k $K_BIG --synth "$n"
done

if [ -d "$SHARED" ]; then
	set --
	for f in "$SHARED"/*.pcap "$SHARED"/*.pcapng; do
		[ -f "$f" ] && set -- "$@" "$f"
	done
	say ""
	say "== bench_detect: the $# real captures in $SHARED (built-in defaults)"
	# shellcheck disable=SC2086
	run $B/bench/bench_detect -k $K $PROC "$@"
else
	say ""
	say "== bench_detect: $SHARED absent, real captures skipped"
fi

say ""
say "== bench_detect: memory bound under a spoofed-source flood (one machine)"
for n in $FLOOD; do
	run $B/bench/bench_detect -k 1 --no-warm --flood "$n"
done
run $B/bench/bench_detect -k 1 --no-warm --flood $FLOOD_DETECT --flood-probes 10

say ""
say "== bench_detect: a forged packet against a normal one, in one run"
# The issue's flood: one LAN machine, ten SYNs to tcp/445 per forged
# address; next to the mixed traffic of --synth, whose packets are the
# normal ones.  And the same flood from a random MAC per forged address.
run $B/bench/bench_detect -k $K_BIG --synth $SYNTH_FILE
run $B/bench/bench_detect -k $K_BIG --flood $SYNTH_FILE --flood-probes 10
run $B/bench/bench_detect -k $K_BIG --flood $SYNTH_FILE --flood-probes 10 --flood-macs

say ""
say "== offline detection against the bare libpcap read loop (whole processes)"
run bench/offline-throughput.sh -k $K_BIG -n $OFFLINE_N

say ""
say "== bench_nft: enforcement latency (private network namespace)"
# shellcheck disable=SC2086
run $B/bench/bench_nft -n "$(command -v nft)" $NFT_ARGS

say ""
say "== bench_state: the state database against the text file rewritten whole"
if [ "$QUICK" = 1 ]; then
	run $B/bench/bench_state /var/tmp 10000 3
else
	run $B/bench/bench_state /var/tmp 100000 5
fi

say ""
say "== bulk-quarantine: quarantinectl quarantine --from against nft -f (a namespace of its own)"
run env SIZES="$BULK_SIZES" RUNS=$BULK_RUNS bench/bulk-quarantine.sh $B

say ""
say "load:   $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) at the end"

# ---- the compact table ----------------------------------------------------
{
	echo
	echo "== summary (full output: $out)"
	echo
	echo "Detection, ns per packet (medians); processes in ms per run:"
	grep '^row|' "$out" | awk -F'|' '
	NF >= 14 && $2 != "batch" && $2 != "single" && $2 != "decision" {
		if (!hdr++) {
			printf "%-46s %10s %6s %7s %8s %8s %8s %10s %9s %8s %8s\n", "input",
			    "packets", "bare", "decode", "engine", "warm", "libpcap",
			    "quarantnd", "tcpdump", "eng MiB", "flagged"
		}
		b0 = $10 < 0 ? "-" : $10
		q = $11 < 0 ? "-" : $11 " ms"
		t = $12 < 0 ? "-" : $12 " ms"
		w = $7 < 0 ? "-" : $7
		printf "%-46s %10s %6s %7s %8s %8s %8s %10s %9s %8s %8s\n", substr($2, 1, 46),
		    $3, $4, $5, $6, w, b0, q, t, $13, $14
	}'
	echo
	echo "Enforcement, ms (medians): ours = nft_commit() to the last ACK; nft -f = the process"
	grep '^row|batch|' "$out" | awk -F'|' '
	{
		if (!hdr++)
			printf "%9s %12s %12s %12s %12s %9s\n", "elements", "ours add",
			    "ours delete", "nft -f add", "nft -f del", "ratio"
		printf "%9s %12s %12s %12s %12s %8.0fx%s\n", $3, $4, $5, $6, $7, $6 / $4,
		    $10 == "sndbuf" ? "  (SO_SNDBUF raised, see [1])" : ""
	}'
	grep '^row|single|' "$out" | awk -F'|' '{
		printf "%s elements one at a time: %s ms as nft processes, %s ms as our transactions\n",
		    $3, $4, $5 }'
	grep '^row|decision|' "$out" | awk -F'|' '{
		printf "decision to ACK, one host, %s ms idle before: %s us median (p90 %s us; detection %s us, commit to ACK %s us)\n",
		    $3, $6, $7, $4, $5 }'
	grep '^row|hot|' "$out" | awk -F'|' '{
		printf "nft_commit() of one element back to back (hot): %s us median\n", $3 }'
} | tee -a "$out"
