#!/bin/bash
# e2e: kill -9 during a migration, then restart: nothing the kernel had is
# lost and the state is whole (issue 11).
#
#   migrate-kill9.sh QUARANTINED QUARANTINECTL WORM
#
# An installation of an earlier version is made: NB hosts isolated with
# "quarantine --from" (the kernel holds them), one more isolated by hand
# (only the kernel will know it), the daemon stopped (the elements stay),
# its database removed and a text state file written in the old format
# (with its CRC) that holds the NB hosts isolated with their reason and
# two history lines each, and NREL released hosts with one line each.
#
# 1. The migration from that file, once whole: its time T is measured
#    (from the launch to "state migrated from" in the log).
# 2. The same file, migrated again from scratch each time and killed with
#    SIGKILL at staggered moments over 0..T (and at random ones, three
#    kills in a row without starting over), at the moment state.db
#    appears and at the moment state.migrated does.  After every kill,
#    before anything starts again: the kernel still holds every block,
#    the text file is there or renamed state.migrated (never both, never
#    neither), the database passes PRAGMA integrity_check, and it either
#    holds no host at all (the migration's transaction did not commit) or
#    the whole file, marked complete; a renamed file means a complete
#    database.  Then the daemon is started to its end and the state is
#    checked whole: every blocked host of the file isolated in the list
#    and in iso4, the host only the kernel had adopted, the file's reason,
#    every history line exactly once, the file renamed.
# 3. A commit whose rename did not happen (state.migrated is made a
#    directory, so the rename fails): an alert that says the database is
#    whole and the file is renamed at the next start; killed; the blocker
#    removed; the next start renames it ("migrated already") and migrates
#    nothing twice.
# 4. The schema migration 1 to 2: the database made schema 1 again (as
#    the unit test test_db_schema_1 does), then kill -9 at staggered
#    moments of its starts: after each, user_version is 1 with none of
#    schema 2's columns or 2 with all of them, integrity_check passes,
#    every row is there; the last start brings it to 2, the state whole.
# 5. A foreign database (another application_id) next to the text file
#    of a migration that never committed: set aside with an error event,
#    and the file migrated into the new database (not taken for migrated
#    at the next start).
# The seed of the random moments is printed; QD_SEED=N repeats a run.
# Needs root and sqlite3; exit 77 (skipped) otherwise.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"
if ! command -v sqlite3 >/dev/null; then
	echo "SKIP: sqlite3 is not installed"
	exit 77
fi

SEED=${QD_SEED:-$$}
RANDOM=$SEED
echo "seed $SEED (QD_SEED=$SEED repeats it)"

NB=5000    # blocked hosts of the old file: 10.90.0-19.1-250, in the kernel
NREL=15000 # released hosts of the old file: 10.91.0-59.1-250, nowhere
A1=10.66.1.101
F=$QD_STATE/state
M=$QD_STATE/state.migrated

qd_say "topology and quarantined"
qd_topology || exit 1
qd_config
qd_config_net 'protected = [ "10.66.1.0/24", "10.66.2.0/24", "10.90.0.0/15" ];' || exit 1
qd_daemon_start || exit 1

for a in $(seq 0 19); do
	for b in $(seq 1 250); do
		echo "10.90.$a.$b"
	done
done >"$QD_TMP/blocked.txt"
qd_check "quarantine --from $NB addresses succeeds" \
	qctl quarantine --from "$QD_TMP/blocked.txt" --reason "before the upgrade" >/dev/null
qd_check "quarantine $A1 --level isolate succeeds" qctl quarantine $A1 --level isolate
qd_daemon_stop TERM

# The text state file an earlier version would have saved, kept aside as
# old.state and put in place by reset.
# shellcheck disable=SC2046 # one address a word
$QD_PY legacy-state "$QD_TMP/old.state" 10.91 "$NREL" $(cat "$QD_TMP/blocked.txt")
[ -s "$QD_TMP/old.state" ] || exit 1

# reset: an installation of the earlier version again (no database).
reset() {
	rm -rf "$QD_STATE"/state.db* "$M"
	cp "$QD_TMP/old.state" "$F"
}

# launch: the daemon in the background, without waiting for it.
launch() {
	echo "# $(qd_now) starting quarantined (migrate-kill9)" >>"$QD_TMP/daemon.log"
	ip netns exec "${QD_NS}gw" "$QD_Q" -f -o json -i br0 -c "$QD_CONF" -S "$QD_SOCK" \
		-D "$QD_STATE" >>"$QD_EVENTS" 2>>"$QD_TMP/daemon.log" &
	# shellcheck disable=SC2034 # lib.sh's qd_daemon_stop kills it
	QD_DPID=$!
}

# sleep_ms N
sleep_ms() {
	sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"
}

# kernel_whole: iso4 holds every blocked host of the file, and A1.
kernel_whole() {
	local got
	got=$(qd_in gw nft list set inet quarantined iso4 | grep -oE '10\.(90\.[0-9]+\.[0-9]+|66\.1\.101)\b' | sort -u)
	[ "$got" = "$( (cat "$QD_TMP/blocked.txt" && echo $A1) | sort -u)" ] || {
		echo "    iso4 holds $(echo "$got" | grep -c .) of $((NB + 1))" >&2
		return 1
	}
}

# snap: a copy of the state database with its -journal and -wal, taken
# while the daemon is not running, to be read as the next start would: a
# transaction a kill cut short (a hot journal, frames of the WAL with no
# commit) is rolled back in the copy, never in the original.
snap() {
	local f
	rm -rf "$QD_TMP/snap"
	mkdir "$QD_TMP/snap" || return 1
	for f in "$QD_STATE/state.db" "$QD_STATE/state.db-journal" "$QD_STATE/state.db-wal"; do
		[ ! -e "$f" ] || cp "$f" "$QD_TMP/snap/" || return 1
	done
	if [ -s "$QD_STATE/state.db-journal" ]; then
		HOT=$((HOT + 1))
	fi
}
HOT=0

# db SQL: the answer of the copy snap took; "" when there is no database.
db() {
	[ -e "$QD_TMP/snap/state.db" ] || return 0
	sqlite3 -batch "$QD_TMP/snap/state.db" "$1"
}

# db_counts: "hosts released isolated old-lines released-lines complete".
db_counts() {
	db "SELECT (SELECT count(*) FROM hosts),
		(SELECT count(*) FROM hosts WHERE state = 'released'),
		(SELECT count(*) FROM hosts WHERE key LIKE '10.90.%' AND state = 'isolated'),
		(SELECT count(*) FROM history WHERE text = 'old line 1'),
		(SELECT count(*) FROM history WHERE text = 'released long ago'),
		(SELECT count(*) FROM meta WHERE key = 'complete' AND value = 1)" | tr '|' ' '
}

# after_kill WHAT: what a kill -9 left, before anything starts again.
# Sets WHERE to what it found (for the figures).
after_kill() {
	local w=$1 c ic complete
	qd_check "$w: the kernel still holds every block" kernel_whole
	snap || return 1
	if [ -e "$F" ] && [ -e "$M" ]; then
		qd_check "$w: the file is there or renamed, not both" false
	fi
	qd_check "$w: the file is there or renamed state.migrated" eval '[ -e "$F" ] || [ -e "$M" ]'
	c=$(db_counts)
	if [ -e "$QD_TMP/snap/state.db" ]; then
		ic=$(db "PRAGMA integrity_check")
		qd_check "$w: integrity_check says $ic" test "$ic" = ok
		# Made but its schema not yet committed: no rows to count.
		if [ "$(db "SELECT count(*) FROM sqlite_schema WHERE name = 'meta'")" = 1 ]; then
			qd_check "$w: the database can be read" test -n "$c"
		fi
	fi
	# shellcheck disable=SC2086 # the six counts as arguments
	set -- ${c:-0 0 0 0 0 0}
	if [ "$6" = 1 ]; then
		qd_check "$w: a complete database holds the whole file ($c)" \
			test "$c" = "$((NB + NREL + 1)) $NREL $NB $NB $NREL 1" -o \
			"$c" = "$((NB + NREL)) $NREL $NB $NB $NREL 1"
		if [ -e "$F" ]; then WHERE=committed-not-renamed; else WHERE=migrated; fi
	else
		qd_check "$w: a database not complete holds no host and no history ($c)" \
			test "$1 $4 $5" = "0 0 0"
		WHERE=not-committed
	fi
	# shellcheck disable=SC2034 # read by the eval below
	complete=$6
	qd_check "$w: renamed only once the database is complete" \
		eval '[ ! -e "$M" ] || [ "$complete" = 1 ]'
	echo "    killed: $WHERE"
}

# whole WHAT: the state after a start to its end.
whole() {
	local w=$1 ic r
	qd_check "$w: no state file left" test ! -e "$F"
	qd_check "$w: state.migrated left" test -f "$M"
	qd_check "$w: iso4 holds every blocked host of the file and $A1" kernel_whole
	qctl --json list >"$QD_TMP/list.json"
	r=$(/usr/bin/python3 - "$QD_TMP/list.json" "$QD_TMP/blocked.txt" "$A1" <<-'EOF'
		import json, sys
		hosts = {h["host"]: h.get("state") for h in json.load(open(sys.argv[1]))}
		want = open(sys.argv[2]).read().split() + [sys.argv[3]]
		bad = [a for a in want if hosts.get(a) != "isolated"]
		rel = sum(1 for h, s in hosts.items() if h.startswith("10.91.") and s == "released")
		print("%d-not-isolated %d-released" % (len(bad), rel))
	EOF
	)
	qd_check "$w: quarantinectl list: every blocked host of the file and $A1 isolated, the released ones released ($r)" \
		test "$r" = "0-not-isolated $NREL-released"
	r=$(qd_show_json 10.90.7.77 'd.get("reason")')
	qd_check "$w: 10.90.7.77 has the file's reason ($r)" test "$r" = "from the text file"
	qd_check "$w: $A1 (only the kernel had it) adopted" test "$(qd_host_state $A1)" = isolated
	qd_check "$w: every history line of the file is in the database, once" \
		test "$(qd_sql "SELECT (SELECT count(*) FROM v1_history WHERE text IN ('old line 1', 'old line 2')),
			(SELECT count(*) FROM v1_history WHERE text = 'released long ago')")" = "$((2 * NB))|$NREL"
	qd_check "$w: the database holds a complete save" \
		test "$(qd_sql "SELECT value FROM meta WHERE key = 'complete'")" = 1
	ic=$(qd_sql "PRAGMA integrity_check")
	qd_check "$w: integrity_check says $ic" test "$ic" = ok
}

# log_has TEXT: the daemon's log since line LOG0 holds TEXT.
log_has() {
	tail -n +"$LOG0" "$QD_TMP/daemon.log" | grep -qF -- "$1"
}

qd_say "1. the migration of $((NB + NREL)) hosts, whole"
reset
LOG0=$(($(wc -l <"$QD_TMP/daemon.log") + 1))
t0=$(date +%s%N)
launch
qd_wait 60 "state migrated" log_has "state migrated from" || exit 1
T=$((($(date +%s%N) - t0) / 1000000))
qd_wait 30 "quarantined answers on its control socket" _qd_daemon_up || exit 1
qd_fig "migration of $((NB + NREL)) hosts from the launch to its log line" "$T ms"
whole "migrated"
qd_daemon_stop TERM

qd_say "2. kill -9 during the migration"
declare -A landed
N=4
for i in $(seq 1 $N); do
	d=$((T * i / (N + 1)))
	reset
	launch
	sleep_ms $d
	qd_daemon_stop KILL
	after_kill "kill at $d ms of $T"
	landed[$WHERE]=$((${landed[$WHERE]:-0} + 1))
	qd_daemon_start || exit 1
	whole "restart after the kill at $d ms"
	qd_daemon_stop TERM
done

# The moment the database appears (made, no schema yet or no save).
reset
launch
qd_wait 30 "state.db made" test -e "$QD_STATE/state.db" || exit 1
qd_daemon_stop KILL
after_kill "kill as state.db appears"
landed[$WHERE]=$((${landed[$WHERE]:-0} + 1))
# And then three kills in a row at random moments, without starting over.
for k in 1 2 3; do
	d=$((RANDOM % (T + 1)))
	launch
	sleep_ms $d
	qd_daemon_stop KILL
	after_kill "kill $k in a row, at $d ms"
	landed[$WHERE]=$((${landed[$WHERE]:-0} + 1))
done
qd_daemon_start || exit 1
whole "restart after four kills in a row"
qd_daemon_stop TERM

# The moment the file is renamed: just after the commit.
reset
launch
qd_wait 60 "state.migrated made" test -e "$M" || exit 1
qd_daemon_stop KILL
after_kill "kill as state.migrated appears"
landed[$WHERE]=$((${landed[$WHERE]:-0} + 1))
qd_daemon_start || exit 1
whole "restart after the kill at the rename"
qd_daemon_stop TERM
for w in not-committed committed-not-renamed migrated; do
	qd_fig "kills that found the migration $w" "${landed[$w]:-0}"
done

qd_say "3. committed, not renamed (state.migrated a directory: the rename fails)"
reset
mkdir "$M" && touch "$M/blocker"
LOG0=$(($(wc -l <"$QD_TMP/daemon.log") + 1))
qd_mark
qd_daemon_start || exit 1
ev=$(qd_wait_event 5 event=error) || ev="{}"
echo "error: $ev"
qd_check "an error event says the database is whole and the file is renamed at the next start" \
	eval 'echo "$ev" | grep -q "state migrated into .*state.db, but the text file stays (migrated, but .*/state: rename to .*state.migrated: Is a directory); it is renamed at the next start"'
qd_check "the file is still there" test -f "$F"
c=$(qd_sql "SELECT (SELECT count(*) FROM hosts),
	(SELECT count(*) FROM hosts WHERE state = 'released'),
	(SELECT count(*) FROM hosts WHERE key LIKE '10.90.%' AND state = 'isolated'),
	(SELECT count(*) FROM history WHERE text = 'old line 1'),
	(SELECT count(*) FROM history WHERE text = 'released long ago'),
	(SELECT count(*) FROM meta WHERE key = 'complete' AND value = 1)" | tr '|' ' ')
qd_check "the database is complete and holds the whole file ($c)" \
	test "$c" = "$((NB + NREL + 1)) $NREL $NB $NB $NREL 1"
qd_check "the list is whole meanwhile" test "$(qd_host_state 10.90.19.250)" = isolated
qd_daemon_stop KILL
rm -r "$M"
LOG0=$(($(wc -l <"$QD_TMP/daemon.log") + 1))
qd_daemon_start || exit 1
qd_check "the next start says the file was migrated already" log_has "was migrated already: renamed to"
qd_check "and migrates nothing again" qd_not log_has "state migrated from"
whole "renamed at the next start"
qd_daemon_stop TERM

qd_say "4. kill -9 during the schema migration 1 to 2"
# Back to exactly what schema 1 was (tests/unit/test_statedb.c
# test_db_schema_1): its columns and views.
sqlite3 -batch "$QD_STATE/state.db" "BEGIN; DROP VIEW v1_hosts; DROP VIEW v1_hits; DROP VIEW v1_history;
	ALTER TABLE hits DROP COLUMN source; ALTER TABLE history DROP COLUMN source;
	ALTER TABLE history DROP COLUMN evidence;
	CREATE VIEW v1_hits AS SELECT h.key AS host, t.rule, t.level,
	 NULLIF(t.incident, 0) AS incident,
	 datetime(t.first_us / 1000000, 'unixepoch') AS first, t.first_us
	 FROM hits t JOIN hosts h ON h.id = t.host;
	CREATE VIEW v1_history AS SELECT seq, life, host,
	 datetime(ts_us / 1000000, 'unixepoch') AS time, ts_us, kind, level, state,
	 CASE WHEN uid >= 0 THEN uid END AS uid, name AS by_name,
	 sudo_user AS by_sudo_user, text FROM history;
	CREATE VIEW v1_hosts AS SELECT h.id AS life, h.key AS host,
	 CASE WHEN h.machine THEN h.key END AS mac, h.addr AS addr,
	 (SELECT group_concat(a.addr, ',') FROM host_addrs a WHERE a.host = h.id) AS addrs,
	 h.state, h.level, h.decided, h.adopted,
	 datetime(h.first_detect_us / 1000000, 'unixepoch') AS first_detect,
	 datetime(h.last_detect_us / 1000000, 'unixepoch') AS last_detect,
	 datetime(h.changed_us / 1000000, 'unixepoch') AS changed,
	 CASE WHEN h.expires_us THEN datetime(h.expires_us / 1000000, 'unixepoch') END AS expires,
	 CASE WHEN h.by_uid >= 0 THEN h.by_uid END AS by_uid, h.by_name, h.by_sudo_user,
	 h.reason, NULLIF(h.evidence, '') AS evidence, h.recurrences,
	 NULLIF(h.want, '') AS ports,
	 substr(h.infected_by, 1, instr(h.infected_by, '/') - 1) AS infected_by,
	 h.first_detect_us, h.last_detect_us, h.changed_us, h.expires_us FROM hosts h;
	PRAGMA user_version = 1; COMMIT;" || exit 1
[ ! -e "$QD_STATE/state.db-wal" ] || exit 1
cp "$QD_STATE/state.db" "$QD_TMP/schema1.db"
snap
# The rows of schema 1: hosts, history lines (up to the last one, SEQ0:
# a start adds its own), hits.
SEQ0=$(db "SELECT max(seq) FROM history")
rows() {
	db "SELECT (SELECT count(*) FROM hosts) || ' ' ||
		(SELECT count(*) FROM history WHERE seq <= $SEQ0) || ' ' || (SELECT count(*) FROM hits)"
}
NROWS=$(rows)
echo "schema 1: hosts, history lines, hits: $NROWS"
schema1() {
	rm -f "$QD_STATE"/state.db*
	cp "$QD_TMP/schema1.db" "$QD_STATE/state.db"
}
# schema_whole WHAT: version 1 with none of 2's columns, or 2 with all
# three; every row there.
schema_whole() {
	local w=$1 v ncol ic
	snap || return 1
	v=$(db "PRAGMA user_version")
	ncol=$(db "SELECT (SELECT count(*) FROM pragma_table_info('hits') WHERE name = 'source')
		+ (SELECT count(*) FROM pragma_table_info('history') WHERE name IN ('source', 'evidence'))
		+ (SELECT count(*) FROM pragma_table_info('v1_history') WHERE name IN ('source', 'evidence'))")
	qd_check "$w: schema $v with $ncol of schema 2's 5 columns" \
		eval '[ "$v" = 1 -a "$ncol" = 0 ] || [ "$v" = 2 -a "$ncol" = 5 ]'
	ic=$(db "PRAGMA integrity_check")
	qd_check "$w: integrity_check says $ic" test "$ic" = ok
	qd_check "$w: every row is there" test "$(rows)" = "$NROWS"
	qd_check "$w: the kernel still holds every block" kernel_whole
	WHERE=$v
}
schema1
LOG0=$(($(wc -l <"$QD_TMP/daemon.log") + 1))
t0=$(date +%s%N)
launch
qd_wait 60 "state loaded" log_has "state loaded from" || exit 1
T2=$((($(date +%s%N) - t0) / 1000000))
qd_fig "start of a schema-1 database of $((NB + NREL + 1)) hosts to its load" "$T2 ms"
qd_wait 30 "quarantined answers on its control socket" _qd_daemon_up || exit 1
qd_check "brought to schema 2" test "$(qd_sql 'PRAGMA user_version')" = 2
whole "schema 1 brought to 2"
qd_daemon_stop TERM
declare -A v_at
for i in $(seq 1 $N); do
	# Denser early on, where the schema is brought to 2.
	d=$((T2 * i * i / ((N + 1) * (N + 1))))
	schema1
	launch
	sleep_ms $d
	qd_daemon_stop KILL
	schema_whole "kill at $d ms of $T2"
	v_at[$WHERE]=$((${v_at[$WHERE]:-0} + 1))
	if [ $((i % 2)) = 0 ]; then
		qd_daemon_start || exit 1
		qd_check "restart after the kill at $d ms: schema 2" test "$(qd_sql 'PRAGMA user_version')" = 2
		whole "restart after the kill at $d ms"
		qd_daemon_stop TERM
	fi
done
# The moment the daemon opens it (its -wal appears), where it is brought
# to schema 2: three times, polled as fast as the shell can.
for i in 1 2 3; do
	schema1
	launch
	n=0
	until [ -e "$QD_STATE/state.db-wal" ] || [ $n -ge 2000000 ]; do
		n=$((n + 1))
	done
	qd_daemon_stop KILL
	schema_whole "kill $i as the database is opened"
	v_at[$WHERE]=$((${v_at[$WHERE]:-0} + 1))
done
qd_daemon_start || exit 1
qd_check "restart after those: schema 2" test "$(qd_sql 'PRAGMA user_version')" = 2
whole "restart after the kills as it is opened"
qd_fig "kills that found schema 1" "${v_at[1]:-0}"
qd_fig "kills that found schema 2" "${v_at[2]:-0}"
qd_fig "kills that left a hot journal (rolled back by the next open)" "$HOT"

qd_say "5. a foreign database next to the text file: set aside, the file migrated"
qd_daemon_stop TERM
reset
sqlite3 "$QD_STATE/state.db" "PRAGMA application_id = 42; CREATE TABLE t(x)" || exit 1
LOG0=$(($(wc -l <"$QD_TMP/daemon.log") + 1))
qd_mark
qd_daemon_start || exit 1
ev=$(qd_wait_event 5 event=error) || ev="{}"
echo "error: $ev"
qd_check "an error event says it is not ours and kept aside" \
	eval 'echo "$ev" | grep -q "not a quarantined database (application_id 0x2a).*kept as .*state.db.bad-"'
qd_check "the daemon says it migrated the file" log_has "state migrated from"
whole "foreign database set aside, the file migrated"
qd_daemon_stop TERM
LOG0=$(($(wc -l <"$QD_TMP/daemon.log") + 1))
qd_daemon_start || exit 1
qd_check "the next start loads the database" log_has "state loaded from $QD_STATE/state.db"
whole "the start after"
qd_done
