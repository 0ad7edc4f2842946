#!/bin/bash
# e2e: a bulk command is durable in the state database's host log when it
# answers, before its hosts' rows are written; kill -9 right after it, and
# in the middle of another, loses nothing the kernel had.
#
#   bulk-log.sh QUARANTINED QUARANTINECTL WORM
#
# 1. quarantine --from a list of 20,000 addresses (10.80.0-79.x), then
#    kill -9 at once, before the drain that writes their rows (an entry
#    a tick, half a second after the last): the database holds the list
#    in host_log, not in hosts.  Restarted twice, the daemon lists all
#    20,000
#    isolated with the list's reason (read from the log and the rows
#    drained so far, none adopted from the kernel), and the kernel holds
#    them all, also when the first restart was killed once the drain had
#    begun; within seconds host_log is empty and hosts has their rows,
#    each host with its one history line (none written twice).
# 2. quarantine --from another 20,000 (10.81.x), killed with -9 at a
#    random moment of the command (50 to 600 ms; the seed is printed,
#    QD_SEED=N repeats it).  Every element the kernel held when the
#    daemon died is still in the kernel after the restart, and the
#    daemon lists exactly the kernel's elements as isolated (a host of a
#    step not yet durable, at most 2,048, is adopted from the kernel,
#    with an event).
# 3. A last restart after the drain: the same hosts from the rows.
# Needs root; exit 77 (skipped) otherwise.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"

SEED=${QD_SEED:-$$}
RANDOM=$SEED
echo "seed $SEED (QD_SEED=$SEED repeats it)"

qd_say "topology and quarantined"
qd_topology || exit 1
# The lists are addresses of 10.80/15, protected here: set elements only,
# no host has them.
qd_config
qd_config_net 'protected = [ "10.66.1.0/24", "10.66.2.0/24", "10.80.0.0/15" ];' || exit 1
qd_daemon_start || exit 1

# list FILE NET: 20,000 addresses of NET.0-79.1-250.
list() {
	local a b
	for a in $(seq 0 79); do
		for b in $(seq 1 250); do
			echo "$2.$a.$b"
		done
	done >"$1"
}

# kernel NET: the addresses of NET in iso4, sorted.
kernel() {
	qd_in gw nft list set inet quarantined iso4 | grep -oE "${1//./\\.}\\.[0-9]+\\.[0-9]+" | sort
}

# listed NET: the addresses of NET the daemon lists isolated, sorted.
listed() {
	qctl --json list | $QD_PY json \
		"'\\n'.join(h['host'] for h in d if h.get('host', '').startswith('$1.') and h.get('state') == 'isolated')" |
		grep . | sort
}

log_empty() {
	test "$(qd_sql 'SELECT count(*) FROM host_log')" = 0
}

# since_mark: the events since the last qd_mark.
since_mark() {
	tail -n "+$((${QD_MARK:-0} + 1))" "$QD_EVENTS"
}

# drain_begun N: fewer than N entries are left (one drained at least).
drain_begun() {
	test "$(qd_sql 'SELECT count(*) FROM host_log')" -lt "$1"
}

qd_say "1. quarantine --from 20,000 addresses, kill -9 as it answers"
list "$QD_TMP/bulk1.txt" 10.80
qctl quarantine --from "$QD_TMP/bulk1.txt" --ttl 1h --reason "bulk-log e2e" >"$QD_TMP/bulk1.out" || {
	tail -n 3 "$QD_TMP/bulk1.out"
	exit 1
}
qd_daemon_stop KILL
qd_check "the daemon was killed ($QD_DRC)" test "$QD_DRC" = 137
entries=$(qd_sql "SELECT count(*) FROM host_log")
qd_fig "host_log entries after the command" "$entries"
qd_check "the list is in host_log" test "$entries" -gt 0
qd_check "in host_log: the hosts' lines with the list's reason" \
	test "$(qd_sql "SELECT count(*) FROM host_log WHERE body LIKE '%reason=bulk-log%20e2e%'")" = "$entries"
qd_check "no row for them yet" test "$(qd_sql "SELECT count(*) FROM hosts WHERE key LIKE '10.80.%'")" = 0
qd_check "the kernel holds all 20,000" test "$(kernel 10.80 | wc -l)" = 20000

qd_say "1b. restarted, and killed again once the drain of the log into rows has begun"
qd_daemon_start || exit 1
qd_wait 20 "the drain begins" drain_begun "$entries"
qd_daemon_stop KILL
left=$(qd_sql "SELECT count(*) FROM host_log")
qd_fig "host_log entries left when killed during the drain" "$left"
qd_check "the kernel holds all 20,000" test "$(kernel 10.80 | wc -l)" = 20000

qd_say "1c. restarted"
qd_mark
qd_daemon_start || exit 1
qd_check "restarted: all 20,000 listed isolated" test "$(listed 10.80 | wc -l)" = 20000
qd_check "restarted (both times): none adopted from the kernel" \
	test "$(qd_events event=action | grep '"host":"10\.80\.' | grep -c 'adopted: found')" = 0
qd_check "restarted: each restored with the list's reason" \
	test "$(since_mark | grep '"event":"action"' | grep '"host":"10\.80\.' | grep -c 'restored at start-up: bulk-log e2e"')" = 20000
qctl --json show 10.80.41.7 >"$QD_TMP/show1.json"
qd_check "a host of the list has the list's reason" \
	test "$(qd_field reason <"$QD_TMP/show1.json")" = "bulk-log e2e"
qd_check "the kernel holds all 20,000" test "$(kernel 10.80 | wc -l)" = 20000
qd_wait 20 "host_log drained" log_empty
qd_check "hosts has their 20,000 rows, with the list's reason, not adopted" \
	test "$(qd_sql "SELECT count(*) FROM hosts WHERE key LIKE '10.80.%' AND reason = 'bulk-log e2e' AND adopted = 0 AND expires_us > 0")" = 20000
qd_check "each with its one history line" \
	test "$(qd_sql "SELECT count(*) FROM history WHERE host LIKE '10.80.%' AND text = 'bulk-log e2e'")" = 20000

qd_say "2. quarantine --from another 20,000, kill -9 during the command"
list "$QD_TMP/bulk2.txt" 10.81
delay=$((50 + RANDOM % 551))
qctl quarantine --from "$QD_TMP/bulk2.txt" --ttl 1h --reason "bulk-log e2e 2" >/dev/null 2>&1 &
cpid=$!
sleep "0.$(printf %03d $delay)"
qd_daemon_stop KILL
wait $cpid
kernel 10.81 >"$QD_TMP/kernel-before"
before=$(wc -l <"$QD_TMP/kernel-before")
qd_fig "killed after (ms)" $delay
qd_fig "10.81 elements in the kernel when the daemon died" "$before"
qd_mark
qd_daemon_start || exit 1
kernel 10.81 >"$QD_TMP/kernel-after"
qd_check "nothing the kernel had is lost" \
	test "$(comm -23 "$QD_TMP/kernel-before" "$QD_TMP/kernel-after" | wc -l)" = 0
listed 10.81 >"$QD_TMP/listed-after"
qd_check "the daemon lists the kernel's elements, no more, no fewer" \
	cmp -s "$QD_TMP/kernel-after" "$QD_TMP/listed-after"
adopted=$(qd_events event=action | grep '"host":"10\.81\.' | grep -c 'adopted: found')
qd_fig "hosts adopted from the kernel (their step not yet durable)" "$adopted"
qd_check "at most one step (2,048 hosts) adopted" test "$adopted" -le 2048
qd_check "the first list is whole" test "$(listed 10.80 | wc -l)" = 20000
qd_wait 20 "host_log drained" log_empty

qd_say "3. restart after the drain: the same hosts from the rows"
listed 10.81 >"$QD_TMP/listed-3a"
qd_daemon_stop TERM
qd_daemon_start || exit 1
listed 10.81 >"$QD_TMP/listed-3b"
qd_check "10.81: the same hosts listed" cmp -s "$QD_TMP/listed-3a" "$QD_TMP/listed-3b"
qd_check "10.80: the same 20,000" test "$(listed 10.80 | wc -l)" = 20000
qd_check "the kernel and the list agree" cmp -s <(kernel 10.81) "$QD_TMP/listed-3b"

qd_done
