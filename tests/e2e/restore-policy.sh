#!/bin/bash
# e2e: a restart restores blocks through policy, never past it.
#
#   restore-policy.sh QUARANTINED QUARANTINECTL WORM
#
# 1. The infected host (10.66.1.10) is isolated; the daemon stops; the
#    operator adds it to networks.never_block and starts the daemon again
#    (instead of reloading).  The host must not be blocked (no set
#    element, not listed as blocked, it reaches the outside) and a release
#    event must say why.
# 2. The same with networks.protected narrowed so that the benign host
#    (10.66.1.20) falls outside it.
# 3. A state database edited to hold a block of the gateway's own address
#    (10.66.1.1), and an element of it and one of the never-block host
#    (10.66.1.30) added by hand to the kernel while the daemon is down:
#    nothing of them is restored or adopted, each has its release event,
#    and a host that may be blocked is still restored.
# 4. A state database with one bad field (a uid past every uid) on the
#    blocked host's row: an error event names the row and the field, that host
#    is skipped (and adopted back from the kernel), the rest is loaded.
# Needs root; exit 77 (skipped) otherwise.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"

GW=10.66.1.1

qd_say "topology and quarantined"
qd_topology || exit 1
qd_config
cp "$QD_CONF" "$QD_TMP/conf.orig"
qd_daemon_start || exit 1

# restart_with WHAT LINE...: stop, change the networks group, start.
restart_with() {
	local what=$1
	shift
	qd_daemon_stop TERM
	qd_check "$what: the daemon exits 0 ($QD_DRC)" test "$QD_DRC" = 0
	cp "$QD_TMP/conf.orig" "$QD_CONF"
	[ $# -gt 0 ] && qd_config_net "$@"
	qd_mark
	qd_daemon_start || exit 1
}

# dropped WHAT HOST NAME REASON...: HOST is in no set, not listed as
# blocked, reaches the outside, and a release event gives one of REASONs.
dropped() {
	local what=$1 h=$2 name=$3 ev reason state ok=1 r
	shift 3
	qd_check "$what: $h is in no set" qd_not qd_in_any_set "$h"
	state=$(qd_host_state "$h")
	qd_check "$what: quarantinectl list shows $h not blocked (state $state)" \
		test "$state" = released -o "$state" = absent
	ev=$(qd_wait_event 5 event=release host="$h") || ev=""
	echo "release event: $ev"
	reason=$(echo "${ev:-{\}}" | qd_field reason)
	for r in "$@"; do
		[ "$reason" = "not restored: $r" ] && ok=0
	done
	qd_check "$what: a release event says why ($reason)" test "$ok" = 0
	if [ -n "$name" ]; then
		qd_check "$what: $h reaches $QD_WEB:80" qd_connect "$name" $QD_WEB 80
	fi
}

qd_say "1. $QD_INF isolated, then put on the never-block list, then a restart"
qd_check "quarantine $QD_INF --level isolate succeeds" qctl quarantine $QD_INF --level isolate
qd_check "iso4 holds $QD_INF" qd_in_set iso4 $QD_INF
qd_check "$QD_INF cannot reach $QD_WEB:80" qd_not qd_connect inf $QD_WEB 80
restart_with "never-block" "never_block = [ \"$QD_NB\", \"$QD_INF\" ];"
dropped "never-block" $QD_INF inf "on the never-block list" \
	"a machine holding an address on the never-block list"
qd_check "never-block: quarantine $QD_INF is refused" qd_not qctl quarantine $QD_INF --level isolate

qd_say "2. $QD_BEN isolated, then networks.protected narrowed past it, then a restart"
restart_with "back to the first configuration"
qd_check "quarantine $QD_BEN --level isolate succeeds" qctl quarantine $QD_BEN --level isolate
qd_check "iso4 holds $QD_BEN" qd_in_set iso4 $QD_BEN
restart_with "narrowed" 'protected = [ "10.66.1.0/28", "10.66.2.0/24" ];'
dropped "narrowed" $QD_BEN ben "outside the protected networks" \
	"a machine with no address in the protected networks"

qd_say "3. a state database edited to hold the gateway's own address; elements added by hand"
restart_with "back to the first configuration"
qd_check "quarantine $QD_INF --level isolate succeeds" qctl quarantine $QD_INF --level isolate
qd_daemon_stop TERM
# A host row for the gateway's own address, isolated, written with the
# sqlite3 tool: only policy can refuse it now.
sqlite3 "$QD_STATE/state.db" "INSERT INTO hosts(key, machine, addr, state, decided, level,
	adopted, first_probe_us, first_detect_us, last_detect_us, changed_us, expires_us, by_uid,
	recurrences, last_level, last_ttl_s, want, want_overflow, evidence, reason)
	VALUES('$GW', 0, '$GW', 'isolated', 'isolate', 'isolate', 0, 0, 0, 0, 1, 0, 0, 0, 'none',
	0, '', 0, '', 'edited')" || exit 1
qd_db_host $GW
qd_in gw nft add element inet quarantined iso4 "{ $GW, $QD_NB }"
qd_mark
qd_daemon_start || exit 1
dropped "own address (state file)" $GW "" "one of the gateway's own addresses"
dropped "never-block (kernel element)" $QD_NB nb "on the never-block list"
qd_check "no adoption event for $GW or $QD_NB" \
	test -z "$(qd_events event=action host=$GW; qd_events event=action host=$QD_NB)"
qd_check "the saved state was not refused" qd_not grep -qE "saved state unusable|state database unusable" "$QD_TMP/daemon.log"
state=$(qd_host_state $QD_INF)
qd_check "$QD_INF, which may be blocked, is restored (state $state)" test "$state" = isolated
qd_check "iso4 still holds $QD_INF" qd_in_set iso4 $QD_INF
qd_check "release $QD_INF succeeds" qctl release $QD_INF

qd_say "4. a state database with one bad field: that host is skipped, the rest is loaded"
qd_check "quarantine $QD_INF --level isolate succeeds" qctl quarantine $QD_INF --level isolate
qd_daemon_stop TERM
# by_uid past every uid on the infected host's row.
sqlite3 "$QD_STATE/state.db" \
	"UPDATE hosts SET by_uid = 4294967295 WHERE key = '$QD_INF' OR addr = '$QD_INF'" || exit 1
qd_check "the database holds the bad field" \
	test "$(qd_sql "SELECT count(*) FROM hosts WHERE by_uid = 4294967295")" = 1
qd_mark
qd_daemon_start || exit 1
ev=$(qd_wait_event 5 event=error) || ev=""
echo "error event: $ev"
msg=$(echo "${ev:-{\}}" | qd_field message)
case "$msg" in
"saved state: $QD_STATE/state.db hosts id:"[0-9]*": bad by_uid=4294967295"*skipped) named=1 ;;
*) named=0 ;;
esac
qd_check "an error event names the row and the field" test "$named" = 1
set -- "$QD_STATE"/state.db.bad-*
qd_check "the saved state was not set aside" test ! -e "$1"
state=$(qd_host_state $QD_BEN)
qd_check "the other hosts are loaded ($QD_BEN: $state)" test "$state" = released
state=$(qd_host_state $QD_INF)
qd_check "$QD_INF, skipped, is adopted from the kernel (state $state)" test "$state" = isolated
qd_check "iso4 still holds $QD_INF" qd_in_set iso4 $QD_INF
qd_check "release $QD_INF succeeds" qctl release $QD_INF
qd_done
