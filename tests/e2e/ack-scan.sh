#!/bin/bash
# e2e: ACK scans (probes without SYN) through the live capture filter.
#
#   ack-scan.sh QUARANTINED QUARANTINECTL WORM
#
# 1. The benign host, with TCP timestamps off (as Windows: its pure ACKs
#    are bare, and the filter passes them), makes 30 connections to the
#    web server, each answered: no detection, in no set.
# 2. The infected host runs nmap -sA of ports 1-1000 of 10.66.200.80 (the
#    out namespace answers every one with a reset): flagged by
#    vertical-scan, whose evidence names the target and counts 20 ports,
#    and contained on the ports of its failed probes; the target is not
#    flagged.
# 3. The never-block host runs nmap -sA of 100 ports of an address the
#    gateway blackholes (nothing answers): vertical-scan by silence, an
#    alert only.
# Skipped (77) without nmap, and without root.  See lib.sh for the
# topology and the network safety rules.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"

command -v nmap >/dev/null || {
	echo "SKIP: nmap is not installed"
	exit 77
}
TARGET=$QD_WEB
DARK=10.66.160.7

qd_say "topology, $DARK blackholed at the gateway, quarantined"
qd_topology || exit 1
qd_in gw ip route add blackhole $DARK/32 || exit 1
qd_count_add infack ip saddr $QD_INF 'tcp flags == ack' || exit 1
qd_daemon_start || exit 1

qd_say "1. $QD_BEN without TCP timestamps: 30 answered connections to $QD_WEB:80"
qd_sysctl ben net/ipv4/tcp_timestamps 0
qd_mark
for i in $(seq 1 30); do
	qd_connect ben $QD_WEB 80 || echo "connection $i failed"
done
sleep 4 # scan.timeout (3 s) + 1 s: every probe has its outcome
qd_check "no detection for $QD_BEN" qd_not qd_wait_event 0 event=detect host=$QD_BEN
qd_check "$QD_BEN is in no set" qd_not qd_in_any_set $QD_BEN

qd_say "2. $QD_INF: nmap -sA -p 1-1000 $TARGET"
qd_mark
qd_bg_out inf "$QD_TMP/scan.out" nmap -n -Pn -sA -p 1-1000 --max-rate 500 --max-retries 1 \
	--host-timeout 60s $TARGET
scan=$QD_LAST
ev=$(qd_wait_event 15 event=detect host=$QD_INF rule=vertical-scan) || exit 1
echo "$ev"
wait "$scan"
tail -n 3 "$QD_TMP/scan.out"
qd_check "nmap saw the ports unfiltered (answered by resets)" \
	grep -q "1000 unfiltered" "$QD_TMP/scan.out"
qd_check "the detection is medium, on tcp, against $TARGET" \
	test "$(echo "$ev" | qd_json '"%s %s %s" % (d["severity"], d["proto"], d["evidence"]["target"])')" = "medium tcp $TARGET"
qd_check "its evidence counts 20 distinct ports" \
	test "$(echo "$ev" | qd_json 'd["evidence"]["distinct_ports"]')" = 20
qd_check "no other rule flagged $QD_INF (no first contact, no walk)" \
	test "$(qd_events event=detect host=$QD_INF | wc -l)" = 1
port=$(echo "$ev" | qd_json 'd["ports"][0]')
qd_check "contained: con4 holds $QD_INF . tcp . $port, a port of the detection" \
	qd_wait 5 "con4 holds $QD_INF . tcp . $port" qd_in_set con4 "$QD_INF . tcp . $port"
qd_check "state contained" test "$(qd_host_state $QD_INF)" = contained
qd_check "the target $TARGET is not flagged" \
	qd_not qd_wait_event 0 event=detect host=$TARGET
sent=$(qd_count infack)
qd_fig "nmap -sA of 1,000 ports" "$sent bare ACKs reached the outside; flagged at the $(echo "$ev" | qd_json 'd["evidence"]["probes"]')th failed probe"

qd_say "3. never-block $QD_NB: nmap -sA -p 1-100 $DARK (blackholed)"
qd_mark
qd_bg_out nb "$QD_TMP/scan2.out" nmap -n -Pn -sA -p 1-100 --max-rate 200 --max-retries 0 \
	--host-timeout 30s $DARK
scan=$QD_LAST
ev=$(qd_wait_event 15 event=detect host=$QD_NB rule=vertical-scan) || exit 1
echo "$ev"
wait "$scan"
tail -n 3 "$QD_TMP/scan2.out"
qd_check "nmap saw the ports filtered (no answer)" grep -q "100 filtered" "$QD_TMP/scan2.out"
qd_check "the detection says never-block, not enforced" \
	test "$(echo "$ev" | qd_json '"%s %s" % (d["enforced"], d.get("why"))')" = "False never-block"
qd_check "$QD_NB is in no set" qd_not qd_in_any_set $QD_NB
qd_done
