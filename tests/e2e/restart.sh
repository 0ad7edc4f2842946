#!/bin/bash
# e2e: blocks outlive the daemon (fail closed) and are adopted again.
#
#   restart.sh QUARANTINED QUARANTINECTL WORM
#
# 1. An SMB worm gets the infected host (10.66.1.10) isolated.  SIGTERM:
#    the daemon exits 0, the set element stays, and a new run of the worm
#    while the daemon is down reaches the outside not once.  Restarted,
#    the daemon lists the host as isolated again, and release works.
# 2. The same after kill -9, with a manual isolation.
# 3. An element added by hand while the daemon is down is adopted (with
#    an action event that says so) and can be released.
# Needs root; exit 77 (skipped) otherwise.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"

qd_say "topology and quarantined"
qd_topology || exit 1
qd_count_add inf445 ip saddr $QD_INF tcp dport 445 'tcp flags & (syn|ack) == syn' || exit 1
qd_count_add infall ip saddr $QD_INF || exit 1
qd_daemon_start || exit 1

qd_say "1. infected $QD_INF: SMB worm, 50 probes/s, 2 s"
qd_worm inf "$QD_TMP/worm.json" -n $QD_NET_WORM -p 445 -r 50 -d 2
worm=$QD_LAST
qd_wait_event 10 event=action host=$QD_INF level=isolate >/dev/null || exit 1
wait "$worm"
qd_check "iso4 holds $QD_INF" qd_in_set iso4 $QD_INF

# check_down WHAT: while the daemon is down, the block holds.
check_down() {
	local c0 a0 c1 a1
	qd_check "$1: iso4 still holds $QD_INF" qd_in_set iso4 $QD_INF
	c0=$(qd_count inf445)
	a0=$(qd_count infall)
	qd_in inf "$QD_WORM" -n $QD_NET_WORM -p 445 -r 50 -d 2 >"$QD_TMP/worm-down.json"
	cat "$QD_TMP/worm-down.json"
	qd_check "$1: $QD_INF cannot reach $QD_WEB:80" qd_not qd_connect inf $QD_WEB 80
	c1=$(qd_count inf445)
	a1=$(qd_count infall)
	qd_check "$1: none of the worm's probes reached the outside ($c0 then $c1)" test "$c1" = "$c0"
	qd_check "$1: no packet of $QD_INF reached the outside ($a0 then $a1)" test "$a1" = "$a0"
	qd_fig "$1: probes that reached the outside while the daemon was down" \
		"$((c1 - c0)) of $(qd_json 'd["attempts"]' <"$QD_TMP/worm-down.json")"
}

# check_back WHAT: after the restart, the host is known and isolated.
check_back() {
	local state ev
	ev=$(qd_wait_event 0 event=action host=$QD_INF level=isolate)
	qd_check "$1: an action event names $QD_INF restored at start-up" \
		test "$(echo "$ev" | qd_json 'd.get("reason", "").startswith("restored at start-up")')" = true
	state=$(qd_host_state $QD_INF)
	qd_check "$1: quarantinectl list shows $QD_INF isolated (state $state)" test "$state" = isolated
	qd_check "$1: iso4 still holds $QD_INF" qd_in_set iso4 $QD_INF
	qctl --json show $QD_INF >"$QD_TMP/show.json"
	qd_fig "$1: what the daemon knows of $QD_INF after the restart" \
		"$(qd_json '"rules %s, reason %s, adopted %s" % (",".join(d.get("rules", [])) or "-", d.get("reason"), d.get("adopted"))' <"$QD_TMP/show.json")"
	qd_check "$1: release succeeds" qctl release $QD_INF
	qd_check "$1: released: $QD_INF reaches $QD_WEB:80 at once" qd_connect inf $QD_WEB 80
	qd_check "$1: released: iso4 no longer holds $QD_INF" qd_not qd_in_set iso4 $QD_INF
}

qd_say "   SIGTERM"
qd_daemon_stop TERM
qd_check "the daemon exits 0 on SIGTERM ($QD_DRC)" test "$QD_DRC" = 0
qd_check "the table is still there" qd_in gw nft list table inet quarantined >/dev/null
check_down "after SIGTERM"
qd_say "   restart"
t0=$(date +%s%N)
qd_mark
qd_daemon_start || exit 1
qd_fig "restart: start to control socket answering" "$((($(date +%s%N) - t0) / 1000000)) ms"
check_back "after SIGTERM and restart"

qd_say "2. quarantine --level isolate, then kill -9"
qd_check "quarantine $QD_INF --level isolate succeeds" qctl quarantine $QD_INF --level isolate
qd_check "iso4 holds $QD_INF" qd_in_set iso4 $QD_INF
qd_daemon_stop KILL
qd_check "the daemon was killed ($QD_DRC)" test "$QD_DRC" = 137
check_down "after kill -9"
qd_mark
qd_daemon_start || exit 1
check_back "after kill -9 and restart"

qd_say "3. an element added by hand while the daemon is down"
qd_daemon_stop TERM
qd_in gw nft add element inet quarantined iso4 "{ $QD_BEN }"
qd_daemon_start || exit 1
state=$(qd_host_state $QD_BEN)
qd_check "$QD_BEN is adopted and listed isolated (state $state)" test "$state" = isolated
adopt=$(qd_events event=action host=$QD_BEN)
echo "$adopt"
qd_check "an action event reports the adoption" test -n "$adopt"
qd_check "the adoption is not announced as a restore too" \
	test "$(qd_events event=action host=$QD_BEN | grep -c 'restored at start-up')" = 0
qd_check "release $QD_BEN succeeds" qctl release $QD_BEN
qd_check "released: $QD_BEN reaches $QD_WEB:80" qd_connect ben $QD_WEB 80
qd_check "released: iso4 no longer holds $QD_BEN" qd_not qd_in_set iso4 $QD_BEN
qd_done
