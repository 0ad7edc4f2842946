#!/bin/sh
# sync-unit-security.sh UNIT QUARANTINE_SYNC
#
# Rates quarantine-sync.service (as meson configured it) with
# "systemd-analyze security --offline=true": at most 2.0, no complaint
# about the file, and what the rating rests on checked by name (no
# capability, address families unix and inet only, IP denied but for the
# servers a drop-in allows); then "systemd-analyze verify" with ExecStart
# pointed at the binary just built.
#
# Exit status: 0 passed, 1 failed, 2 usage, 77 skipped (no systemd-analyze
# with --offline).
set -eu

if [ $# -ne 2 ]; then
	echo "usage: $0 UNIT QUARANTINE_SYNC" >&2
	exit 2
fi
unit=$1
bin=$2
max=2.0
case $bin in
/*) ;;
*) bin=$PWD/$bin ;;
esac
if ! command -v systemd-analyze >/dev/null ||
	! systemd-analyze security --help 2>/dev/null | grep -q -- '--offline'; then
	echo "SKIP: no systemd-analyze with --offline"
	exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/qd-unit.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

fails=0
base=$(basename "$unit")
systemd-analyze security --offline=true --no-pager "$unit" >"$tmp/out" 2>"$tmp/err" || :
cat "$tmp/out"
if grep -F "$base:" "$tmp/err" >"$tmp/complaints"; then
	echo "FAIL: systemd-analyze complains about $base:"
	cat "$tmp/complaints"
	fails=$((fails + 1))
fi
level=$(sed -n 's/.*[Oo]verall exposure level for [^:]*: *\([0-9][0-9]*\.[0-9]\).*/\1/p' \
	"$tmp/out" "$tmp/err" | head -n 1)
if [ -z "$level" ]; then
	echo "FAIL: no overall exposure level in the output:"
	cat "$tmp/err"
	exit 1
fi
echo "figure: systemd-analyze security --offline=true $base: $level (target: $max or lower)"
if awk -v l="$level" -v m="$max" 'BEGIN { exit !(l + 0 > m + 0) }'; then
	echo "FAIL: exposure $level is above $max"
	fails=$((fails + 1))
else
	echo "ok:   exposure $level is at most $max"
fi
for want in '^User=quarantine-sync$' '^CapabilityBoundingSet=$' '^AmbientCapabilities=$' \
	'^NoNewPrivileges=yes$' '^RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6$' \
	'^IPAddressDeny=any$' '^ProtectSystem=strict$' '^SupplementaryGroups=quarantine$'; do
	if grep -q "$want" "$unit"; then
		echo "ok:   $want"
	else
		echo "FAIL: the unit lacks $want"
		fails=$((fails + 1))
	fi
done
mkdir "$tmp/verify"
sed "s|^ExecStart=[^ ]*|ExecStart=$bin|" "$unit" >"$tmp/verify/$base"
if systemd-analyze verify --man=no "$tmp/verify/$base" >"$tmp/verify.out" 2>&1 &&
	! grep -q . "$tmp/verify.out"; then
	echo "ok:   systemd-analyze verify has nothing to say"
else
	echo "FAIL: systemd-analyze verify:"
	cat "$tmp/verify.out"
	fails=$((fails + 1))
fi
if [ "$fails" != 0 ]; then
	echo "$fails check(s) failed"
	exit 1
fi
echo "all checks passed"
