#!/bin/bash
# e2e: a released host is kept under surveillance.
#
#   surveillance.sh QUARANTINED QUARANTINECTL WORM
#
# 1. An SMB worm on the infected host (10.66.1.10) is isolated by
#    smb-propagation at its 10th destination (the rule's threshold).
# 2. The operator releases it: `quarantinectl show` says it is under
#    surveillance until seven days later (the default period), in text
#    and JSON.
# 3. The worm starts again: smb-propagation now fires at its 5th
#    destination (the threshold times the default factor, 0.5), and the
#    host is isolated again.
# 4. Released again, then the daemon restarted: `show` gives the same
#    deadline, and the new sensor knows it (the 5th destination again).
# 5. The benign host (10.66.1.20), never released, sweeping the same
#    way is flagged at the 10th destination.
# Needs root; exit 77 (skipped) otherwise.  See lib.sh for the topology
# and the network safety rules.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"

qd_say "topology and quarantined (surveillance at its defaults)"
qd_topology || exit 1
qd_daemon_start || exit 1

# sweep HOST: an SMB sweep from HOST (50 probes/s, 2 s); prints the
# distinct destinations of its smb-propagation detection.
sweep() {
	local host=$1 addr ev
	addr=$(eval echo "\$QD_$(echo "$1" | tr a-z A-Z)")
	qd_mark
	qd_worm "$host" "$QD_TMP/worm-$host.json" -n $QD_NET_WORM -p 445 -r 50 -d 2
	ev=$(qd_wait_event 10 event=detect host="$addr" rule=smb-propagation) || return 1
	qd_wait_event 10 event=action host="$addr" level=isolate >/dev/null || return 1
	wait "$QD_LAST"
	echo "$ev" | qd_json 'd["evidence"]["distinct_dst"]'
}

# until_ok HOST: show --json gives a deadline 7 days (within a minute)
# after now.
until_ok() {
	qd_show_json "$1" "d['surveillance_until']" | python3 -c '
import sys, datetime
s = sys.stdin.read().strip()
t = datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
left = (t - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
print("surveillance until", s, "(%.0f s from now)" % left)
sys.exit(0 if abs(left - 7 * 86400) < 60 else 1)'
}

qd_say "1. $QD_INF: SMB worm"
n=$(sweep inf) || exit 1
qd_check "smb-propagation at the 10th destination ($n)" test "$n" = 10
qd_check "iso4 holds $QD_INF" qd_in_set iso4 $QD_INF
qd_check "not yet under surveillance" test "$(qd_show_json $QD_INF "d['surveillance_until']")" = null

qd_say "2. released by the operator"
qd_check "quarantinectl release $QD_INF succeeds" qctl release $QD_INF
qd_check "iso4 no longer holds $QD_INF" qd_not qd_in_set iso4 $QD_INF
qctl show $QD_INF | tee "$QD_TMP/show2"
qd_check "show says: under surveillance until ..." grep -q '^surveillance: until .* (rule thresholds x0.5)$' "$QD_TMP/show2"
qd_check "show --json: surveillance_until is 7 days from now" until_ok $QD_INF
deadline=$(qd_show_json $QD_INF "d['surveillance_until']")

qd_say "3. the worm again, under surveillance"
n=$(sweep inf) || exit 1
qd_check "smb-propagation at the 5th destination ($n)" test "$n" = 5
qd_check "iso4 holds $QD_INF again" qd_in_set iso4 $QD_INF

qd_say "4. released, the daemon restarted, the worm again"
qd_check "quarantinectl release $QD_INF succeeds" qctl release $QD_INF
deadline=$(qd_show_json $QD_INF "d['surveillance_until']")
qd_daemon_stop
qd_check "the daemon exits 0" test "$QD_DRC" = 0
qd_daemon_start || exit 1
qd_check "after the restart, the same deadline ($deadline)" \
	test "$(qd_show_json $QD_INF "d['surveillance_until']")" = "$deadline"
n=$(sweep inf) || exit 1
qd_check "smb-propagation at the 5th destination ($n)" test "$n" = 5

qd_say "5. $QD_BEN, never released, the same sweep"
n=$(sweep ben) || exit 1
qd_check "smb-propagation at the 10th destination ($n)" test "$n" = 10
qd_check "not under surveillance" test "$(qd_show_json $QD_BEN "d['surveillance_until']")" = null
qd_done
