#!/bin/bash
# e2e: containment towards one destination (brute force against one
# server): the host's traffic to that server's port drops, nothing else.
#
#   contain-peer.sh QUARANTINED QUARANTINECTL WORM
#
# The servers are in the out namespace: B ($QD_WEB) serves tcp/22 and
# tcp/80, C (10.66.200.81) tcp/22.
# 1. quarantinectl quarantine A ($QD_INF) --level contain --proto tcp
#    --ports 22 --to B: A cannot reach B:22, but reaches C:22 and B:80;
#    B reaches A (from B's own address); the element is in the table
#    (conhm4 by A's MAC, or conh4 by its address); list and show say so.
# 2. The element deleted by hand is put back (repair), with an alert.
# 3. kill -9, the element deleted while the daemon is down, restart: the
#    element is back from the saved state, and A still cannot reach B:22.
# 4. release: the element goes, A reaches B:22 again.
# Needs root; exit 77 (skipped) otherwise.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"

B=$QD_WEB
C=10.66.200.81

qd_say "topology, ssh on $B and $C, and quarantined"
qd_topology || exit 1
qd_bg out $QD_PY serve --ready "$QD_TMP/ssh.ready" $B:22 $C:22
qd_wait 10 "ssh services listening" test -e "$QD_TMP/ssh.ready" || exit 1
qd_count_add infB22 ip saddr $QD_INF ip daddr $B tcp dport 22 'tcp flags & (syn|ack) == syn' ||
	exit 1
qd_daemon_start || exit 1
qd_check "before: $QD_INF reaches $B:22" qd_connect inf $B 22
MAC=$(qd_mac inf)

# in_table: the containment element, by MAC or by address (whichever
# record the daemon holds the host in).  Its set in $set.
in_table() {
	set=
	if qd_in_set conhm4 "$MAC . $B . tcp . 22"; then
		set=conhm4
	elif qd_in_set conh4 "$QD_INF . $B . tcp . 22"; then
		set=conh4
	fi
	[ -n "$set" ]
}

# blocked WHAT: A's traffic to B:22 drops, nothing else of it.
blocked() {
	local c0 c1
	c0=$(qd_count infB22)
	qd_check "$1: $QD_INF cannot reach $B:22" qd_not qd_connect inf $B 22
	c1=$(qd_count infB22)
	qd_check "$1: no SYN of $QD_INF reached $B:22 ($c0 then $c1)" test "$c1" = "$c0"
	qd_check "$1: $QD_INF reaches $C:22" qd_connect inf $C 22
	qd_check "$1: $QD_INF reaches $B:80" qd_connect inf $B 80
	qd_check "$1: $B reaches $QD_INF:8080" qd_in out $QD_PY connect $QD_INF 8080 --from $B
	qd_check "$1: $QD_BEN reaches $B:22" qd_connect ben $B 22
}

qd_say "1. quarantine $QD_INF --level contain --proto tcp --ports 22 --to $B"
qd_check "quarantine --to succeeds" \
	qctl quarantine $QD_INF --level contain --proto tcp --ports 22 --to $B --reason e2e
qd_check "the element is in conhm4 or conh4" in_table
echo "element in $set"
qd_in gw nft list set inet quarantined "$set" | grep -F "$B"
# elsewhere: the host in a set that blocks more than B:22.
elsewhere() {
	qd_in_set conm "$MAC" || qd_in_set isom "$MAC" || qd_in_set con4 "$QD_INF" ||
		qd_in_set iso4 "$QD_INF"
}
qd_check "no element in conm, isom, con4 or iso4" qd_not elsewhere
qd_check "list shows $QD_INF contained" test "$(qd_host_state $QD_INF)" = contained
qd_check "show says tcp/22 to $B" \
	sh -c "'$QD_CTL' -S '$QD_SOCK' show $QD_INF | grep -qF 'contained:   tcp/22 to $B'"
qd_check "show --json: contained_ports_to" test "$(qd_show_json $QD_INF \
	'" ".join("%s/%s>%s" % (p["proto"], p["port"], p["to"]) for p in d.get("contained_ports_to", []))')" = "tcp/22>$B"
blocked "contained towards $B"
qd_check "the element counts the dropped SYNs" \
	sh -c "ip netns exec '${QD_NS}gw' nft list set inet quarantined $set | grep -F '$B' | grep -qv 'packets 0 '"

qd_say "2. the element deleted by hand"
qd_mark
if [ "$set" = conhm4 ]; then
	qd_in gw nft delete element inet quarantined conhm4 "{ $MAC . $B . tcp . 22 }"
else
	qd_in gw nft delete element inet quarantined conh4 "{ $QD_INF . $B . tcp . 22 }"
fi
qd_check "deleted: the element is back within 5 s" qd_wait 5 "element back" in_table
qd_check "deleted: an alert says $set was refilled" qd_wait 2 "alert" \
	sh -c "tail -n +$((QD_MARK + 1)) '$QD_EVENTS' | grep '\"event\":\"error\"' | grep -qF '$set refilled with 1 element'"
blocked "repaired"

qd_say "3. kill -9, the element deleted while the daemon is down, restart"
qd_check "the saved state holds the destination" \
	qd_wait 5 "state saved" eval "qd_sql \"SELECT want FROM hosts\" | grep -qF tcp/22@$B"
qd_daemon_stop KILL
qd_check "the daemon was killed ($QD_DRC)" test "$QD_DRC" = 137
qd_check "down: the element is still there" in_table
qd_check "down: $QD_INF still cannot reach $B:22" qd_not qd_connect inf $B 22
if [ "$set" = conhm4 ]; then
	qd_in gw nft delete element inet quarantined conhm4 "{ $MAC . $B . tcp . 22 }"
else
	qd_in gw nft delete element inet quarantined conh4 "{ $QD_INF . $B . tcp . 22 }"
fi
qd_check "down, deleted: $QD_INF reaches $B:22" qd_connect inf $B 22
qd_mark
qd_daemon_start || exit 1
qd_check "restarted: the element is back from the saved state" qd_wait 5 "element back" in_table
qd_check "restarted: list shows $QD_INF contained" test "$(qd_host_state $QD_INF)" = contained
qd_check "restarted: not adopted (its own block, restored)" \
	test "$(qd_show_json $QD_INF 'd.get("adopted")')" = false
blocked "restarted"

qd_say "4. release"
qd_check "release succeeds" qctl release $QD_INF
qd_check "released: the element is gone" qd_not in_table
qd_check "released: $QD_INF reaches $B:22" qd_connect inf $B 22
qd_done
