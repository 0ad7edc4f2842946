#!/bin/bash
# e2e: a second quarantined started by mistake changes nothing.
#
#   second-instance.sh QUARANTINED QUARANTINECTL WORM
#
# A daemon runs and has isolated 10.66.1.10.  A second daemon is started in
# the same network namespace:
#   a. with the same state directory and control socket (the same unit
#      started twice, or by hand next to systemd's): refused by the
#      state-dir lock;
#   b. with another state directory and another control socket but the
#      same table: refused by the table lock.
# Each time the second daemon exits non-zero naming the lock it found, and
# nothing moved: "nft list table" (element timeouts and counters aside)
# is as before, the remediation and admin sets included (the second
# daemon's configuration has none); the saved state's hosts are as before
# and the control socket is the first daemon's; no "adopted"
# event appears in the event stream (both daemons write the same events
# file, as they would the same syslog); the first daemon still answers
# and still isolates the host.  Then (c): a daemon with its own table
# runs next to the first (different names, no collision).
# Needs root; exit 77 (skipped) otherwise.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"

QD_FILE_EVENTS=$QD_TMP/events-file.json
qd_say "topology and quarantined"
qd_topology || exit 1
qd_config "log: { events_file = \"$QD_FILE_EVENTS\"; };"
qd_daemon_start || exit 1
qd_check "quarantine $QD_INF --level isolate succeeds" qctl quarantine $QD_INF --level isolate
qd_check "iso4 holds $QD_INF" qd_in_set iso4 $QD_INF
qd_check "rem4 holds $QD_REM" qd_in_set rem4 $QD_REM
qd_check "adm4 holds $QD_ADM" qd_in_set adm4 $QD_ADM
# The save follows the kernel change (soon, not at once when saves are
# spaced out): the comparisons below start from the saved block.
qd_wait 10 "the saved state holds the block of $QD_INF" \
	eval "qd_db_host $QD_INF | grep -q '|isolated\$'"
# claimed NS: the table's name is held in test namespace NS.
claimed() {
	qd_in "$1" ss -xl | grep -q "@quarantined/inet/quarantined "
}
qd_check "the daemon holds @quarantined/inet/quarantined in its namespace" claimed gw
qd_check "and not in another (the outside's)" qd_not claimed out
# The second daemon's configuration has no remediation or admin networks
# (a default configuration, say): were it to set up the table, those sets
# would be emptied.
sed '/^ *remediation =/d; /^ *admin =/d' "$QD_CONF" >"$QD_TMP/conf-second"

# table: the daemon's table as nft lists it, without what changes by
# itself (the time left on an element, packet counters).
table() {
	qd_in gw nft list table inet quarantined |
		sed -E 's/ expires [0-9hms.]+//g; s/counter packets [0-9]+ bytes [0-9]+/counter/g'
}

# records: the saved state without what the first daemon itself may change
# meanwhile (its bindings learn from the checks' own connections): hosts,
# their history, incidents and meta.
records() {
	qd_sql "SELECT * FROM hosts ORDER BY id; SELECT * FROM history ORDER BY seq;
		SELECT * FROM incidents ORDER BY id; SELECT * FROM meta ORDER BY key;
		SELECT * FROM prefixes ORDER BY kind, net"
}

# adopted FILE: the "adopted" events in FILE.
adopted() {
	grep -i adopt "$1"
}

# second WHAT ARGS...: start a second daemon with ARGS (after the
# common ones), wait for it to exit (15 s at most) and check that it
# failed, named the lock in its error, and changed nothing.
second() {
	local what=$1 lock=$2 rc out=$QD_TMP/second.out err=$QD_TMP/second.err ino0 ino1
	shift 2
	table >"$QD_TMP/table.before"
	records >"$QD_TMP/state.before"
	ino0=$(stat -c %i "$QD_SOCK")
	qd_mark
	timeout 15 ip netns exec "${QD_NS}gw" "$QD_Q" -f -o json -i br0 -c "$QD_TMP/conf-second" "$@" \
		>"$out" 2>"$err"
	rc=$?
	sed 's/^/    second: /' "$err"
	qd_check "$what: the second daemon exits non-zero, on its own ($rc)" \
		test "$rc" != 0 -a "$rc" != 124
	qd_check "$what: its error names the $lock" grep -q "$lock" "$err"
	table >"$QD_TMP/table.after"
	qd_check "$what: nft list table is as before" \
		diff -u "$QD_TMP/table.before" "$QD_TMP/table.after"
	qd_check "$what: rem4 still holds $QD_REM" qd_in_set rem4 $QD_REM
	qd_check "$what: adm4 still holds $QD_ADM" qd_in_set adm4 $QD_ADM
	qd_check "$what: iso4 still holds $QD_INF" qd_in_set iso4 $QD_INF
	records >"$QD_TMP/state.after"
	qd_check "$what: the saved state's hosts are as before" \
		diff "$QD_TMP/state.before" "$QD_TMP/state.after"
	qd_check "$what: no event from the second daemon" test ! -s "$out"
	qd_check "$what: no adopted event in the first daemon's events" qd_not adopted "$QD_EVENTS"
	qd_check "$what: no adopted event in the events file" qd_not adopted "$QD_FILE_EVENTS"
	ino1=$(stat -c %i "$QD_SOCK" 2>/dev/null)
	qd_check "$what: the control socket is the first daemon's ($ino0, $ino1)" \
		test "$ino0" = "$ino1"
	qd_check "$what: the first daemon still answers quarantinectl status" qd_status 'd["mode"]' 
	qd_check "$what: and lists $QD_INF isolated" test "$(qd_host_state $QD_INF)" = isolated
	qd_check "$what: the first daemon is still running" kill -0 "$QD_DPID"
	qd_check "$what: $QD_INF still reaches the remediation server $QD_REM:80" \
		qd_connect inf $QD_REM 80
	qd_check "$what: $QD_INF still cannot reach $QD_WEB:80" qd_not qd_connect inf $QD_WEB 80
}

qd_say "a. a second daemon with the same -D and -S"
second "same state dir" "state-dir lock" -S "$QD_SOCK" -D "$QD_STATE"

qd_say "b. a second daemon with another -D and -S, the same table"
mkdir -p "$QD_TMP/state2"
second "same table" "table lock" -S "$QD_TMP/control2.sock" -D "$QD_TMP/state2"
qd_check "same table: the second daemon left no control socket" test ! -e "$QD_TMP/control2.sock"
qd_check "same table: and saved no state" test ! -e "$QD_TMP/state2/state.db"

qd_say "c. a daemon with its own table runs next to the first"
sed 's/^state:.*/&\nenforce: { table = "qdtwo"; };/' "$QD_CONF" >"$QD_TMP/conf2"
ip netns exec "${QD_NS}gw" "$QD_Q" -f -o json -i br0 -c "$QD_TMP/conf2" \
	-S "$QD_TMP/control3.sock" -D "$QD_TMP/state2" >"$QD_TMP/third.out" 2>"$QD_TMP/third.err" &
third=$!
QD_PIDS="$QD_PIDS $third"
third_up() {
	"$QD_CTL" -S "$QD_TMP/control3.sock" status >/dev/null 2>&1 || return 1
}
qd_check "own table: the daemon answers on its socket" \
	qd_wait 15 "the daemon with table qdtwo answers" third_up
qd_check "own table: its table is there" qd_in gw nft list set inet qdtwo iso4
qd_check "own table: the first daemon still answers" qd_status 'd["mode"]' 
qd_stop "$third"
qd_in gw nft delete table inet qdtwo 2>/dev/null
qd_done
