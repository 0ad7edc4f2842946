#!/bin/sh
# unit-security.sh UNIT QUARANTINED
#
# Rates the systemd unit (the one meson configured, with ExecStart in the
# install prefix) with "systemd-analyze security --offline=true" and fails
# when the overall exposure is above 2.0, or when systemd-analyze has
# anything to say about the file itself (an unknown or misspelt directive,
# a value it cannot parse): such a line would be ignored by systemd, and
# the rating would not be that of the unit we think we ship.  Then
# "systemd-analyze verify" checks the unit with ExecStart pointed at the
# QUARANTINED just built (verify wants an executable there).
#
# Exit status: 0 passed, 1 failed, 2 usage, 77 skipped (no systemd-analyze,
# or one without --offline, which came with systemd 250).
set -eu

if [ $# -ne 2 ]; then
	echo "usage: $0 UNIT QUARANTINED" >&2
	exit 2
fi
unit=$1
bin=$2
max=2.0
case $bin in
/*) ;;
*) bin=$PWD/$bin ;;
esac

if ! command -v systemd-analyze >/dev/null; then
	echo "SKIP: systemd-analyze is not installed"
	exit 77
fi
if ! systemd-analyze security --help 2>/dev/null | grep -q -- '--offline'; then
	echo "SKIP: this systemd-analyze has no --offline"
	exit 77
fi
if [ ! -r "$unit" ]; then
	echo "FAIL: cannot read $unit"
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/qd-unit.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

rc=0
systemd-analyze security --offline=true --no-pager "$unit" >"$tmp/out" 2>"$tmp/err" || rc=$?
cat "$tmp/out"
fails=0

# Complaints about the file, e.g. "quarantined.service:42: Unknown key
# name 'ProtectKernelLog' in section 'Service', ignoring."
base=$(basename "$unit")
if grep -F "$base:" "$tmp/err" >"$tmp/complaints"; then
	echo "FAIL: systemd-analyze complains about $base:"
	cat "$tmp/complaints"
	fails=$((fails + 1))
fi

# "→ Overall exposure level for quarantined.service: 1.8 OK 🙂"
level=$(sed -n 's/.*[Oo]verall exposure level for [^:]*: *\([0-9][0-9]*\.[0-9]\).*/\1/p' \
	"$tmp/out" "$tmp/err" | head -n 1)
if [ -z "$level" ]; then
	echo "FAIL: no overall exposure level in the output (systemd-analyze exit status $rc):"
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

# What the rating rests on, checked by name: losing one of these in an
# edit could be made up for by another and go unnoticed in the figure.
# And seccomp, which the rating does not see: without it the sensor
# cannot load its filter and the daemon does not start (systemd-unit.sh
# shows it under systemd, where it can run).
# has KEY WORD...: some KEY= line of the unit holds every WORD.
has() {
	key=$1
	shift
	grep "^$key=" "$unit" | tr ' ' '\n' | tr '=' '\n' | sort -u >"$tmp/words"
	for w in "$@"; do
		grep -qxF "$w" "$tmp/words" || return 1
	done
}
for want in 'Type notify' 'User quarantined' 'NoNewPrivileges yes' \
	'CapabilityBoundingSet CAP_NET_ADMIN CAP_NET_RAW' \
	'AmbientCapabilities CAP_NET_ADMIN CAP_NET_RAW' 'ProtectSystem strict' \
	'Before network-pre.target' 'Wants network-pre.target' \
	'SystemCallFilter seccomp'; do
	# shellcheck disable=SC2086 # KEY WORD... on purpose
	if has $want; then
		echo "ok:   $want"
	else
		echo "FAIL: the unit lacks $want"
		fails=$((fails + 1))
	fi
done

# The unit as systemd would load it, with a binary that exists.
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
