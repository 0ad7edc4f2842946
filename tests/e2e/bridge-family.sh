#!/bin/bash
# e2e: enforce.family = "bridge" on a gateway that bridges its LAN: the
# table also sees host-to-host traffic inside br0.
#
#   bridge-family.sh QUARANTINED QUARANTINECTL WORM
#
# 1. The operator isolates 10.66.1.10: the benign host on the same bridge
#    can no longer reach it (nor it the benign host), the admin station
#    on the same bridge (10.66.1.40) and the one behind the gateway's
#    second LAN (10.66.2.40) still can; it cannot reach the web server,
#    it can reach the remediation server; release undoes all of it.
# 2. contain on tcp/8080 blocks that port only, bridged or routed.
# 3. An SMB worm is contained, then isolated (smb-propagation) as in the
#    inet family (capturing on the bridge ports too, see below).
# br_netfilter, where the kernel has it, is off in the gateway namespace:
# only the bridge table filters.  Needs root; exit 77 (skipped) otherwise.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"
QD_FAMILY=bridge

qd_say "topology (with lan2) and quarantined, enforce.family = \"bridge\""
qd_topology --lan2 || exit 1
qd_count_add inf445 ip saddr $QD_INF tcp dport 445 'tcp flags & (syn|ack) == syn' || exit 1
if qd_in gw test -e /proc/sys/net/bridge/bridge-nf-call-iptables; then
	qd_sysctl gw net/bridge/bridge-nf-call-iptables 0
fi
qd_config 'enforce: { family = "bridge"; };'
# Capture on the bridge ports as well as on br0: a frame that the bridge
# table drops at its input hook never reaches br0's own capture, so with
# br0 alone the daemon would stop seeing a host's probes once it is
# contained (and never escalate it).  A frame seen on two interfaces
# counts once.
qd_daemon_start -i v-inf -i v-ben -i v-nb -i v-adm || exit 1
qd_check "the daemon made table bridge quarantined" \
	qd_in gw nft list table bridge quarantined >/dev/null

qd_say "1. quarantine $QD_INF --level isolate"
qd_check "quarantine succeeds" qctl quarantine $QD_INF --level isolate
qd_check "iso4 (bridge table) holds $QD_INF" qd_in_set iso4 $QD_INF
qd_check "benign $QD_BEN cannot reach $QD_INF:8080 (same bridge)" qd_not qd_connect ben $QD_INF 8080
qd_check "$QD_INF cannot reach benign $QD_BEN:8080 (same bridge)" qd_not qd_connect inf $QD_BEN 8080
qd_check "admin $QD_ADM reaches $QD_INF:8080 (same bridge)" qd_connect adm $QD_INF 8080
qd_check "admin $QD_L2ADM reaches $QD_INF:8080 (routed, lan2)" qd_connect l2a $QD_INF 8080
qd_check "other $QD_L2OTHER cannot reach $QD_INF:8080 (routed, lan2)" \
	qd_not qd_connect l2o $QD_INF 8080
qd_check "$QD_INF cannot reach $QD_WEB:80" qd_not qd_connect inf $QD_WEB 80
qd_check "$QD_INF reaches the remediation server $QD_REM:80" qd_connect inf $QD_REM 80
qd_check "release succeeds" qctl release $QD_INF
qd_check "released: $QD_INF reaches $QD_WEB:80" qd_connect inf $QD_WEB 80
qd_check "released: $QD_BEN reaches $QD_INF:8080" qd_connect ben $QD_INF 8080

qd_say "2. quarantine $QD_BEN --level contain --proto tcp --ports 8080"
qd_check "quarantine succeeds" qctl quarantine $QD_BEN --level contain --proto tcp --ports 8080
qd_check "conm holds $(qd_mac ben) . tcp . 8080" qd_in_set conm "$(qd_mac ben) . tcp . 8080"
qd_check "$QD_BEN cannot reach $QD_INF:8080 (bridged)" qd_not qd_connect ben $QD_INF 8080
qd_check "$QD_BEN cannot reach $QD_WEB:8080 (routed)" qd_not qd_connect ben $QD_WEB 8080
qd_check "$QD_BEN reaches $QD_WEB:80" qd_connect ben $QD_WEB 80
qd_check "release succeeds" qctl release $QD_BEN
qd_check "released: $QD_BEN reaches $QD_WEB:8080" qd_connect ben $QD_WEB 8080

qd_say "3. infected $QD_INF: SMB worm, 50 probes/s, 3 s"
qd_mark
qd_worm inf "$QD_TMP/worm.json" -n $QD_NET_WORM -p 445 -r 50 -d 3
worm=$QD_LAST
first=$(qd_wait_event 10 event=action host=$QD_INF enforced=true) || exit 1
c_block=$(qd_count inf445)
echo "first action: $first"
iso=$(qd_wait_event 5 event=action host=$QD_INF level=isolate) || iso=""
wait "$worm"
cat "$QD_TMP/worm.json"
c_end=$(qd_count inf445)
qd_check "no probe reached the outside after the first block ($c_block then $c_end)" \
	test "$c_end" = "$c_block"
qd_check "smb-propagation isolated it" test -n "$iso"
if [ -z "$iso" ]; then
	echo "events of $QD_INF:"
	qd_events host=$QD_INF | cut -c1-240
fi
qd_fig "bridge family: probes that reached the outside before the block" "$c_block"
qd_done
