#!/bin/sh
# fuzz/run.sh TARGET [SECONDS]: runs one fuzz target under clang's libFuzzer
# with AddressSanitizer and UndefinedBehaviorSanitizer (any report is fatal)
# for SECONDS (default 600), one job, and prints libFuzzer's final figures.
#
# The build is build-fuzz (meson -Dfuzzer=true, CC=clang-14 unless CC is
# set).  The run starts from a copy of fuzz/corpus/TARGET in
# build-fuzz/run/TARGET/corpus, so that the committed seed corpus stays
# small; what it grows stays there.  A crash is written to
# build-fuzz/run/TARGET/crash-* (libFuzzer's artifact); add it to
# fuzz/corpus/TARGET with the fix, so that it replays as a test.
#
# TARGETS: decode ctlproto commands state conf pcap identsnap sensorproto eve
# zeek feedproto avcsv syncmsg.
set -eu
cd "$(dirname "$0")/.."

target=${1:?usage: fuzz/run.sh TARGET [SECONDS]}
seconds=${2:-600}
[ -d "fuzz/corpus/$target" ] || { echo "fuzz/run.sh: no target $target" >&2; exit 2; }

# -Dwerror=false: clang's -Wformat=2 also warns about log.c passing its
# format on to vsnprintf(), which gcc (the -Werror build) accepts.
if [ ! -d build-fuzz ]; then
	CC=${CC:-clang-14} meson setup build-fuzz -Dfuzzer=true -Dtests=false \
		-Dbuildtype=debugoptimized -Dwerror=false -Db_sanitize=address,undefined \
		-Db_lundef=false -Dc_args=-fno-sanitize-recover=all >/dev/null
fi
ninja -C build-fuzz "fuzz/fuzz_$target" >/dev/null

run=build-fuzz/run/$target
rm -rf "$run"
mkdir -p "$run/corpus"
cp "fuzz/corpus/$target"/* "$run/corpus/"
bin=$PWD/build-fuzz/fuzz/fuzz_$target
cd "$run"
# libconfig's own leak (fuzz/lsan.supp says which) is not ours to find.
export LSAN_OPTIONS="suppressions=$OLDPWD/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
# The state targets save (and fsync) for every input: on tmpfs that costs
# nothing.
[ -d /dev/shm ] && export TMPDIR=/dev/shm
# -jobs=1: one worker (the machine is shared); its output is fuzz-0.log.
# A crash ends the run with status 1.
status=0
"$bin" -jobs=1 -workers=1 -max_total_time="$seconds" -print_final_stats=1 \
	-timeout=10 -rss_limit_mb=2048 -artifact_prefix="$PWD/" corpus >/dev/null 2>&1 || status=$?
log=fuzz-0.log
last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
stat() {
	sed -n "s/^stat::$1: *//p" "$log" | tail -n 1
}
printf '%s: %s s, %s executions, %s exec/s, cov: %s ft: %s, corpus %s -> %s inputs, peak RSS %s MB\n' \
	"$target" "$seconds" "$(stat number_of_executed_units)" "$(stat average_exec_per_sec)" \
	"$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')" \
	"$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')" \
	"$(ls "$PWD/../../../fuzz/corpus/$target" | wc -l)" "$(ls corpus | wc -l)" "$(stat peak_rss_mb)"
found=$(find . -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
	-o -name 'oom-*' \) -printf '%f\n')
if [ -n "$found" ]; then
	echo "findings in $PWD: $found"
	grep -E 'ERROR|invariant|runtime error|SUMMARY' "$log" | head -n 20
	exit 1
fi
exit "$status"
