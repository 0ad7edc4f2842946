#!/bin/bash
# e2e: the failures of quarantine-sync(8)'s cluster, for real (issue 13):
# synclib.sh's three gateways and three-node NATS cluster (JetStream, R3),
# here with TLS and client certificates (contrib/nats/
# quarantine-cluster-tls.conf, a CA and certificates made with openssl)
# and every sync program in a namespace of its own, linked to the bus by
# a veth, so that one gateway can be cut off.
#
#   sync-cluster.sh QUARANTINED QUARANTINECTL WORM
#   (QD_SYNC: quarantine-sync; QD_KVTOOL: tests/e2e/kvtool; nats-server,
#   sqlite3, openssl and curl in PATH)
#
#  - credentials: a gateway with a wrong password, or without a client
#    certificate, is refused: its daemon says the bus is not connected,
#    and nothing it decides lands; with its credentials back, what it
#    decided meanwhile lands;
#  - the node that leads the bucket's stream is killed (-9) while A
#    decides (operator quarantines and a worm): every decision reaches B
#    and C, none lost; the node started again catches up;
#  - gateway C is cut off from every node: C notices in bounded time and
#    keeps enforcing; A blocks X (a worm), C blocks Y and releases R (a
#    block of A's); after healing all three converge, and no host that
#    stayed blocked was released or left its kernel set meanwhile (the
#    sets are sampled during the heal); the catch-up time is a figure;
#  - everything restarted (daemons, sync programs, nodes): the same state
#    everywhere (quarantinectl --json list, the kernel tables), nothing
#    applied twice.
# shellcheck disable=SC2034,SC2154 # synclib.sh's options; MARK_a/b/c are set by mark_all (eval)
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"
if ! command -v curl >/dev/null; then
	echo "SKIP: curl is not installed (the nodes' monitoring)"
	exit 77
fi
SYNC_NETNS=1
SYNC_TLS=1
. "$(dirname "$0")/synclib.sh"
sync_setup

# ---- helpers ----------------------------------------------------------------

sock_of() { # sock_of a|b|c
	case $1 in
	a) echo "$QD_SOCK" ;;
	b) echo "$B_SOCK" ;;
	c) echo "$C_SOCK" ;;
	esac
}
ns_of() { # ns_of a|b|c: the gateway's namespace
	case $1 in
	a) echo gw ;;
	b) echo gwb ;;
	c) echo gwc ;;
	esac
}
events_of() {
	case $1 in
	a) echo "$QD_EVENTS" ;;
	b) echo "$B_EVENTS" ;;
	c) echo "$C_EVENTS" ;;
	esac
}
ctl() { # ctl G ARGS...: quarantinectl at gateway G
	local g=$1
	shift
	"$QD_CTL" -S "$(sock_of "$g")" "$@"
}
# state G HOST: HOST's state in gateway G's list ("absent" when not listed).
state() {
	ctl "$1" --json list 2>/dev/null | $QD_PY json \
		"next((h.get('state') for h in d if h.get('host') == '$2'), 'absent')"
}
blocked() { # blocked G HOST: G holds HOST contained or isolated
	case $(state "$1" "$2") in
	contained | isolated) return 0 ;;
	esac
	return 1
}
# kernel G ADDR: ADDR is in one of the sets of G's table.
kernel() {
	qd_in "$(ns_of "$1")" nft list table inet quarantined 2>/dev/null | grep -qwF -- "$2"
}
# blocked_each G HOST...: gateway G holds every HOST blocked (one list).
blocked_each() {
	local g=$1
	shift
	ctl "$g" --json list 2>/dev/null | python3 -c '
import json, sys
st = {h.get("host"): h.get("state") for h in json.load(sys.stdin)}
sys.exit(0 if all(st.get(h) in ("contained", "isolated") for h in sys.argv[1:]) else 1)' "$@"
}
# ev_last G FROM EVENT HOST...: when (ms since the epoch, the daemon's
# clock) the last of the HOSTs had its first EVENT in G's events after
# line FROM; empty unless every HOST had one.
ev_last() {
	local g=$1 from=$2
	tail -n "+$((from + 1))" "$(events_of "$g")" | python3 -c '
import datetime, json, sys
ev, hosts, first = sys.argv[1], set(sys.argv[2:]), {}
for line in sys.stdin:
    try:
        d = json.loads(line)
    except ValueError:
        continue
    if d.get("event") == ev and d.get("host") in hosts and d["host"] not in first:
        t = datetime.datetime.strptime(d["ts"], "%Y-%m-%dT%H:%M:%S.%fZ")
        first[d["host"]] = t.replace(tzinfo=datetime.timezone.utc).timestamp()
print(int(max(first.values()) * 1000) if first and len(first) == len(hosts) else "")' "${@:3}"
}
# all_blocked HOST G...: every gateway G holds HOST blocked.
all_blocked() {
	local h=$1 g
	shift
	for g in "$@"; do
		blocked "$g" "$h" || return 1
	done
}
# events_since G FROM KEY=VALUE...: G's events after line FROM that match.
events_since() {
	local g=$1 from=$2
	shift 2
	tail -n "+$((from + 1))" "$(events_of "$g")" >"$QD_TMP/ev.part"
	$QD_PY events "$QD_TMP/ev.part" "$@"
}
# nevents G FROM KEY=VALUE...: how many.
nevents() {
	events_since "$@" | wc -l
}
mark_all() { # the events' line counts now, in MARK_a, MARK_b, MARK_c
	local g
	for g in a b c; do
		eval "MARK_$g=$(wc -l <"$(events_of $g)")"
	done
}
# jsz I EXPR: EXPR (Python, s: the stream KV_quarantine as node I's
# monitoring describes it) of node I's view.
# Empty when the node does not answer or does not know the stream.
jsz() {
	qd_in bus curl -s --max-time 2 "http://$NODE_NET.$1:8222/jsz?accounts=true&streams=true" |
		python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
except ValueError:
    sys.exit(0)
s = next((s for a in d.get("account_details", []) for s in a.get("stream_detail", [])
          if s["name"] == "KV_quarantine"), None)
if s is not None:
    print(eval(sys.argv[1]))' "$2" 2>/dev/null
}
ms_since() { # ms_since T0 (date +%s%N)
	echo $((($(date +%s%N) - $1) / 1000000))
}
node_of() { # node_of NAME: nN -> N
	echo "${1#n}"
}

qd_check "A's sync program connected with TLS (tls:// and a client certificate)" \
	grep -q 'tls://' "$QD_TMP/sync-a.conf"
qd_check "every node requires TLS of its clients" grep -q 'TLS required for client connections' \
	"$QD_TMP/n1.log"

# ---- credentials ----------------------------------------------------------------

qd_say "credentials: B with a wrong password is refused"
refused_run() { # refused_run CONF WHAT HOST: B's sync program with CONF is refused
	# (the nodes' logs say WHAT); HOST decided at B meanwhile waits
	local conf=$1 what=$2 host=$3 n0 l0
	qd_stop "$SYNC_B"
	n0=$(wc -l <"$QD_TMP/sync-b.log")
	l0=$(cat "$QD_TMP"/n?.log | grep -ci "$what")
	start_sync b "$conf"
	SYNC_B=$QD_LAST
	qd_wait 30 "B's sync program says it is not connected" \
		sh -c "tail -n +$((n0 + 1)) '$QD_TMP/sync-b.log' | grep -q 'not connected\|closed the connection'" || {
		tail -n 20 "$QD_TMP/sync-b.log"
		return 1
	}
	tail -n "+$((n0 + 1))" "$QD_TMP/sync-b.log" | grep 'not connected\|closed the connection' | head -n 2
	qd_check "the nodes logged why they refused B ($what)" \
		test "$(cat "$QD_TMP"/n?.log | grep -ci "$what")" -gt "$l0"
	cat "$QD_TMP"/n?.log | grep -i "$what" | tail -n 1 | cut -c1-200
	# The daemon hears from the sync program every 5 s: polled.
	qd_wait 15 "B's daemon says the bus is not connected" qd_not sync_up "$B_SOCK"
	qd_check "B's daemon says the bus is not connected ($what)" qd_not sync_up "$B_SOCK"
	ctl b status | grep '^bus:'
	qd_check "quarantine at B while refused" \
		ctl b quarantine "$host" --level isolate --reason "refused bus"
	qd_wait 10 "B's outbox holds it" outbox_has "$QD_TMP/sync-b.state/outbox" "host=$host"
	qd_check "B's outbox keeps the decision ($host)" \
		grep -q "host=$host" "$QD_TMP/sync-b.state/outbox"
}
sed "s|$QD_TMP/gw-b.pass|$QD_TMP/gw-b.wrong|" "$QD_TMP/sync-b.conf" >"$QD_TMP/sync-b-wrongpw.conf"
echo "not-the-password" >"$QD_TMP/gw-b.wrong"
refused_run "$QD_TMP/sync-b-wrongpw.conf" "authentication error.*gw-b" 10.66.3.50 || exit 1

qd_say "credentials: B without a client certificate is refused"
sed -e 's|tls = {.*|tls = { ca = "'"$QD_TMP"'/pki/ca.pem"; };|' "$QD_TMP/sync-b.conf" \
	>"$QD_TMP/sync-b-nocert.conf"
qd_check "B's configuration without a certificate is still valid (-n)" \
	"$QD_SYNC" -n -c "$QD_TMP/sync-b-nocert.conf"
refused_run "$QD_TMP/sync-b-nocert.conf" "TLS handshake error" 10.66.3.51 || exit 1

qd_say "B's credentials back: what it decided meanwhile lands, and only then"
# A barrier: C's decision reaches A, so A has consumed every record
# stored before it; B's two are not among them.
mark_all
qd_check "quarantine at C (a barrier)" ctl c quarantine 10.66.4.60 --level isolate --reason barrier
qd_wait 30 "A sees C's barrier" blocked a 10.66.4.60
for h in 10.66.3.50 10.66.3.51; do
	qd_check "nothing B decided while refused landed at A ($h: $(state a $h))" \
		test "$(state a $h)" = absent
done
qd_stop "$SYNC_B"
start_sync b
SYNC_B=$QD_LAST
qd_wait 30 "B's daemon says the bus is connected" sync_up "$B_SOCK"
for h in 10.66.3.50 10.66.3.51; do
	qd_wait 30 "A applies B's $h" blocked a $h
	qd_check "B's decision made while refused ($h) lands at A and C once B is let in" \
		all_blocked $h a c
done
qd_check "B's outbox is empty again" test ! -e "$QD_TMP/sync-b.state/outbox"

# ---- a node killed while decisions flow -------------------------------------------

qd_say "the stream's leader is killed (-9) while A decides"
leader=$(jsz 1 "s['cluster']['leader']")
case $leader in
n1 | n2 | n3) ;;
*)
	echo "no leader of KV_quarantine in node 1's monitoring: '$leader'"
	exit 1
	;;
esac
ln=$(node_of "$leader")
echo "KV_quarantine's leader: $leader"
mark_all
qd_worm inf "$QD_TMP/worm.json" -n $QD_NET_WORM -p 445 -r 50 -d 10
worm=$QD_LAST
t_kill=""
for i in $(seq 70 81); do
	ctl a quarantine 10.66.1.$i --level isolate --reason "leader killed" >/dev/null ||
		echo "quarantine of 10.66.1.$i at A failed"
	if [ "$i" = 73 ]; then
		eval "kill -KILL \$NODE_$ln"
		eval "wait \$NODE_$ln 2>/dev/null"
		t_kill=$(date +%s%N)
		echo "$(qd_now) killed $leader"
	fi
	sleep 0.2
done
qd_check "A isolated the worm ($QD_INF)" qd_wait 20 "A isolates the worm" blocked a $QD_INF
others=""
for i in 1 2 3; do
	[ "$i" = "$ln" ] || others="$others $i"
done
set -- $others
new_leader() { # another node than the killed one leads, as node $1 sees it
	local l
	l=$(jsz "$1" "s['cluster'].get('leader', '')")
	case $l in
	n1 | n2 | n3) [ "$l" != "$leader" ] ;;
	*) return 1 ;;
	esac
}
qd_wait 30 "a new leader" new_leader "$1"
qd_check "another node leads the stream ($(jsz "$1" "s['cluster'].get('leader', '')"), was $leader)" \
	new_leader "$1"
decided="$QD_INF $(seq -f 10.66.1.%g 70 81)"
arrived() { # every decision of A's at B and C
	# shellcheck disable=SC2086
	blocked_each b $decided && blocked_each c $decided
}
qd_wait 60 "every decision reaches B and C" arrived
# shellcheck disable=SC2086
last=$(printf '%s\n' "$(ev_last b "$MARK_b" detect $decided)" "$(ev_last c "$MARK_c" detect $decided)" | sort -n | tail -n 1)
qd_fig "leader killed -> the last decision detected at B and C (event ts)" \
	"$((last - t_kill / 1000000)) ms"
missing=""
for i in $(seq 70 81); do
	all_blocked 10.66.1.$i b c || missing="$missing 10.66.1.$i"
done
qd_check "none of the 12 quarantines lost at B and C (missing:${missing:- none})" test -z "$missing"
qd_check "the worm's detection reached B and C" all_blocked $QD_INF b c
qd_check "B holds the worm in its kernel (its ports)" kernel b $QD_INF
qd_check "C holds the worm in its kernel (its ports)" kernel c $QD_INF
grep -h 'outbox\|DISCONNECTED\|publishing' "$QD_TMP/sync-a.log" | tail -n 4
qd_stop "$worm"

qd_say "the killed node is started again: it catches up"
start_node "$ln"
t_start=$(date +%s%N)
caught_up() {
	local mine theirs
	mine=$(jsz "$ln" "s['state']['last_seq']")
	theirs=$(jsz "$1" "s['state']['last_seq']")
	[ -n "$mine" ] && [ "$mine" = "$theirs" ] && [ "$mine" != None ]
}
qd_wait 60 "$leader holds the stream's last revision again" caught_up "$1"
qd_check "$leader caught up: its last revision $(jsz "$ln" "s['state']['last_seq']") = n$1's $(jsz "$1" "s['state']['last_seq']")" \
	caught_up "$1"
qd_fig "node started again -> its replica caught up" "$(ms_since "$t_start") ms (at most)"

# ---- gateway C partitioned --------------------------------------------------------

qd_say "gateway C is cut off from every node"
R=10.66.1.70 # blocked by A before the cut, released at C during it
X=$QD_BEN    # a worm at A during the cut
Y=10.66.4.50 # blocked by C during the cut
qd_check "C holds $R (A's) before the cut" blocked c $R
mark_all
sync_cut c
t_cut=$(date +%s%N)
qd_check "quarantine of $Y at C during the cut" \
	ctl c quarantine $Y --level isolate --reason "cut off"
qd_check "release of $R at C during the cut" ctl c release $R
qd_worm ben "$QD_TMP/worm2.json" -n $QD_NET_WORM -p 445 -r 50 -d 6
worm=$QD_LAST
qd_wait 20 "A isolates the second worm ($X)" blocked a $X
qd_check "A isolated $X" blocked a $X
qd_wait 30 "C's daemon says the bus is not connected" qd_not sync_up "$C_SOCK"
qd_check "C's daemon says the bus is not connected" qd_not sync_up "$C_SOCK"
grep 'the bus is DISCONNECTED' "$QD_TMP/sync-c.log" | tail -n 1
qd_fig "C cut off -> its daemon says the bus is not connected" "$(ms_since "$t_cut") ms (at most)"
qd_stop "$worm"
qd_wait 10 "C's outbox holds its two decisions" \
	outbox_has "$QD_TMP/sync-c.state/outbox" "host=$Y" "cmd=release.*host=$R"
qd_check "C's outbox holds its block of $Y and its release of $R" \
	sh -c "grep -q 'host=$Y' '$QD_TMP/sync-c.state/outbox' && grep -q 'cmd=release.*host=$R' '$QD_TMP/sync-c.state/outbox'"
qd_check "C keeps enforcing its own block of $Y (kernel)" kernel c $Y
qd_check "C keeps enforcing A's worm $QD_INF (kernel)" kernel c $QD_INF
qd_check "C released $R" qd_not blocked c $R
qd_check "C has not heard of $X" qd_not blocked c $X
qd_check "A has not heard of $Y" qd_not blocked a $Y
qd_check "B has not heard of $Y" qd_not blocked b $Y
qd_check "A and B still hold $R" all_blocked $R a b

qd_say "the link is back: all three converge, nothing flushed and re-blocked"
# What stayed blocked, where it is in the kernel: sampled every 100 ms
# from before the heal until convergence.
stay="a:$QD_INF a:$X a:10.66.1.71 b:$QD_INF b:10.66.3.50 c:$QD_INF c:$Y c:10.66.4.60"
for gh in $stay; do
	qd_check "before the heal: ${gh%%:*}'s kernel holds ${gh#*:}" kernel "${gh%%:*}" "${gh#*:}"
done
: >"$QD_TMP/samples"
(
	trap - EXIT
	while [ ! -e "$QD_TMP/samples.stop" ]; do
		t=$(date +%s%N)
		for g in a b c; do
			qd_in "$(ns_of $g)" nft list table inet quarantined >"$QD_TMP/sample.$g" 2>&1
		done
		for gh in $stay; do
			if grep -qwF -- "${gh#*:}" "$QD_TMP/sample.${gh%%:*}"; then
				echo "in $gh $t"
			else
				echo "OUT $gh $t"
			fi
		done >>"$QD_TMP/samples"
		sleep 0.05
	done
) &
sampler=$!
QD_PIDS="$QD_PIDS $sampler"
# And every change of the kernel's sets, as nft monitor reports it: a
# host flushed and put back between two samples is a "delete element".
monitors=""
for g in a b c; do
	qd_bg_out "$(ns_of $g)" "$QD_TMP/monitor.$g" nft monitor
	monitors="$monitors $QD_LAST"
done
qd_wait 10 "the sampler runs" test -s "$QD_TMP/samples"
sleep 0.5 # the monitors have subscribed (nothing to wait on: they print nothing until a change)
mark_all
sync_heal c
t_heal=$(date +%s%N)
converged() {
	blocked c $X && kernel c $X && blocked_each a $Y && blocked_each b $Y &&
		qd_not blocked a $R && qd_not blocked b $R
}
qd_wait 60 "all three converge" converged
t_conv=$(date +%s%N)
catchup=$(printf '%s\n' "$(ev_last c "$MARK_c" detect $X)" "$(ev_last a "$MARK_a" detect $Y)" \
	"$(ev_last b "$MARK_b" detect $Y)" "$(ev_last a "$MARK_a" release $R)" \
	"$(ev_last b "$MARK_b" release $R)" | sort -n | tail -n 1)
catchup=$((catchup - t_heal / 1000000))
touch "$QD_TMP/samples.stop"
wait "$sampler" 2>/dev/null
QD_PIDS=$(echo " $QD_PIDS " | sed "s/ $sampler / /")
for p in $monitors; do
	qd_stop "$p"
done
qd_fig "partition healed -> the last of C's and A's decisions applied across (event ts)" \
	"$catchup ms"
qd_check "C applied A's $X (its worm)" blocked c $X
qd_check "C holds $X in its kernel (the worm's ports)" kernel c $X
qd_check "A and B applied C's $Y" all_blocked $Y a b
qd_check "A released $R (C's release, stored after A's block)" qd_not blocked a $R
qd_check "B released $R" qd_not blocked b $R
rel=$(events_since a "$MARK_a" event=release host=$R | tail -n 1)
echo "A: $rel"
qd_check "A's release of $R names gateway:gw-c" \
	sh -c "echo '$rel' | grep -q 'gateway:gw-c'"
nsamples=$(awk -v a="$t_heal" -v b="$t_conv" '$2 == "a:'$QD_INF'" && $3 >= a && $3 <= b' \
	"$QD_TMP/samples" | wc -l)
qd_check "the kernel sets were sampled between the heal and the convergence ($nsamples samples)" \
	test "$nsamples" -ge 1
qd_check "no host that stayed blocked ever left a kernel set during the heal" \
	qd_not grep -q '^OUT' "$QD_TMP/samples"
grep '^OUT' "$QD_TMP/samples" | head -n 5
qd_check "the monitor saw C's kernel add $X during the heal" \
	grep -q "add element.*\b$X\b" "$QD_TMP/monitor.c"
for gh in $stay; do
	grep "delete element" "$QD_TMP/monitor.${gh%%:*}" | grep -wF -- "${gh#*:}"
done >"$QD_TMP/deleted"
qd_check "no element of a host that stayed blocked was deleted from a kernel set during the heal (nft monitor)" \
	test ! -s "$QD_TMP/deleted"
head -n 5 "$QD_TMP/deleted"
for g in a b c; do
	events_since $g "$(eval echo \$MARK_$g)" event=release >"$QD_TMP/rel.$g"
	for h in $QD_INF $X $Y 10.66.1.71 10.66.4.60; do
		grep -F "\"host\":\"$h\"" "$QD_TMP/rel.$g" | sed "s/^/$g: /"
	done
done >"$QD_TMP/nrel"
qd_check "no release event at any gateway for a host that stayed blocked" \
	test ! -s "$QD_TMP/nrel"
head -n 5 "$QD_TMP/nrel"
qd_check "C did not apply A's worm $QD_INF again after the heal" \
	test "$(nevents c "$MARK_c" event=detect host=$QD_INF)" = 0
qd_check "C's outbox is empty again" test ! -e "$QD_TMP/sync-c.state/outbox"
grep -h 'outbox' "$QD_TMP/sync-c.log" | tail -n 2

# ---- everything restarted ---------------------------------------------------------

qd_say "everything stopped and started again: the same state everywhere"
# The state as quarantinectl --json list says it (host, state, level) and
# the kernel's set elements (without their counters and expiries).
snapshot() { # snapshot G
	ctl "$1" --json list | $QD_PY json \
		"'\\n'.join(sorted('%s %s %s' % (h.get('host'), h.get('state'), h.get('level')) for h in d))"
	qd_in "$(ns_of "$1")" nft -j list table inet quarantined | python3 -c '
import json, sys
out = set()
def vals(e):
    if isinstance(e, dict):
        if "elem" in e:
            return vals(e["elem"].get("val"))
        return [json.dumps(e, sort_keys=True)]
    if isinstance(e, list):
        return [json.dumps(e, sort_keys=True)]
    return [str(e)]
for o in json.load(sys.stdin)["nftables"]:
    s = o.get("set")
    if s:
        for e in s.get("elem", []):
            for v in vals(e):
                out.add("set %s %s" % (s["name"], v))
print("\n".join(sorted(out)))'
}
for g in a b c; do
	snapshot $g >"$QD_TMP/before.$g"
	echo "$g: $(grep -c '^10\.' "$QD_TMP/before.$g") machines listed, $(grep -c '^set ' "$QD_TMP/before.$g") set elements"
done
qd_daemon_stop
kill -TERM "$B_DPID" "$C_DPID"
wait "$B_DPID" "$C_DPID" 2>/dev/null
for g in A B C; do
	eval "qd_stop \$SYNC_$g"
done
for i in 1 2 3; do
	eval "qd_stop \$NODE_$i"
done
mark_all
for i in 1 2 3; do
	start_node $i
done
qd_daemon_start || exit 1
ip netns exec "${QD_NS}gwb" "$QD_Q" -f -o json -i br0 -c "$QD_TMP/b.conf" -S "$B_SOCK" \
	-D "$B_STATE" >>"$B_EVENTS" 2>>"$QD_TMP/b.log" &
B_DPID=$!
QD_PIDS="$QD_PIDS $B_DPID"
ip netns exec "${QD_NS}gwc" "$QD_Q" -f -o json -i br0 -c "$QD_TMP/c.conf" -S "$C_SOCK" \
	-D "$QD_TMP/cstate" >>"$C_EVENTS" 2>>"$QD_TMP/c.log" &
C_DPID=$!
QD_PIDS="$QD_PIDS $C_DPID"
qd_wait 15 "B's daemon answers" ctl b status >/dev/null
qd_wait 15 "C's daemon answers" ctl c status >/dev/null
for g in a b c; do
	start_sync $g
	eval "SYNC_${g^^}=\$QD_LAST"
done
for g in a b c; do
	qd_wait 60 "$g's daemon says the bus is connected" sync_up "$(sock_of $g)"
done
# A barrier: a decision at A seen at B and C: each has consumed every
# record stored before it.
qd_check "quarantine at A after the restart (a barrier)" \
	ctl a quarantine 10.66.1.99 --level isolate --reason barrier
qd_wait 60 "B and C see the barrier" all_blocked 10.66.1.99 b c
for g in a b c; do
	snapshot $g | grep -v '10\.66\.1\.99\b' >"$QD_TMP/after.$g"
	qd_check "$g: the same machines, states, levels and kernel elements as before the restart" \
		cmp -s "$QD_TMP/before.$g" "$QD_TMP/after.$g"
	diff "$QD_TMP/before.$g" "$QD_TMP/after.$g" | head -n 10
	n=$(($(nevents $g "$(eval echo \$MARK_$g)" event=detect) - $(nevents $g "$(eval echo \$MARK_$g)" event=detect host=10.66.1.99)))
	qd_check "$g: nothing applied again after the restart ($n detections but the barrier's)" test "$n" = 0
	qd_check "$g: no release after the restart" \
		test "$(nevents $g "$(eval echo \$MARK_$g)" event=release)" = 0
done
qd_fig "machine load (1-minute average, 2 cores shared)" "$(cut -d' ' -f1 /proc/loadavg)"
qd_done
