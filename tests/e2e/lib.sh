# shellcheck shell=bash disable=SC2034,SC2120 # variables for the tests; optional arguments
# lib.sh: the end-to-end tests' network namespaces, daemon and checks.
# Sourced by tests/e2e/*.sh (bash) and demo/outbreak.sh, never run.
#
# Network safety: every packet stays inside namespaces made here.  The
# veth pairs are created inside the gateway namespace and joined only to
# the other test namespaces: nothing is linked or routed to the root
# namespace (the machine's own network).  The "out" namespace owns the
# whole target range 10.66.128.0/17 with a local route, so every scanned
# address is one of our own test hosts, and the worm refuses any target
# outside that range.  qd_cleanup (on exit, also after HUP, INT, PIPE and
# TERM) stops what the test started, by pid (and whatever still runs
# inside its namespaces), and deletes its nftables tables and namespaces.
#
# Topology (qd_topology; NS is "qd<pid>"):
#
#   NSinf 10.66.1.10 (infected)   --+
#   NSben 10.66.1.20 (benign)     --+-- br0 10.66.1.1/24 --+
#   NSnb  10.66.1.30 (never-block) -+                       |   NSgw: quarantined -i br0
#   NSadm 10.66.1.40 (admin)      --+                       |   forwarding, table inet quarantined
#   NSl2a 10.66.2.40 (admin) ------ lan2 10.66.2.1/24 ------+   (qd_topology --lan2 only)
#   NSl2o 10.66.2.20 (other) ------ (same segment as l2a)   |
#                                                  wan0 10.66.0.1/30
#                                                           |
#   NSout 10.66.0.2/30, local route 10.66.128.0/17 on lo: owns every target;
#         services "ok" on 10.66.200.80:80 and :8080 (web) and
#         10.66.200.10:80 (remediation); table inet qdcount counts what
#         reaches it.  Every LAN host serves "ok" on port 8080.

QD_NET_WORM=10.66.128.0/18 # what the worms scan: none of the services
QD_INF=10.66.1.10
QD_BEN=10.66.1.20
QD_NB=10.66.1.30
QD_ADM=10.66.1.40
QD_L2ADM=10.66.2.40
QD_L2OTHER=10.66.2.20
QD_WEB=10.66.200.80
QD_REM=10.66.200.10
QD_HOSTS=${QD_HOSTS:-inf ben nb adm} # the br0 hosts qd_topology makes

QD_FAILS=0
QD_PIDS=""
QD_DPID=""
QD_NS_MADE=""
QD_T0=$(date +%s%N)

# ---- setup ----------------------------------------------------------------

# qd_init QUARANTINED QUARANTINECTL WORM: checks, names, work dir, traps.
# Exits 77 (skipped) without root or without network namespaces.
qd_init() {
	if [ $# -ne 3 ]; then
		echo "usage: $0 QUARANTINED QUARANTINECTL WORM" >&2
		exit 2
	fi
	QD_Q=$1
	QD_CTL=$2
	QD_WORM=$3
	QD_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	# The system's python3 first: a version manager's shim in PATH (pyenv)
	# can cost half a second per call.
	QD_PY="$(command -v /usr/bin/python3 || command -v python3) $QD_DIR/qd.py"
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP: the end-to-end tests need root (network namespaces, nftables)"
		exit 77
	fi
	for t in ip nft python3; do
		if ! command -v "$t" >/dev/null; then
			echo "SKIP: $t is not installed"
			exit 77
		fi
	done
	QD_NS=qd$$
	QD_TMP=$(mktemp -d "${TMPDIR:-/tmp}/qd-e2e.XXXXXX") || exit 1
	trap qd_cleanup EXIT
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 141' PIPE
	trap 'exit 143' TERM
	if ! ip netns add "${QD_NS}gw" 2>"$QD_TMP/netns.err"; then
		echo "SKIP: cannot create a network namespace: $(cat "$QD_TMP/netns.err")"
		exit 77
	fi
	QD_NS_MADE="${QD_NS}gw"
	QD_SOCK=$QD_TMP/control.sock
	QD_STATE=$QD_TMP/state
	QD_EVENTS=$QD_TMP/events.json
	QD_CONF=$QD_TMP/quarantined.conf
	mkdir -p "$QD_STATE"
	: >"$QD_EVENTS"
}

qd_cleanup() {
	local rc=$? p ns
	trap - EXIT HUP INT TERM
	trap '' PIPE # stdout may be gone (| head): clean up all the same
	if [ "$rc" != 0 ] && [ "$rc" != 77 ] && [ -n "${QD_TMP:-}" ]; then
		echo "---- daemon log (tail) ----"
		tail -n 30 "$QD_TMP/daemon.log" 2>/dev/null
		echo "---- events (tail) ----"
		tail -n 20 "$QD_EVENTS" 2>/dev/null
	fi
	[ -n "$QD_DPID" ] && kill -TERM "$QD_DPID" 2>/dev/null
	for p in $QD_PIDS; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in $QD_DPID $QD_PIDS; do
		wait "$p" 2>/dev/null
	done
	# Anything else still running inside our namespaces (e.g. a child
	# that a wrapper forked) is ours too: stop it by pid.
	for ns in $QD_NS_MADE; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
	done
	if [ -n "$QD_NS_MADE" ]; then
		ip netns exec "${QD_NS}gw" nft delete table inet quarantined 2>/dev/null
		ip netns exec "${QD_NS}gw" nft delete table bridge quarantined 2>/dev/null
		ip netns exec "${QD_NS}out" nft delete table inet qdcount 2>/dev/null
		for ns in $QD_NS_MADE; do
			ip netns del "$ns" 2>/dev/null
		done
	fi
	[ -n "${QD_TMP:-}" ] && rm -rf "$QD_TMP"
	exit "$rc"
}

# qd_in NAME CMD...: run CMD in test namespace NAME (gw, out, inf, ...).
qd_in() {
	local ns=$QD_NS$1
	shift
	ip netns exec "$ns" "$@"
}

# qd_sysctl NAME KEY VALUE: set /proc/sys/KEY in namespace NAME (the
# net/ keys are per namespace; no procps needed).
qd_sysctl() {
	qd_in "$1" sh -c 'echo "$2" >"/proc/sys/$1"' sh "$2" "$3"
}

_qd_ns() {
	case " $QD_NS_MADE " in
	*" $QD_NS$1 "*) ;;
	*)
		ip netns add "$QD_NS$1" || return 1
		QD_NS_MADE="$QD_NS_MADE $QD_NS$1"
		;;
	esac
	# No IPv6 chatter (router solicitations, MLD) in the tests' traffic.
	qd_sysctl "$1" net/ipv6/conf/all/disable_ipv6 1
	qd_sysctl "$1" net/ipv6/conf/default/disable_ipv6 1
	qd_in "$1" ip link set lo up
}

# _qd_host NAME ADDR/LEN GWPORT: a host namespace on a gateway port.
_qd_host() {
	local name=$1 addr=$2 port=$3 gwaddr
	_qd_ns "$name" || return 1
	# Made inside the gateway namespace, the pair never touches the root one.
	qd_in gw ip link add "v-$name" type veth peer name eth0 netns "$QD_NS$name" || return 1
	qd_in "$name" ip addr add "$addr" dev eth0
	qd_in "$name" ip link set eth0 up
	case $port in
	br0)
		qd_in gw ip link set "v-$name" master br0
		gwaddr=10.66.1.1
		;;
	lan2) # lan2 is itself a bridge, so two hosts can share the segment
		qd_in gw ip link set "v-$name" master lan2
		gwaddr=10.66.2.1
		;;
	esac
	qd_in gw ip link set "v-$name" up
	qd_in "$name" ip route add default via "$gwaddr"
}

# qd_topology [--lan2]: the namespaces above (the br0 hosts of QD_HOSTS),
# services and counters.
qd_topology() {
	local lan2=0 h
	[ "${1:-}" = --lan2 ] && lan2=1
	_qd_ns gw || return 1
	qd_sysctl gw net/ipv4/ip_forward 1
	qd_in gw ip link add br0 type bridge
	qd_in gw ip addr add 10.66.1.1/24 dev br0
	qd_in gw ip link set br0 up
	if [ $lan2 = 1 ]; then
		qd_in gw ip link add lan2 type bridge
		qd_in gw ip addr add 10.66.2.1/24 dev lan2
		qd_in gw ip link set lan2 up
	fi
	_qd_ns out || return 1
	qd_in gw ip link add wan0 type veth peer name eth0 netns "${QD_NS}out"
	qd_in gw ip addr add 10.66.0.1/30 dev wan0
	qd_in gw ip link set wan0 up
	qd_in gw ip route add 10.66.128.0/17 via 10.66.0.2
	qd_in out ip addr add 10.66.0.2/30 dev eth0
	qd_in out ip link set eth0 up
	qd_in out ip route add default via 10.66.0.1
	# The out namespace owns every target address.
	qd_in out ip route add local 10.66.128.0/17 dev lo

	for h in $QD_HOSTS; do
		_qd_host "$h" "$(_qd_addr "$h")/24" br0 || return 1
	done
	if [ $lan2 = 1 ]; then
		_qd_host l2a $QD_L2ADM/24 lan2 || return 1
		_qd_host l2o $QD_L2OTHER/24 lan2 || return 1
	fi

	# Services: web and remediation outside, and one in every LAN host
	# (port 8080) for the host-to-host checks.
	qd_bg out $QD_PY serve --ready "$QD_TMP/out.ready" $QD_WEB:80 $QD_WEB:8080 $QD_REM:80
	for h in $QD_HOSTS; do
		qd_bg "$h" $QD_PY serve --ready "$QD_TMP/$h.ready" 0.0.0.0:8080
	done
	if [ $lan2 = 1 ]; then
		qd_bg l2o $QD_PY serve --ready "$QD_TMP/l2o.ready" 0.0.0.0:8080
	fi
	qd_wait 10 "services listening" _qd_ready "$lan2" || return 1

	# What reaches the outside, counted in the out namespace.
	qd_in out nft -f - <<-EOF || return 1
		table inet qdcount {
			chain pre {
				type filter hook prerouting priority -300; policy accept;
			}
		}
	EOF
	# Every host can reach the outside before anything happens.
	for h in $QD_HOSTS; do
		qd_wait 5 "$h reaches $QD_WEB:80" qd_connect "$h" $QD_WEB 80 || return 1
	done
}

_qd_addr() {
	case $1 in
	inf) echo $QD_INF ;;
	ben) echo $QD_BEN ;;
	nb) echo $QD_NB ;;
	adm) echo $QD_ADM ;;
	esac
}

_qd_ready() {
	local f
	for f in out $QD_HOSTS; do
		[ -e "$QD_TMP/$f.ready" ] || return 1
	done
	[ "$1" = 0 ] || [ -e "$QD_TMP/l2o.ready" ]
}

# qd_count_add NAME MATCH...: count the packets matching MATCH (nft syntax)
# that reach the out namespace.
qd_count_add() {
	local name=$1
	shift
	qd_in out nft add counter inet qdcount "$name" &&
		qd_in out nft add rule inet qdcount pre "$@" counter name "$name"
}

# qd_count NAME: packets counted so far.
qd_count() {
	qd_in out nft list counter inet qdcount "$1" | awk '$1 == "packets" { print $2 }'
}

# ---- background processes ---------------------------------------------

# qd_bg NAME CMD...: run CMD in namespace NAME in the background; its pid
# is in QD_LAST (and stopped at cleanup).
qd_bg() {
	local ns=$QD_NS$1
	shift
	ip netns exec "$ns" "$@" &
	QD_LAST=$!
	QD_PIDS="$QD_PIDS $QD_LAST"
}

# qd_bg_out NAME FILE CMD...: the same, stdout to FILE.
qd_bg_out() {
	local ns=$QD_NS$1 out=$2
	shift 2
	ip netns exec "$ns" "$@" >"$out" &
	QD_LAST=$!
	QD_PIDS="$QD_PIDS $QD_LAST"
}

# qd_stop PID: SIGTERM and wait.
qd_stop() {
	kill -TERM "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	QD_PIDS=$(echo " $QD_PIDS " | sed "s/ $1 / /")
}

# qd_worm NAME OUTFILE ARGS...: the worm in namespace NAME, in the
# background, summary in OUTFILE; pid in QD_LAST.
qd_worm() {
	local name=$1 out=$2
	shift 2
	qd_bg_out "$name" "$out" "$QD_WORM" "$@"
}

# ---- the daemon ---------------------------------------------------------

# qd_config [EXTRA...]: the daemon's config for the topology; each EXTRA
# argument is appended as a line (e.g. an "enforce" group).
qd_config() {
	local l
	cat >"$QD_CONF" <<-EOF
		capture: { interfaces = [ "br0" ]; };
		networks: {
		  protected = [ "10.66.1.0/24", "10.66.2.0/24" ];
		  never_block = [ "$QD_NB" ];
		  remediation = [ "$QD_REM" ];
		  admin = [ "$QD_ADM", "$QD_L2ADM" ];
		};
		control: { socket = "$QD_SOCK"; };
		state: { dir = "$QD_STATE"; };
	EOF
	for l in "$@"; do
		echo "$l" >>"$QD_CONF"
	done
}

# qd_config_net LINE...: after qd_config, set keys of its networks group;
# each LINE is "KEY = VALUE;" and replaces KEY's line when there is one
# (e.g. 'protected = [ "10.66.1.0/24", "fd66:1::/64" ];').
qd_config_net() {
	local l key
	for l in "$@"; do
		key=${l%%=*}
		key=${key// /}
		awk -v key="$key" -v line="  $l" '
			/^networks:/ { print; innet = 1; if (/[{]/) print line; next }
			innet && /^[{]/ { print; print line; next }
			innet && /^[}];/ { innet = 0 }
			innet && $1 == key { next }
			{ print }' "$QD_CONF" >"$QD_CONF.new" && mv "$QD_CONF.new" "$QD_CONF" || return 1
	done
}

# qd_daemon_start [ARGS...]: start quarantined in the gateway namespace
# (events to QD_EVENTS, as JSON unless QD_FORMAT=text) and wait until its
# control socket answers.
qd_daemon_start() {
	local fmt=${QD_FORMAT:-json}
	[ -e "$QD_CONF" ] || qd_config
	echo "# $(qd_now) starting quarantined -f -o $fmt -i br0 -c ... $*" >>"$QD_TMP/daemon.log"
	ip netns exec "${QD_NS}gw" "$QD_Q" -f -o "$fmt" -i br0 -c "$QD_CONF" -S "$QD_SOCK" \
		-D "$QD_STATE" "$@" >>"$QD_EVENTS" 2>>"$QD_TMP/daemon.log" &
	QD_DPID=$!
	qd_wait 15 "quarantined answers on its control socket" _qd_daemon_up
}

_qd_daemon_up() {
	kill -0 "$QD_DPID" 2>/dev/null || {
		echo "quarantined exited" >&2
		QD_DPID=""
		return 2
	}
	"$QD_CTL" -S "$QD_SOCK" status >/dev/null 2>&1
}

# qd_daemon_stop [SIGNAL]: stop it (TERM by default) and wait; its exit
# status is in QD_DRC.
qd_daemon_stop() {
	kill "-${1:-TERM}" "$QD_DPID"
	wait "$QD_DPID" 2>/dev/null
	QD_DRC=$?
	QD_DPID=""
}

# qctl ARGS...: quarantinectl on the test's socket.
qctl() {
	"$QD_CTL" -S "$QD_SOCK" "$@"
}

# qd_mark: later qd_wait_event calls only look at events from now on.
qd_mark() {
	QD_MARK=$(wc -l <"$QD_EVENTS")
}

# qd_wait_event TIMEOUT KEY=VALUE...: the first event that matches (JSON),
# after the last qd_mark.
qd_wait_event() {
	local timeout=$1
	shift
	$QD_PY wait-event "$QD_EVENTS" "$timeout" --from "${QD_MARK:-0}" "$@"
}

# qd_events KEY=VALUE...: every event that matches, one per line.
qd_events() {
	$QD_PY events "$QD_EVENTS" "$@"
}

# qd_field FIELD: the FIELD of the JSON document on stdin.
qd_field() {
	$QD_PY json "d.get('$1', '') if isinstance(d, dict) else ''"
}

# qd_json EXPR: EXPR (Python, the document is d) of the JSON on stdin.
qd_json() {
	$QD_PY json "$1"
}

# qd_tsdiff TS1 TS2: milliseconds from TS1 to TS2.
qd_tsdiff() {
	$QD_PY tsdiff "$1" "$2"
}

# qd_host_state HOST: the host's state in "quarantinectl --json list"
# ("absent" when not listed).
qd_host_state() {
	qctl --json list | $QD_PY json \
		"next((h.get('state') for h in d if h.get('host') == '$1'), 'absent')"
}

# qd_sql SQL: what the sqlite3 tool answers from the daemon's state database
# (STATE_DIR/state.db), one row a line, columns separated by '|'; read only,
# as an operator would while the daemon writes.
qd_sql() {
	sqlite3 -readonly -batch "$QD_STATE/state.db" "$1"
}

# qd_db_host HOST: the state database has a row for HOST (an address, its
# own or the one that names a machine, or a machine's MAC) and prints its
# level and state ("isolate|isolated").
qd_db_host() {
	local out
	out=$(qd_sql "SELECT level || '|' || state FROM hosts WHERE key = '$1' OR addr = '$1'") ||
		return 1
	[ -n "$out" ] && echo "$out"
}

# qd_in_set SET ELEMENT: the element is in the set of the daemon's table.
qd_in_set() {
	qd_in gw nft list set "${QD_FAMILY:-inet}" quarantined "$1" 2>/dev/null | grep -qwF -- "$2"
}

# qd_elem_has SET ADDR TEXT: the set's element for ADDR shows TEXT (e.g.
# "timeout 3s"; nft prints one line per set when it holds one element).
qd_elem_has() {
	qd_in gw nft list set "${QD_FAMILY:-inet}" quarantined "$1" 2>/dev/null |
		grep -wF -- "$2" | grep -qF -- "$3"
}

# qd_mac NAME: the MAC of host namespace NAME's interface (lower case, as
# nft and the daemon print it).
qd_mac() {
	qd_in "$1" cat /sys/class/net/eth0/address
}

# qd_host_bare NAME: a host namespace on br0 with no address and no route
# (a DHCP client's), its IPv6 off like the others'.
qd_host_bare() {
	_qd_ns "$1" || return 1
	qd_in gw ip link add "v-$1" type veth peer name eth0 netns "$QD_NS$1" || return 1
	qd_in gw ip link set "v-$1" master br0 || return 1
	qd_in gw ip link set "v-$1" up || return 1
	qd_in "$1" ip link set eth0 up
}

# qd_ipv6_on NAME IF...: IPv6 back on for the interfaces IF of namespace
# NAME (_qd_ns turns it off everywhere); the others stay quiet.
qd_ipv6_on() {
	local name=$1 i
	shift
	for i in "$@"; do
		qd_sysctl "$name" "net/ipv6/conf/$i/disable_ipv6" 0 || return 1
	done
}

# qd_show_json HOST EXPR: EXPR (Python, d) of "quarantinectl --json show
# HOST"; empty when the daemon does not know HOST.
qd_show_json() {
	local out
	out=$(qctl --json show "$1" 2>/dev/null) || return 0
	echo "$out" | $QD_PY json "$2"
}

# qd_in_any_set ADDR: ADDR is in one of the blocking sets.
qd_in_any_set() {
	local s
	for s in iso4 con4 conp4; do
		qd_in_set "$s" "$1" && return 0
	done
	return 1
}

# qd_connect NAME ADDR PORT: one TCP connection from namespace NAME to a
# test service; success when it answered.
qd_connect() {
	qd_in "$1" $QD_PY connect "$2" "$3" --timeout "${QD_CONNECT_TIMEOUT:-1}" 2>/dev/null
}

# ---- waiting and checking --------------------------------------------------

qd_now() {
	date +%H:%M:%S.%3N
}

# qd_wait TIMEOUT DESCRIPTION CMD...: poll CMD every 50 ms until it
# succeeds; fails after TIMEOUT seconds (or at once when CMD returns 2).
qd_wait() {
	local timeout=$1 what=$2 deadline rc
	shift 2
	deadline=$(($(date +%s%N) + timeout * 1000000000))
	while :; do
		"$@"
		rc=$?
		[ $rc = 0 ] && return 0
		if [ $rc = 2 ] || [ "$(date +%s%N)" -ge $deadline ]; then
			echo "$(qd_now) timed out after ${timeout}s: $what" >&2
			return 1
		fi
		sleep 0.05
	done
}

# qd_check DESCRIPTION CMD...: one assertion.
qd_check() {
	local what=$1
	shift
	if "$@"; then
		echo "ok:   $what"
	else
		echo "FAIL: $what"
		QD_FAILS=$((QD_FAILS + 1))
	fi
}

# qd_not CMD...: succeeds when CMD fails (for qd_check and qd_wait).
qd_not() {
	! "$@"
}

# qd_fig LABEL VALUE: a measured figure, printed and kept for the summary.
qd_fig() {
	echo "figure: $1: $2"
	echo "$1: $2" >>"$QD_TMP/figures"
}

qd_say() {
	echo "== $(qd_now) $*"
}

# qd_done: summary and exit status.
qd_done() {
	local ms=$((($(date +%s%N) - QD_T0) / 1000000))
	echo "---- figures ----"
	cat "$QD_TMP/figures" 2>/dev/null
	echo "test time: $((ms / 1000)).$((ms % 1000 / 100)) s"
	if [ "$QD_FAILS" != 0 ]; then
		echo "$QD_FAILS check(s) failed"
		exit 1
	fi
	echo "all checks passed"
	exit 0
}

# ---- forged traffic (flood) ------------------------------------------------

# qd_flood_init: the frame sender (tests/e2e/flood.c) in QD_FLOOD: from the
# environment (meson sets it), else next to the worm.  Exits 77 (skipped)
# when it is not there.
qd_flood_init() {
	QD_FLOOD=${QD_FLOOD:-$(dirname "$QD_WORM")/flood}
	if [ ! -x "$QD_FLOOD" ]; then
		echo "SKIP: no flood sender at $QD_FLOOD (set QD_FLOOD)"
		exit 77
	fi
}

# qd_gw_mac: the MAC of the gateway's br0, where the hosts' frames go.
qd_gw_mac() {
	qd_in gw cat /sys/class/net/br0/address
}

# qd_flood NAME OUTFILE ARGS...: flood from namespace NAME's eth0 to the
# gateway's br0 MAC, in the background; its summary line in OUTFILE, pid
# in QD_LAST.
qd_flood() {
	local name=$1 out=$2
	shift 2
	qd_bg_out "$name" "$out" "$QD_FLOOD" -i eth0 --dst-mac "$(qd_gw_mac)" --quiet "$@"
}

# qd_trust ADDR: the trust of ADDR's binding in "quarantinectl show --json"
# and the MAC it is bound to ("trust mac"; "unknown" when not shown).
qd_trust() {
	qctl --json show "$1" 2>/dev/null | $QD_PY json \
		"next(('%s %s' % (b['trust'], b.get('mac', '-')) for b in (d or {}).get('bindings', []) if b['address'] == '$1'), 'unknown')"
}

# qd_status EXPR: EXPR (Python, the document is d) of "quarantinectl --json
# status".
qd_status() {
	qctl --json status | $QD_PY json "$1"
}

# qd_mac_in_any_set MAC: MAC is in one of the machine blocking sets.
qd_mac_in_any_set() {
	local s
	for s in isom conm conpm; do
		qd_in_set "$s" "$1" && return 0
	done
	return 1
}

# qd_set_elem_packets SET ELEMENT: the packet counter of ELEMENT in SET, as
# nft prints it ("aa:bb:cc:dd:ee:ff . tcp . 445" in a concatenation); 0
# when it is not there.
qd_set_elem_packets() {
	qd_in gw nft list set "${QD_FAMILY:-inet}" quarantined "$1" 2>/dev/null |
		tr ',{}' '\n' | awk -v e="$2" '
		{ sub(/^[ \t]+/, "") }
		index($0, e " counter ") == 1 {
			for (i = 1; i < NF; i++)
				if ($i == "packets") { print $(i + 1); f = 1 }
		}
		END { if (!f) print 0 }'
}

# qd_host_add NAME ADDR/LEN: one more host namespace on br0 after
# qd_topology (no service, no route check).  br0's MAC is pinned first: a
# bridge takes the lowest MAC of its ports, and a new port with a lower
# one would change it under the hosts' ARP caches.
qd_host_add() {
	qd_in gw ip link set br0 address "$(qd_gw_mac)" || return 1
	_qd_host "$1" "$2" br0
}
