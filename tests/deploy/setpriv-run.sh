#!/bin/bash
# setpriv-run.sh MESON BUILDDIR QD_PY
#
# The installed daemon, started the way the unit starts it but without
# systemd: setpriv makes it uid/gid 65534 (nobody/nogroup) with no
# supplementary groups and with CAP_NET_ADMIN and CAP_NET_RAW as its only
# capabilities (inheritable, ambient and bounding sets), in a network
# namespace of its own.  It must start (its control socket answers
# "quarantinectl status"), create its table (nft list table inet
# quarantined), enforce (quarantinectl quarantine 10.66.1.10 puts the
# address in iso4 and the host no longer reaches the outside), save its
# state database as that user, stop cleanly on SIGTERM, and hold no capability but
# those two: CapEff and CapPrm exactly 0x3000, CapInh, CapAmb and CapBnd
# nothing beyond (/proc/PID/status).
#
# Topology (namespaces "qds<pid>gw", "...h1", "...out"; the veth pairs are
# made inside the gateway namespace and joined only to the other two, so
# nothing is linked or routed to the root namespace):
#
#   h1 10.66.1.10/24 eth0 -- v-h1 10.66.1.1/24 [gw: quarantined -i v-h1]
#                                  v-out 10.66.0.1/30 -- eth0 10.66.0.2/30 out
#                                                          service on :80
#
# MESON and BUILDDIR: the build is installed into a staging directory
# ("meson install --destdir") and the installed binaries are run; QD_PREFIX,
# QD_SBINDIR and QD_BINDIR (set by tests/meson.build) say where they are.
# QD_PY: tests/e2e/qd.py (the test service and TCP probe).
#
# Needs root; exit 77 (skipped) otherwise, or without setpriv with ambient
# capabilities, ip, nft or network namespaces.
set -u
# The checks and waits of the end-to-end tests (qd_check, qd_wait).
. "$(dirname "$0")/../e2e/lib.sh"

if [ $# -ne 3 ]; then
	echo "usage: $0 MESON BUILDDIR QD_PY" >&2
	exit 2
fi
MESON=$1
BUILDDIR=$2
QD_PY="$(command -v /usr/bin/python3 || command -v python3) $3"

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root (setpriv, network namespaces, nftables)"
	exit 77
fi
for t in setpriv ip nft python3; do
	if ! command -v "$t" >/dev/null; then
		echo "SKIP: $t is not installed"
		exit 77
	fi
done
if ! setpriv --help 2>&1 | grep -q -- --ambient-caps; then
	echo "SKIP: this setpriv has no --ambient-caps (util-linux 2.31 or later)"
	exit 77
fi

RUID=65534
RGID=65534
CAPS=+net_admin,+net_raw
WANT_CAPS=0000000000003000 # 1 << CAP_NET_ADMIN (12) | 1 << CAP_NET_RAW (13)
H1=10.66.1.10
OUT=10.66.0.2

NS=qds$$
NS_MADE=""
DPID=""
PIDS=""
TMP=$(mktemp -d "${TMPDIR:-/tmp}/qd-setpriv.XXXXXX") || exit 1

cleanup() {
	local rc=$? p ns
	trap - EXIT HUP INT TERM
	trap '' PIPE
	if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
		echo "---- daemon log (tail) ----"
		tail -n 30 "$TMP/daemon.log" 2>/dev/null
	fi
	for p in $DPID $PIDS; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in $DPID $PIDS; do
		wait "$p" 2>/dev/null
	done
	for ns in $NS_MADE; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
	done
	if [ -n "$NS_MADE" ]; then
		ip netns exec "${NS}gw" nft delete table inet quarantined 2>/dev/null
		for ns in $NS_MADE; do
			ip netns del "$ns" 2>/dev/null
		done
	fi
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM



in_ns() {
	local ns=$NS$1
	shift
	ip netns exec "$ns" "$@"
}

make_ns() {
	ip netns add "$NS$1" 2>"$TMP/netns.err" || return 1
	NS_MADE="$NS_MADE $NS$1"
	in_ns "$1" sh -c 'echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6;
		echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6'
	in_ns "$1" ip link set lo up
}

# ---- the installed daemon ---------------------------------------------

abs() {
	case $1 in
	/*) echo "$1" ;;
	*) echo "$QD_PREFIX/$1" ;;
	esac
}
DEST=$TMP/root
if ! "$MESON" install -C "$BUILDDIR" --no-rebuild --quiet --destdir "$DEST" >"$TMP/install.log" 2>&1; then
	cat "$TMP/install.log"
	echo "FAIL: meson install --destdir"
	exit 1
fi
Q=$DEST$(abs "$QD_SBINDIR")/quarantined
CTL=$DEST$(abs "$QD_BINDIR")/quarantinectl
# The unprivileged user must reach the binary, its config and its state.
chmod 0755 "$TMP"
STATE=$TMP/state
RUN=$TMP/run
SOCK=$RUN/control.sock
CONF=$TMP/quarantined.conf
mkdir "$STATE" "$RUN"
chown "$RUID:$RGID" "$STATE" "$RUN"
chmod 0750 "$STATE"
# The socket goes to the daemon's own group: a group it is not in (the
# default, "quarantine", where it exists) could not be given to it.
cat >"$CONF" <<-EOF
	capture: { interfaces = [ "v-h1" ]; };
	networks: { protected = [ "10.66.1.0/24" ]; };
	control: { socket = "$SOCK"; group = "$(getent group "$RGID" | cut -d: -f1)"; };
	state: { dir = "$STATE"; };
EOF
chmod 0644 "$CONF"

# ---- namespaces -----------------------------------------------------------

if ! make_ns gw; then
	echo "SKIP: cannot create a network namespace: $(cat "$TMP/netns.err")"
	exit 77
fi
make_ns h1 && make_ns out || exit 1
in_ns gw sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward'
in_ns gw ip link add v-h1 type veth peer name eth0 netns "${NS}h1" || exit 1
in_ns gw ip link add v-out type veth peer name eth0 netns "${NS}out" || exit 1
in_ns gw ip addr add 10.66.1.1/24 dev v-h1
in_ns gw ip addr add 10.66.0.1/30 dev v-out
in_ns gw ip link set v-h1 up
in_ns gw ip link set v-out up
in_ns h1 ip addr add $H1/24 dev eth0
in_ns h1 ip link set eth0 up
in_ns h1 ip route add default via 10.66.1.1
in_ns out ip addr add $OUT/30 dev eth0
in_ns out ip link set eth0 up
in_ns out ip route add default via 10.66.0.1

# shellcheck disable=SC2086 # QD_PY is "python3 qd.py"
in_ns out $QD_PY serve --ready "$TMP/out.ready" $OUT:80 &
PIDS="$PIDS $!"
qd_wait 10 "the service in the out namespace" test -e "$TMP/out.ready" || exit 1

reaches() {
	# shellcheck disable=SC2086
	in_ns h1 $QD_PY connect $OUT 80 --timeout 1 2>/dev/null
}
qd_wait 5 "h1 reaches $OUT:80 before the daemon" reaches || exit 1

# ---- start ----------------------------------------------------------------

echo "== setpriv --reuid=$RUID --regid=$RGID --clear-groups, caps $CAPS only: $Q"
# ip netns exec and setpriv both exec: $! is the daemon's pid.
ip netns exec "${NS}gw" setpriv --reuid=$RUID --regid=$RGID --clear-groups \
	--inh-caps=-all,$CAPS --ambient-caps=-all,$CAPS --bounding-set=-all,$CAPS \
	-- "$Q" -f -o json -c "$CONF" >"$TMP/events.json" 2>"$TMP/daemon.log" &
DPID=$!

up() {
	if ! kill -0 "$DPID" 2>/dev/null; then
		wait "$DPID"
		echo "quarantined exited with status $?" >&2
		DPID=""
		return 2
	fi
	"$CTL" -S "$SOCK" status >"$TMP/status.out" 2>&1
}
qd_wait 15 "quarantined answers on its control socket" up
rc=$?
if [ $rc != 0 ]; then
	echo "FAIL: the daemon did not start as uid $RUID with only $CAPS"
	exit 1
fi
echo "ok:   the control socket answers quarantinectl status"
sed 's/^/      /' "$TMP/status.out"

qd_check "the daemon is $Q" test "$(readlink "/proc/$DPID/exe")" = "$Q"
field() {
	awk -v k="$1:" '$1 == k { print $2 }' "/proc/$DPID/status"
}
status_line() {
	awk -v k="$1:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "/proc/$DPID/status"
}
qd_check "it runs as uid $RUID (Uid: $(status_line Uid))" test "$(status_line Uid)" = "$RUID $RUID $RUID $RUID"
qd_check "it runs as gid $RGID (Gid: $(status_line Gid))" test "$(status_line Gid)" = "$RGID $RGID $RGID $RGID"
qd_check "no supplementary group (Groups: $(status_line Groups))" test -z "$(status_line Groups)"
# subset MASK: MASK holds nothing but the two capabilities.
subset() {
	[ $((0x$1 & ~0x$WANT_CAPS)) = 0 ]
}
for f in CapEff CapPrm; do
	v=$(field $f)
	qd_check "$f is $WANT_CAPS (net_admin, net_raw): $v" test "$v" = "$WANT_CAPS"
done
for f in CapInh CapAmb CapBnd; do
	v=$(field $f)
	qd_check "$f holds nothing beyond net_admin, net_raw: $v" subset "$v"
done
echo "      (NoNewPrivs: $(field NoNewPrivs), Seccomp: $(field Seccomp))"

has_table() {
	in_ns gw nft list table inet quarantined >/dev/null 2>&1
}
qd_check "its table exists: nft list table inet quarantined" has_table
qd_check "the control socket is $RUID:$RGID mode 0660 ($(stat -c '%u:%g %a' "$SOCK"))" \
	test "$(stat -c '%u:%g %a' "$SOCK")" = "$RUID:$RGID 660"

# ---- enforce --------------------------------------------------------------

qd_check "quarantinectl quarantine $H1 succeeds" \
	"$CTL" -S "$SOCK" quarantine $H1 --reason setpriv-run
in_iso4() {
	in_ns gw nft list set inet quarantined iso4 2>/dev/null | grep -qwF -- "$H1"
}
qd_check "iso4 holds $H1" in_iso4
qd_check "quarantinectl list shows $H1" sh -c "'$CTL' -S '$SOCK' list | grep -qw -- '$H1'"
qd_check "isolated: $H1 no longer reaches $OUT:80" qd_wait 2 "$H1 cut off" eval '! reaches'
qd_check "the state is saved as uid $RUID" \
	qd_wait 5 "$STATE/state.db owned by $RUID" sh -c "test \"\$(stat -c %u '$STATE/state.db' 2>/dev/null)\" = $RUID"
qd_check "quarantinectl release $H1 succeeds" "$CTL" -S "$SOCK" release $H1
qd_check "released: $H1 is out of iso4" eval '! in_iso4'
qd_check "released: $H1 reaches $OUT:80 again" qd_wait 2 "$H1 back" reaches

# ---- stop -----------------------------------------------------------------

kill -TERM "$DPID"
wait "$DPID"
drc=$?
DPID=""
qd_check "SIGTERM: exit status 0 (got $drc)" test "$drc" = 0
qd_check "SIGTERM: the control socket is removed" test ! -e "$SOCK"
qd_check "SIGTERM: the table stays" has_table
if grep -qiE 'warn|error|fail|denied|not permitted' "$TMP/daemon.log"; then
	echo "note: the daemon's log has warnings:"
	sed 's/^/      /' "$TMP/daemon.log"
fi

if [ "$QD_FAILS" != 0 ]; then
	echo "---- daemon log ----"
	cat "$TMP/daemon.log"
	echo "$QD_FAILS check(s) failed"
	exit 1
fi
echo "all checks passed"
