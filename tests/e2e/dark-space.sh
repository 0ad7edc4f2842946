#!/bin/bash
# e2e: a sweep of internal dark space on a port no rule names.
#
#   dark-space.sh QUARANTINED QUARANTINECTL WORM
#
# The gateway drops everything for 10.66.160.0/19 (a blackhole route in
# its own namespace): a protected range where no machine lives, so every
# probe into it goes unanswered.  10.66.128.0/19, protected too, is the
# "out" namespace's: its addresses answer with resets.
# scan.dark_warmup is 0 (the test cannot watch the network for ten
# minutes first).
#
# 1. The benign host sweeps 30 protected addresses that answer with resets,
#    then tries 3 dark addresses, on tcp/6379: no dark-space detection
#    (too few, and answered).
# 2. The infected host (10.66.1.10) sweeps 10.66.160.0/19 on tcp/6379 at
#    50 probes/s: flagged by dark-space, whose evidence names dark
#    addresses of that range, and contained on tcp/6379 only (conm holds
#    its MAC . tcp . 6379; it is not isolated and still reaches the web
#    server on tcp/80).  Without this rule the sweep would only be
#    watched (no rule names 6379; the walk's failures on a port no worm
#    uses are low).
# Needs root; exit 77 (skipped) otherwise.  See lib.sh for the topology
# and the network safety rules.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"

DARK=10.66.160.0/19
LIVE=10.66.128.0/19

qd_say "topology, $DARK blackholed at the gateway, quarantined"
qd_topology || exit 1
qd_in gw ip route add blackhole $DARK || exit 1
qd_config 'scan: { dark_warmup = 0; };'
qd_config_net "protected = [ \"10.66.1.0/24\", \"10.66.2.0/24\", \"$DARK\", \"$LIVE\" ];"
qd_daemon_start || exit 1
mac=$(qd_mac inf)

qd_say "1. $QD_BEN: 30 protected addresses that answer, then 3 dark ones"
qd_mark
qd_worm ben "$QD_TMP/ben1.json" -n 10.66.128.0/27 -p 6379 -r 50 -d 1
wait "$QD_LAST"
qd_worm ben "$QD_TMP/ben2.json" -n 10.66.160.0/30 -p 6379 -r 3 -d 1
wait "$QD_LAST"
sleep 4 # scan.timeout (3 s) + 1 s: every probe has its outcome
qd_check "no dark-space detection for $QD_BEN" \
	qd_not qd_wait_event 0 event=detect host=$QD_BEN rule=dark-space
qd_check "$QD_BEN is not contained" qd_not qd_in_any_set $QD_BEN

qd_say "2. $QD_INF sweeps $DARK on tcp/6379"
qd_mark
qd_worm inf "$QD_TMP/worm.json" -n $DARK -p 6379 -r 50 -d 2
worm=$QD_LAST
ev=$(qd_wait_event 10 event=detect host=$QD_INF rule=dark-space) || exit 1
echo "$ev"
qd_wait_event 5 event=action host=$QD_INF level=contain >/dev/null || exit 1
wait "$worm"
qd_check "the detection is medium, on tcp/6379" \
	test "$(echo "$ev" | qd_json '"%s %s %s" % (d["severity"], d["proto"], d["ports"])')" = "medium tcp [6379]"
qd_check "its evidence counts 8 dark destinations" \
	test "$(echo "$ev" | qd_json 'd["evidence"]["distinct_dst"]')" = 8
qd_check "its evidence names 4 dark addresses, all in $DARK" \
	test "$(echo "$ev" | qd_json 'sum(1 for a in d["evidence"]["dark"] if a.startswith("10.66.") and 160 <= int(a.split(".")[2]) < 192)')" = 4
qd_check "conm holds $mac . tcp . 6379" qd_in_set conm "$mac . tcp . 6379"
qd_check "not isolated" qd_not qd_in_set iso4 $QD_INF
qd_check "state contained" test "$(qd_host_state $QD_INF)" = contained
qd_check "it still reaches $QD_WEB:80" qd_connect inf $QD_WEB 80
qd_done
