#!/bin/bash
# e2e: "contain" blocks only the threat's ports; "isolate" blocks
# everything but the remediation server and the admin stations.
#
#   contain-isolate.sh QUARANTINED QUARANTINECTL WORM
#
# 1. The infected host (10.66.1.10) runs an SSH worm: ssh-propagation,
#    medium, contain.  Its tcp/22 probes stop reaching the outside, while
#    it still reaches the web server on tcp/80.
# 2. The operator isolates it: it no longer reaches the web server but
#    still reaches the remediation server 10.66.200.10; the admin station
#    10.66.2.40 (behind the gateway's second LAN, lan2) reaches it, the
#    other lan2 host 10.66.2.20 does not, in either direction; once that
#    host is isolated too, the two isolated hosts cannot reach each other.
# 3. Hosts on the same bridge as the isolated one (admin 10.66.1.40,
#    benign 10.66.1.20) talk to it at layer 2 through br0: the inet table
#    sees that traffic only when br_netfilter is loaded.  Where the
#    kernel has it, the test turns it on in the gateway namespace (the
#    setting is per namespace) and checks that the admin station gets
#    through and the benign host does not; where it has not, it prints
#    what it finds.
# Needs root; exit 77 (skipped) otherwise.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"

qd_say "topology (with lan2) and quarantined"
qd_topology --lan2 || exit 1
qd_count_add inf22 ip saddr $QD_INF tcp dport 22 'tcp flags & (syn|ack) == syn' || exit 1
qd_count_add infweb ip saddr $QD_INF ip daddr $QD_WEB tcp dport 80 \
	'tcp flags & (syn|ack) == syn' || exit 1
brnf=/proc/sys/net/bridge/bridge-nf-call-iptables
if qd_in gw test -e $brnf; then
	qd_sysctl gw net/bridge/bridge-nf-call-iptables 1
	brnf=1
else
	brnf=0
fi
qd_daemon_start || exit 1

qd_say "1. infected $QD_INF: SSH worm, 50 probes/s to tcp/22"
qd_worm inf "$QD_TMP/worm.json" -n $QD_NET_WORM -p 22 -r 50 -d 10
worm=$QD_LAST
det=$(qd_wait_event 10 event=detect host=$QD_INF rule=ssh-propagation) || exit 1
echo "detect: $det"
act=$(qd_wait_event 5 event=action host=$QD_INF level=contain) || exit 1
echo "action: $act"
c_block=$(qd_count inf22)
qd_check "ssh-propagation: medium, contain" \
	test "$(echo "$det" | qd_json '"%s %s" % (d["severity"], d["action"])')" = "medium contain"
qd_check "conm holds its machine $(qd_mac inf) . tcp . 22 (contained by MAC)" \
	qd_in_set conm "$(qd_mac inf) . tcp . 22"
qd_check "con4 does not hold $QD_INF (a machine is contained by its MAC)" \
	qd_not qd_in_set con4 "$QD_INF . tcp . 22"
qd_check "iso4 does not hold $QD_INF" qd_not qd_in_set iso4 $QD_INF
qd_check "quarantinectl list shows it contained" test "$(qd_host_state $QD_INF)" = contained
w0=$(qd_count infweb)
ok=0
for _ in 1 2 3 4 5 6 7 8 9 10; do
	qd_connect inf $QD_WEB 80 && ok=$((ok + 1))
	sleep 0.2
done
w1=$(qd_count infweb)
qd_check "while contained (and still scanning) it reaches $QD_WEB:80 ($ok of 10)" test $ok = 10
qd_check "the web connections were counted outside ($((w1 - w0)))" test $((w1 - w0)) -ge 10
qd_check "the worm was still scanning" kill -0 "$worm"
c_after=$(qd_count inf22)
qd_check "no tcp/22 probe reached the outside after the block ($c_block then $c_after)" \
	test "$c_after" = "$c_block"
qd_stop "$worm"
cat "$QD_TMP/worm.json"
qd_fig "ssh worm: probes that reached the outside before the block" "$c_block"
qd_fig "ssh worm: tcp/22 probes after the block, ~2.5 s window" "$((c_after - c_block))"
qd_fig "ssh worm: connections to $QD_WEB:80 while contained" "$ok of 10"

qd_say "2. quarantinectl quarantine $QD_INF --level isolate"
qd_check "quarantine --level isolate succeeds" qctl quarantine $QD_INF --level isolate --reason e2e
qd_check "iso4 holds $QD_INF" qd_in_set iso4 $QD_INF
qd_check "quarantinectl list shows it isolated" test "$(qd_host_state $QD_INF)" = isolated
qd_check "isolated: $QD_INF cannot reach $QD_WEB:80" qd_not qd_connect inf $QD_WEB 80
qd_check "isolated: $QD_INF cannot reach $QD_WEB:8080" qd_not qd_connect inf $QD_WEB 8080
qd_check "isolated: $QD_INF reaches the remediation server $QD_REM:80" qd_connect inf $QD_REM 80
qd_check "admin $QD_L2ADM (lan2) reaches $QD_INF:8080" qd_connect l2a $QD_INF 8080
qd_check "other host $QD_L2OTHER (lan2) cannot reach $QD_INF:8080" \
	qd_not qd_connect l2o $QD_INF 8080
qd_check "$QD_INF cannot reach $QD_L2OTHER:8080" qd_not qd_connect inf $QD_L2OTHER 8080
qd_check "$QD_L2OTHER still reaches $QD_WEB:80" qd_connect l2o $QD_WEB 80

qd_say "   isolate $QD_L2OTHER too: two isolated hosts"
qd_check "quarantine $QD_L2OTHER --level isolate succeeds" qctl quarantine $QD_L2OTHER --level isolate
qd_check "isolated $QD_L2OTHER cannot reach isolated $QD_INF:8080" \
	qd_not qd_connect l2o $QD_INF 8080
qd_check "isolated $QD_INF cannot reach isolated $QD_L2OTHER:8080" \
	qd_not qd_connect inf $QD_L2OTHER 8080
qd_check "isolated $QD_L2OTHER reaches the remediation server" qd_connect l2o $QD_REM 80
qd_check "admin $QD_L2ADM reaches isolated $QD_L2OTHER:8080" qd_connect l2a $QD_L2OTHER 8080

qd_say "3. the same bridge (br0): admin $QD_ADM and benign $QD_BEN to isolated $QD_INF"
if [ $brnf = 1 ]; then
	qd_check "br_netfilter on: admin $QD_ADM reaches $QD_INF:8080 across br0" \
		qd_connect adm $QD_INF 8080
	qd_check "br_netfilter on: benign $QD_BEN cannot reach $QD_INF:8080 across br0" \
		qd_not qd_connect ben $QD_INF 8080
	qd_fig "same-bridge traffic (br_netfilter on in the gateway namespace)" \
		"filtered by the inet table: admin through, benign dropped"
else
	a=no b=no
	qd_connect adm $QD_INF 8080 && a=yes
	qd_connect ben $QD_INF 8080 && b=yes
	echo "note: no br_netfilter: the inet table does not see traffic bridged inside br0;" \
		"admin reaches the isolated host: $a, benign reaches it: $b" \
		"(the bridge family, enforce.family = \"bridge\", filters that segment)"
	qd_fig "same-bridge traffic (no br_netfilter)" "not filtered: admin $a, benign $b"
fi
qd_done
