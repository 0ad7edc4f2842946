#!/bin/bash
# e2e: list in operators' words and purge of released hosts, on a live
# daemon.
#
#   list-purge.sh QUARANTINED QUARANTINECTL WORM
#
# 1. Two hosts of a department whose inventory names are longer than any
#    column: the benign host (10.66.1.20) quarantined and released, the
#    infected one (10.66.1.10) isolated.  quarantinectl list fits 79
#    columns, cuts the long names with '~', says '-' where there is
#    nothing; --wide has them whole; the filters pick the hosts.
# 2. Under surveillance (surveillance.period 4 s here) a released host is
#    kept, and the answer says so; purge --older-than 1h purges nothing
#    (the release is recent); after 5 s, purge --older-than 2s purges the
#    released host and keeps the isolated one (older too): it stays in the
#    kernel's set and cut off.
#    The purged host's row leaves the state database, its history stays
#    there (v1_history); one purge event says how many and who asked.
# 3. After a restart the purged host is still gone (the state was saved
#    without it) and the isolated one still isolated.
# Needs root; exit 77 (skipped) otherwise.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"

DEPT="Infection Response and Containment"

qd_say "topology and quarantined"
qd_topology || exit 1
qd_config "inventory = ( { net = \"10.66.1.0/24\"; department = \"$DEPT\"; floor = \"2\";" \
	"  owner = \"Network Operations Centre\"; } );" 'surveillance: { period = "4s"; };'
qd_daemon_start || exit 1

# listed ARGS...: the hosts "quarantinectl list ARGS" shows, sorted.
listed() {
	qctl list "$@" | awk 'NR > 1 { print $1 }' | sort | tr '\n' ' '
}

# out_has ARGS... -- TEXT: "quarantinectl ARGS" prints TEXT.
out_has() {
	local args=()
	while [ "$1" != -- ]; do
		args+=("$1")
		shift
	done
	qctl "${args[@]}" | grep -qF -- "$2"
}

# err_has TEXT ARGS...: "quarantinectl ARGS" fails and says TEXT.
err_has() {
	local text=$1 err
	shift
	err=$(qctl "$@" 2>&1 >/dev/null) && return 1
	echo "$err" | grep -qF -- "$text"
}

# widest ARGS...: the length of the longest line of "quarantinectl ARGS".
widest() {
	qctl "$@" | awk '{ if (length($0) > n) n = length($0) } END { print n + 0 }'
}

qd_say "1. list: 80 columns, --wide, filters"
qd_check "quarantine $QD_BEN" qctl quarantine $QD_BEN --reason "false alarm"
qd_check "release $QD_BEN" qctl release $QD_BEN
qd_check "quarantine $QD_INF" qctl quarantine $QD_INF --ttl 0
qctl list
w=$(widest list)
qd_check "list: every line fits 80 columns (widest $w)" test "$w" -le 79
qd_check "list: the department cut to fit, with ~" out_has list -- " Infection Respo~"
line=$(qctl list | grep "^$QD_BEN ")
qd_check "list: the released host says - for no rule ($line)" \
	test "$(echo "$line" | awk '{ print $2, $3, $6 }')" = "released none -"
qctl list --wide
qd_check "list --wide: the department and owner whole" \
	test -n "$(qctl list --wide | grep -F "$DEPT floor 2 / Network Operations Centre")"
line=$(qctl list --wide | grep "^$QD_BEN ")
qd_check "list --wide: - for the expiry of a released host, not never" \
	test "$(echo "$line" | awk '{ print $5 }')" = "-"
line=$(qctl list --wide | grep "^$QD_INF ")
qd_check "list --wide: never for a block without TTL" \
	test "$(echo "$line" | awk '{ print $5 }')" = "never"
qd_check "list --department (any case): both hosts" \
	test "$(listed --department "${DEPT^^}")" = "$QD_INF $QD_BEN "
qd_check "list --floor 3: none" test "$(listed --floor 3)" = ""
qd_check "list --state released --floor 2: the released host" \
	test "$(listed --state released --floor 2)" = "$QD_BEN "
qd_check "list --since 1h: both" test "$(listed --since 1h)" = "$QD_INF $QD_BEN "
qd_check "list --since tomorrow: none" \
	test "$(listed --since "$(date -d tomorrow +%F)")" = ""
qd_check "list --rule: a mistyped rule is refused with a suggestion" \
	err_has "did you mean 'smb-propagation'" list --rule smb-propagaton
n=$(qctl --json list --department "${DEPT,,}" | qd_json 'len(d)')
qd_check "list --json --department: both hosts ($n)" test "$n" = 2

qd_say "2. purge"
out=$(qctl purge --older-than 0)
qd_check "purge --older-than 0: kept under surveillance ($out)" \
	test "$out" = "purged 0 released hosts unchanged for 0s; 1 more kept while under surveillance"
out=$(qctl purge --older-than 1h)
qd_check "purge --older-than 1h: nothing yet ($out)" \
	test "$out" = "purged 0 released hosts unchanged for 1h"
sleep 5
out=$(qctl purge --older-than 2s)
qd_check "purge --older-than 2s: the released host ($out)" \
	test "$out" = "purged 1 released host unchanged for 2s (their history stays in the state database)"
qd_check "purged: $QD_BEN is not listed" test "$(qd_host_state $QD_BEN)" = absent
qd_check "purged: show has no record of it" \
	test "$(qd_show_json $QD_BEN "d.get('flagged', True)")" = false
qd_check "kept: $QD_INF still isolated" test "$(qd_host_state $QD_INF)" = isolated
qd_check "kept: $QD_INF still in the kernel's sets" qd_in_any_set $QD_INF
qd_check "kept: $QD_INF still cut off" qd_not qd_connect inf $QD_WEB 80
qd_check "$QD_BEN reaches the web as before" qd_connect ben $QD_WEB 80
qd_check "the state saved has no row for $QD_BEN" qd_not qd_db_host $QD_BEN
qd_check "nor for its MAC" qd_not qd_db_host "$(qd_mac ben)"
qd_check "the state saved has the row of $QD_INF" qd_db_host $QD_INF
hist=$(qd_sql "SELECT kind || ' ' || level FROM v1_history WHERE host IN ('$QD_BEN', '$(qd_mac ben)') ORDER BY seq")
echo "$QD_BEN's history: $hist"
qd_check "its history stays: the block and the release" \
	eval 'echo "$hist" | grep -q "^action " && echo "$hist" | grep -q "^release none"'
qd_check "the history has no line of $QD_INF's for it" \
	qd_not eval "qd_sql \"SELECT host FROM v1_history WHERE host IN ('$QD_BEN', '$(qd_mac ben)')\" | grep -qF $QD_INF"
qd_check "one purge event, count 1, by uid 0" \
	test "$(qd_events event=purge count=1 by=0 | wc -l)" = 1
qd_check "the purges that found nothing have their events too" \
	test "$(qd_events event=purge count=0 by=0 | wc -l)" = 2

qd_say "3. restart"
qd_daemon_stop
qd_daemon_start || exit 1
qd_check "restarted: $QD_BEN still gone" test "$(qd_host_state $QD_BEN)" = absent
qd_check "restarted: $QD_INF isolated" test "$(qd_host_state $QD_INF)" = isolated
qd_check "restarted: $QD_INF in the kernel's sets" qd_in_any_set $QD_INF
qd_done
