#!/bin/bash
# e2e: a full state directory costs the saved state, never enforcement.
#
#   state-full.sh QUARANTINED QUARANTINECTL WORM
#
# The state directory is a 1 MiB tmpfs (mounted here, unmounted on exit;
# the database's schema alone takes some 100 KiB).
# An operator block is saved; then the file system is filled to the last
# byte, and while it is full:
#   - an SMB worm on 10.66.1.10 is detected and isolated (iso4), and an
#     operator block (contain, tcp/445) reaches the kernel (con4);
#   - an "error" event says the state could not be saved, once (it is
#     retried on every tick, alerted once a minute), and another that the
#     worm's evidence file could not be written;
#   - the saved state is still the last good one (the database's hosts and
#     their levels, as before the disk filled);
#   - the daemon answers and lists every block.
# Space is freed: the state is saved within seconds and holds the blocks
# made meanwhile, and the daemon says so.  Full again: the new failure is
# alerted at once (not a minute after the first alert).  Then kill -9 and
# a restart with the file system full again: it starts (the save it makes
# before saying ready fails, with an alert), and every block is listed and
# in the kernel.
# Needs root; exit 77 (skipped) otherwise.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"

# The tmpfs goes before lib.sh's cleanup removes the work directory (lazily:
# the daemon may still hold it open).
state_cleanup() {
	local rc=$?
	mountpoint -q "$QD_STATE" && umount -l "$QD_STATE"
	(exit $rc)
	qd_cleanup
}
trap state_cleanup EXIT
if ! mount -t tmpfs -o size=1m,mode=0750 qd-state "$QD_STATE"; then
	echo "SKIP: cannot mount a tmpfs on $QD_STATE"
	exit 77
fi

qd_say "topology and quarantined, state on a 1 MiB tmpfs"
qd_topology || exit 1
qd_daemon_start || exit 1
A1=10.66.1.101
A2=10.66.1.102
qd_check "quarantine $A1 --level isolate succeeds" qctl quarantine $A1 --level isolate
qd_wait 5 "the state holds $A1" qd_db_host $A1 || exit 1

qd_say "fill the file system"
dd if=/dev/zero of="$QD_STATE/fill" bs=4096 2>/dev/null
avail=$(df --output=avail -k "$QD_STATE" | tail -n 1 | tr -d ' ')
qd_check "the state file system is full ($avail KiB free)" test "$avail" = 0
good=$(qd_sql "SELECT key, level FROM hosts ORDER BY key")
echo "saved before: $good"
qd_mark

qd_say "an outbreak while it is full"
qd_worm inf "$QD_TMP/worm.json" -n $QD_NET_WORM -p 445 -r 50 -d 3
worm=$QD_LAST
act=$(qd_wait_event 10 event=action host=$QD_INF level=isolate) || exit 1
echo "action: $act"
qd_check "the worm is isolated, enforced" \
	test "$(echo "$act" | qd_field enforced)" = true
qd_check "iso4 holds $QD_INF" qd_in_set iso4 $QD_INF
qd_check "quarantine $A2 --level contain on tcp/445 succeeds" \
	qctl quarantine $A2 --level contain --proto tcp --ports 445
qd_check "con4 holds $A2 . tcp . 445" qd_in_set con4 "$A2 . tcp . 445"
err=$(qd_wait_event 5 event=error) || exit 1
echo "error: $err"
qd_check "the error event says the state could not be saved, and why" \
	eval 'echo "$err" | grep -q "cannot save state.*No space left on device"'
evidence_alert() {
	qd_events event=error | grep -q "evidence: [0-9]* files* could not be written in full"
}
qd_check "an error event says the worm's evidence could not be written" \
	qd_wait 3 "the evidence alert" evidence_alert
wait "$worm"
sleep 1 # about ten more failed saves (one per 100 ms tick)
n=$(qd_events event=error | grep -c "cannot save state")
qd_check "one alert for the failed saves, not one per try ($n)" test "$n" = 1
qd_check "the saved state is still the last good one" \
	test "$(qd_sql "SELECT key, level FROM hosts ORDER BY key")" = "$good"
qd_check "the daemon answers" qd_status 'd["mode"]'
for h in $QD_INF $A1; do
	qd_check "$h is listed isolated" test "$(qd_host_state $h)" = isolated
done
qd_check "$A2 is listed contained" test "$(qd_host_state $A2)" = contained

qd_say "space again"
rm -f "$QD_STATE/fill"
t0=$(date +%s%N)
saved() {
	qd_db_host $A2 >/dev/null && qd_db_host $QD_INF >/dev/null
}
qd_check "the state is saved again, with $QD_INF and $A2" qd_wait 5 "state saved" saved
qd_fig "space back to state saved" "$((($(date +%s%N) - t0) / 1000000)) ms"
qd_check "the daemon logged that the state is saved again" \
	grep -q "state saved again" "$QD_TMP/daemon.log"

qd_say "full again: a new failure is alerted at once, not a minute after the first"
A3=10.66.1.103
dd if=/dev/zero of="$QD_STATE/fill" bs=4096 2>/dev/null
qd_mark
qd_check "quarantine $A3 --level isolate succeeds" qctl quarantine $A3 --level isolate
qd_check "iso4 holds $A3" qd_in_set iso4 $A3
qd_check "a new error event says the state could not be saved" \
	qd_wait_event 3 event=error
rm -f "$QD_STATE/fill"
saved3() {
	qd_db_host $A3 >/dev/null
}
qd_check "space again: the state is saved, with $A3" qd_wait 5 "state saved" saved3

qd_say "kill -9, and a restart on a full file system"
qd_daemon_stop KILL
dd if=/dev/zero of="$QD_STATE/fill" bs=4096 2>/dev/null
qd_mark
qd_daemon_start || exit 1
qd_check "the restart's save failed, with an alert" qd_wait_event 3 event=error
for h in $QD_INF $A1 $A3; do
	qd_check "after the restart, $h is listed isolated" test "$(qd_host_state $h)" = isolated
	qd_check "after the restart, iso4 holds $h" qd_in_set iso4 $h
done
qd_check "after the restart, $A2 is listed contained" test "$(qd_host_state $A2)" = contained
qd_check "after the restart, con4 holds $A2 . tcp . 445" qd_in_set con4 "$A2 . tcp . 445"
qd_done
