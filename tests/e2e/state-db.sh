#!/bin/bash
# e2e: the state database (STATE_DIR/state.db): migration from the text
# state file of earlier versions, kill -9 during it, a damaged and a
# foreign database, and who can read it.
#
#   state-db.sh QUARANTINED QUARANTINECTL WORM
#
# 1. Three hosts are isolated by hand; the daemon stops (the elements
#    stay).  An installation of an earlier version is made of it: no
#    database, a text state file (written here in that format, with its
#    CRC) that holds two of them with their reason and history, and 20,000
#    released hosts with theirs.  The daemon starts: it says it migrated,
#    state.migrated is left and no state file; both hosts are isolated
#    with the file's reason, the third is adopted from the kernel, the
#    released hosts and every history line are in the database.
# 2. A migration cut short before its commit (the database made, no
#    complete save, the file still there) is migrated again.
# 3. kill -9 at random moments of the migration, five times: after each,
#    the file is still there or the database holds a complete save; the
#    last start has every block and every host.
# 4. A damaged database (garbage over its pages) and a foreign one
#    (another application_id): set aside as state.db.bad-* with its -wal
#    and -shm, an error event, the blocks adopted from the kernel, a new
#    database saved.
# 5. The database, its -wal and -shm are 0600: root only (and the daemon's
#    user); nobody cannot read them while the daemon writes.
# Needs root; exit 77 (skipped) otherwise.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"

A1=10.66.1.101
A2=10.66.1.102
A3=10.66.1.103
NREL=20000

qd_say "topology and quarantined"
qd_topology || exit 1
qd_daemon_start || exit 1
for h in $A1 $A2 $A3; do
	qd_check "quarantine $h --level isolate succeeds" qctl quarantine $h --level isolate
done
qd_daemon_stop TERM

# old_state: the text state file an earlier version would have saved:
# A1 and A2 isolated with their reason and two history lines each, NREL
# released hosts with one line each (10.67.x.y: outside every set).
old_state() {
	rm -f "$QD_STATE"/state.db* "$QD_STATE/state.migrated"
	$QD_PY legacy-state "$QD_STATE/state" 10.67 "$NREL" "$A1" "$A2"
}

# migrated WHAT: what the migration must have kept.
migrated() {
	local w=$1 r
	qd_check "$w: no state file left" test ! -e "$QD_STATE/state"
	qd_check "$w: state.migrated left" test -e "$QD_STATE/state.migrated"
	for h in $A1 $A2; do
		qd_check "$w: $h listed isolated" test "$(qd_host_state $h)" = isolated
		qd_check "$w: iso4 holds $h" qd_in_set iso4 $h
		r=$(qd_show_json $h 'd.get("reason")')
		qd_check "$w: $h has the file's reason ($r)" test "$r" = "from the text file"
		qd_check "$w: $h's history lines are in the database" \
			test "$(qd_sql "SELECT count(*) FROM v1_history WHERE host = '$h' AND text LIKE 'old line %'")" = 2
	done
	qd_check "$w: $A3 (not in the file) adopted from the kernel" \
		test "$(qd_host_state $A3)" = isolated
	qd_check "$w: the $NREL released hosts are in the database" \
		test "$(qd_sql "SELECT count(*) FROM hosts WHERE state = 'released'")" = $NREL
	qd_check "$w: with their history" \
		test "$(qd_sql "SELECT count(*) FROM history WHERE text = 'released long ago'")" = $NREL
	qd_check "$w: the database holds a complete save" \
		test "$(qd_sql "SELECT value FROM meta WHERE key = 'complete'")" = 1
}

qd_say "1. an earlier version's text state file: migrated"
old_state
qd_mark
t0=$(date +%s%N)
qd_daemon_start || exit 1
qd_fig "start with a migration of $((NREL + 2)) hosts" "$((($(date +%s%N) - t0) / 1000000)) ms"
qd_check "the daemon says it migrated" grep -q "state migrated from" "$QD_TMP/daemon.log"
migrated "migrated"

qd_say "2. a migration cut short before its commit: migrated again"
qd_daemon_stop TERM
mv "$QD_STATE/state.migrated" "$QD_STATE/state"
sqlite3 "$QD_STATE/state.db" "DELETE FROM meta; DELETE FROM hosts; DELETE FROM host_addrs;
	DELETE FROM hits; DELETE FROM history" || exit 1
qd_daemon_start || exit 1
migrated "cut short"

qd_say "3. kill -9 during the migration, five times"
qd_daemon_stop TERM
old_state
# launch: the daemon in the background, without waiting for it.
launch() {
	echo "# $(qd_now) starting quarantined (state-db)" >>"$QD_TMP/daemon.log"
	ip netns exec "${QD_NS}gw" "$QD_Q" -f -o json -i br0 -c "$QD_CONF" -S "$QD_SOCK" \
		-D "$QD_STATE" >>"$QD_EVENTS" 2>>"$QD_TMP/daemon.log" &
	# shellcheck disable=SC2034 # lib.sh's qd_daemon_stop kills it
	QD_DPID=$!
}
complete() {
	[ -e "$QD_STATE/state.db" ] &&
		test "$(qd_sql "SELECT value FROM meta WHERE key = 'complete'" 2>/dev/null)" = 1
}
for i in 1 2 3 4 5; do
	launch
	t=$((RANDOM % 600))
	sleep "$(printf '0.%03d' "$t")"
	qd_daemon_stop KILL
	if [ -e "$QD_STATE/state" ]; then where="the file is still there"; else where="migrated"; fi
	qd_check "kill -9 after $t ms: the file is there or the database whole ($where)" \
		eval '[ -e "$QD_STATE/state" ] || complete'
done
qd_daemon_start || exit 1
migrated "after the kills"

qd_say "4. a damaged database, then a foreign one"
qd_daemon_stop TERM
# Garbage over every page but the first two (the header still says
# SQLite): damaged, not foreign.
size=$(stat -c %s "$QD_STATE/state.db")
/usr/bin/env python3 - "$QD_STATE/state.db" <<'EOF'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
size = os.fstat(fd).st_size
for off in range(8192, size, 4096):
    os.pwrite(fd, b"\xa5" * 4096, off)
os.close(fd)
EOF
echo "damaged $size bytes"
: >"$QD_STATE/state.db-wal"
qd_mark
qd_daemon_start || exit 1
ev=$(qd_wait_event 5 event=error) || ev="{}"
echo "error: $ev"
qd_check "an error event says the database is unusable and kept aside" \
	eval 'echo "$ev" | grep -q "state database unusable.*kept as .*state.db.bad-"'
set -- "$QD_STATE"/state.db.bad-*
qd_check "state.db.bad-* is there ($1)" test -e "$1"
qd_check "with its -wal" eval 'ls "$QD_STATE"/state.db.bad-*-wal >/dev/null'
for h in $A1 $A2 $A3; do
	qd_check "damaged: $h adopted from the kernel, isolated" test "$(qd_host_state $h)" = isolated
	qd_check "damaged: iso4 holds $h" qd_in_set iso4 $h
done
qd_check "damaged: a new database holds the blocks" \
	qd_wait 5 "saved" eval "qd_db_host $A1 | grep -q '^isolate|'"
qd_daemon_stop TERM
rm -f "$QD_STATE"/state.db*
sqlite3 "$QD_STATE/state.db" "PRAGMA application_id = 42; CREATE TABLE t(x)" || exit 1
qd_mark
qd_daemon_start || exit 1
ev=$(qd_wait_event 5 event=error) || ev="{}"
echo "error: $ev"
qd_check "foreign: an error event says it is not ours" \
	eval 'echo "$ev" | grep -q "not a quarantined database (application_id 0x2a)"'
qd_check "foreign: kept aside" eval 'ls "$QD_STATE"/state.db.bad-* >/dev/null'
qd_check "foreign: $A2 still isolated" test "$(qd_host_state $A2)" = isolated
qd_check "foreign: a new database holds the blocks" \
	qd_wait 5 "saved" eval "qd_db_host $A2 | grep -q '^isolate|'"

qd_say "5. root only: 0600, and nobody cannot read it while the daemon writes"
qctl quarantine 10.66.1.104 --level isolate >/dev/null
for f in state.db state.db-wal state.db-shm; do
	[ -e "$QD_STATE/$f" ] || continue
	qd_check "$f is 0600" test "$(stat -c %a "$QD_STATE/$f")" = 600
done
chmod 755 "$QD_TMP" "$QD_STATE"
qd_check "nobody cannot read the database" \
	qd_not setpriv --reuid=nobody --regid=nogroup --clear-groups \
	sqlite3 -readonly "$QD_STATE/state.db" "SELECT count(*) FROM hosts"
qd_check "root reads it while the daemon writes" \
	test "$(qd_sql "SELECT count(*) FROM v1_hosts WHERE level = 'isolate'")" -ge 4
qd_done
