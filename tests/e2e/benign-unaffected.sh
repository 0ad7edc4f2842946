#!/bin/bash
# e2e: a benign host's connections keep working throughout an outbreak.
#
#   benign-unaffected.sh QUARANTINED QUARANTINECTL WORM
#
# The benign host (10.66.1.20) opens a TCP connection every 200 ms, in
# turn to 10.66.200.80:80 and to 20 other web servers (10.66.201.1-20:80,
# a browser-like fan-out whose connections succeed) while the infected
# host (10.66.1.10) runs an SMB worm and gets isolated.  Not one of the
# benign connections may fail, and the benign host is never flagged.
# Needs root; exit 77 (skipped) otherwise.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"

qd_say "topology and quarantined"
qd_topology || exit 1
servers="$QD_WEB:80"
for i in $(seq 1 20); do
	servers="$servers 10.66.201.$i:80"
done
# shellcheck disable=SC2086 # one argument per server
qd_bg out $QD_PY serve --ready "$QD_TMP/web20.ready" ${servers#"$QD_WEB:80 "}
qd_wait 10 "20 more web servers" test -e "$QD_TMP/web20.ready" || exit 1
qd_daemon_start || exit 1

qd_say "benign $QD_BEN: a connection every 200 ms to 21 web servers in turn"
# shellcheck disable=SC2086
qd_bg_out ben "$QD_TMP/benign.json" $QD_PY loop --interval 0.2 --timeout 1 $servers
benign=$QD_LAST
sleep 1 # benign traffic alone first

qd_say "infected $QD_INF: SMB worm, 50 probes/s, 6 s"
qd_worm inf "$QD_TMP/worm.json" -n $QD_NET_WORM -p 445 -r 50 -d 6
worm=$QD_LAST
qd_wait_event 10 event=action host=$QD_INF level=isolate >/dev/null || exit 1
qd_say "isolated; the benign host carries on during the rest of the scan"
wait "$worm"
sleep 1 # and a little after it
qd_stop "$benign"
cat "$QD_TMP/benign.json"
attempts=$(qd_json 'd["attempts"]' <"$QD_TMP/benign.json")
failed=$(qd_json 'd["failed"]' <"$QD_TMP/benign.json")
worst=$(qd_json 'd["max_connect_ms"]' <"$QD_TMP/benign.json")

qd_check "the benign host made connections throughout ($attempts)" test "$attempts" -ge 30
qd_check "none of them failed ($failed)" test "$failed" = 0
qd_check "no event names the benign host" test -z "$(qd_events host=$QD_BEN)"
qd_check "quarantinectl list does not show the benign host" \
	test "$(qd_host_state $QD_BEN)" = absent
qd_check "the benign host is in no set" qd_not qd_in_any_set $QD_BEN
qd_check "the infected host is isolated" test "$(qd_host_state $QD_INF)" = isolated

qd_fig "benign connections during the outbreak" "$attempts, $failed failed, slowest $worst ms"
qd_done
