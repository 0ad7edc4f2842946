#!/bin/bash
# e2e: outbreak mode (quarantinectl outbreak) on a bridged LAN, table
# bridge quarantined: two departments on one segment, br0.
#
#   outbreak.sh QUARANTINED QUARANTINECTL WORM
#
# Inventory: finance is 10.66.1.0/24, engineering the named hosts
# 10.66.1.20 (ben) and 10.66.1.21 (eng2) inside it (nested /32s: the
# groups are flattened longest prefix first); 10.66.1.53 (dns) is in
# finance and declared essential (outbreak.essential); 10.66.1.30 (nb) is
# on the never-block list, 10.66.1.40 (adm) an admin station.  The hosts
# serve tcp/445 (SMB), tcp/53 and 8080.
#
# IPv6: inf, ben and eng2 also have addresses on fd66:1::/64, a prefix no
# inventory entry names: by address they are all "unassigned"; their
# machines' groups by MAC (their trusted IPv4 bindings lend theirs) keep
# finance from engineering there too.
#
# 1. Before: cross-department SMB works.
# 2. outbreak on (--by department): finance <-> engineering SMB blocked
#    both ways, bridged inside br0; engineering <-> engineering SMB works;
#    DNS (tcp/53, an essential service) across departments works; the
#    essential server, the never-block host and the admin station reach
#    and are reached across departments; the outside is not segmented.
#    status, the event and every event say it is on, since when, by whom.
# 3. A restart keeps it: the kernel's chain stays in force while the
#    daemon is down (SMB still blocked), and status says on after it.
# 4. A worm at a rate the normal smb-propagation rule (10 destinations a
#    minute) never flags (checked before outbreak mode, from another host) is flagged at the outbreak threshold (x 0.5); a
#    rule whose severity is low (watch) contains in outbreak mode.
# 5. outbreak off: every blocked path works again, status says off.
# login-guessing is off: the checks' own repeated short connections to
# one server would trip it at half its threshold, contained (it is low).
# br_netfilter, where the kernel has it, is off in the gateway namespace.
# Needs root; exit 77 (skipped) otherwise.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"
QD_FAMILY=bridge
ENG2=10.66.1.21
DNS=10.66.1.53

qd_say "topology: br0 with finance and engineering hosts; table bridge quarantined"
qd_topology || exit 1
qd_host_add eng2 $ENG2/24 || exit 1
qd_host_add dns $DNS/24 || exit 1
# IPv6 on one /64 that no inventory entry names (fd66:1::/64, protected):
# by address inf, ben and eng2 are all "unassigned" there.
for h in "inf fd66:1::10" "ben fd66:1::20" "eng2 fd66:1::21"; do
	set -- $h
	qd_ipv6_on "$1" eth0 || exit 1
	qd_in "$1" ip addr add "$2/64" dev eth0 nodad || exit 1
done
for h in inf ben eng2 dns nb; do
	v6=""
	case $h in inf) v6="[fd66:1::10]:445" ;; ben) v6="[fd66:1::20]:445" ;; eng2) v6="[fd66:1::21]:445" ;; esac
	qd_bg "$h" $QD_PY serve --ready "$QD_TMP/$h.smb" 0.0.0.0:445 0.0.0.0:53 $v6
done
for h in eng2 dns; do
	qd_bg "$h" $QD_PY serve --ready "$QD_TMP/$h.web" 0.0.0.0:8080
done
qd_wait 10 "services listening" sh -c "ls $QD_TMP/*.smb $QD_TMP/eng2.web $QD_TMP/dns.web | wc -l | grep -qx 7" ||
	exit 1
if qd_in gw test -e /proc/sys/net/bridge/bridge-nf-call-iptables; then
	qd_sysctl gw net/bridge/bridge-nf-call-iptables 0
fi
qd_config 'enforce: { family = "bridge"; };' \
	'inventory = (
	  { net = "10.66.1.0/24"; department = "finance"; floor = 3; },
	  { net = "10.66.1.20/32"; name = "ben"; department = "engineering"; },
	  { net = "10.66.1.21/32"; name = "eng2"; department = "engineering"; }
	);' \
	"outbreak: { essential = [ \"$DNS\" ]; by = \"department\"; };" \
	'rules = ( { name = "web-sweep"; proto = "tcp"; ports = [ 8081 ]; distinct_dst = 12;
	             window = 60; severity = "low"; },
	           { name = "login-guessing"; enabled = false; } );' \
	'scan: { enabled = false; };' \
	'identity: { trust_after = 0; };'
qd_config_net 'protected = [ "10.66.1.0/24", "10.66.2.0/24", "fd66:1::/64" ];'
qd_daemon_start -i v-inf -i v-ben -i v-nb -i v-adm -i v-eng2 -i v-dns || exit 1

# cross_blocked / paths_open: the paths outbreak mode cuts, and those it
# keeps.
cross_blocked() {
	qd_not qd_connect inf $QD_BEN 445 && qd_not qd_connect ben $QD_INF 445 &&
		qd_not qd_connect eng2 $QD_INF 445
}
cross_open() {
	qd_connect inf $QD_BEN 445 && qd_connect ben $QD_INF 445 && qd_connect eng2 $QD_INF 445
}

qd_say "1. before: cross-department SMB works"
qd_check "finance $QD_INF reaches engineering $QD_BEN:445, and back, and from $ENG2" cross_open
qd_wait 5 "IPv6: $QD_INF reaches [fd66:1::20]:445" qd_connect inf fd66:1::20 445
qd_check "IPv6 on the shared /64: finance -> engineering SMB works" qd_connect inf fd66:1::20 445
qd_check "IPv6 on the shared /64: engineering -> engineering SMB works" qd_connect ben fd66:1::21 445
# The machines' IPv4 bindings are trusted (trust_after = 0) once seen:
# they lend their groups to the machines' MACs at the switch.
qd_wait 5 "$QD_INF's and $QD_BEN's bindings trusted" sh -c \
	"'$QD_CTL' -S '$QD_SOCK' --json show $QD_INF | grep -q established &&
	 '$QD_CTL' -S '$QD_SOCK' --json show $QD_BEN | grep -q established &&
	 '$QD_CTL' -S '$QD_SOCK' --json show $ENG2 | grep -q established"
qd_check "status says outbreak off" test "$(qd_status '"%s" % d["outbreak"]["on"]')" = False

qd_say "1b. a slow SMB worm from $ENG2 (6 destinations in 2 s): under the normal threshold (10)"
qd_mark
qd_worm eng2 "$QD_TMP/worm0.json" -n $QD_NET_WORM -p 445 -r 3 -d 2
wait "$QD_LAST"
cat "$QD_TMP/worm0.json"
sleep 1
qd_check "no detection of $ENG2 (smb-propagation needs 10 destinations)" \
	test -z "$(qd_events event=detect host=$ENG2)"

qd_say "2. outbreak on --reason"
qd_mark
out=$(qctl --json outbreak on --reason "virus alert 4711")
echo "$out"
qd_check "the answer says on, grouped by department, 3 groups" \
	test "$(echo "$out" | qd_json '"%s %s %s" % (d["outbreak"], d["grouping"], d["groups"])')" = \
	"True department 3"
ev=$(qd_wait_event 5 event=outbreak state=on) || exit 1
echo "event: $ev"
qd_check "the switch is an event with the operator (uid 0) and the reason" \
	test "$(echo "$ev" | qd_json '"%s %s %s" % (d["by"], d["by_name"], d["reason"])')" = \
	"0 root virus alert 4711"
qd_check "the kernel's outbreak chain holds the group rules" \
	sh -c "ip netns exec ${QD_NS}gw nft list chain bridge quarantined outbreak | grep -q '@obg4'"
qd_check "SMB finance <-> engineering is blocked both ways (bridged)" cross_blocked
qd_check "SMB engineering -> engineering ($QD_BEN -> $ENG2:445) works" qd_connect ben $ENG2 445
qd_check "IPv6 on the shared /64: finance -> engineering SMB blocked (the machines' groups, by MAC)" \
	qd_not qd_connect inf fd66:1::20 445
qd_check "IPv6 on the shared /64: engineering -> engineering SMB works" qd_connect ben fd66:1::21 445
qd_check "obgm holds $QD_BEN's MAC" \
	sh -c "ip netns exec ${QD_NS}gw nft list set bridge quarantined obgm | grep -qF '$(qd_mac ben)'"
qd_check "the ob_mac chain compares the machines' groups bit by bit (obbm_0)" \
	sh -c "ip netns exec ${QD_NS}gw nft list chain bridge quarantined ob_mac | grep -q 'ether saddr @obbm_0 ether daddr != @obbm_0'"
# What `nft list ruleset` saves must restore (nftables.service at boot):
# the table as nft prints it, read back by nft -f in a scratch namespace.
qd_check "the table with outbreak mode on reads back with nft -f" \
	sh -c "ip netns exec ${QD_NS}gw nft list table bridge quarantined > '$QD_TMP/ob-table.nft' &&
		unshare -n nft -f '$QD_TMP/ob-table.nft'"
qd_check "SMB finance -> finance ($QD_INF -> $DNS:445) works" qd_connect inf $DNS 445
qd_check "DNS (tcp/53, essential service) engineering -> finance works" qd_connect ben $QD_INF 53
qd_check "the essential server $DNS:8080 is reached from engineering" qd_connect ben $DNS 8080
qd_check "the never-block host $QD_NB:445 is reached from engineering" qd_connect ben $QD_NB 445
qd_check "the admin station reaches engineering ($QD_ADM -> $QD_BEN:445)" qd_connect adm $QD_BEN 445
qd_check "the outside is not segmented ($QD_BEN -> $QD_WEB:80)" qd_connect ben $QD_WEB 80
qd_check "status says on, by department, since, by root" \
	test "$(qd_status '"%s %s %s %s" % (d["outbreak"]["on"], d["outbreak"]["grouping"], d["outbreak"]["by_name"], bool(d["outbreak"]["since"]))')" = \
	"True department root True"
qd_check "outbreak status says on" sh -c "'$QD_CTL' -S '$QD_SOCK' outbreak status | grep -q 'ON since'"
qd_check "the state database holds the switch" \
	test "$(qd_sql 'SELECT grouping || "|" || name || "|" || reason FROM outbreak')" = \
	"department|root|virus alert 4711"

qd_say "3. restart with outbreak mode on"
qd_daemon_stop
qd_check "daemon down: the segmentation stays in the kernel (SMB still blocked)" cross_blocked
qd_daemon_start -i v-inf -i v-ben -i v-nb -i v-adm -i v-eng2 -i v-dns || exit 1
qd_check "after the restart status says on, since as before" \
	test "$(qd_status '"%s" % d["outbreak"]["on"]')" = True
qd_check "after the restart: SMB finance <-> engineering still blocked" cross_blocked
qd_check "after the restart: engineering -> engineering still works" qd_connect ben $ENG2 445
qd_check "after the restart: IPv6 finance -> engineering still blocked (the bindings were saved)" \
	qd_not qd_connect inf fd66:1::20 445
n=$(ip netns exec "${QD_NS}gw" nft list chain bridge quarantined outbreak | grep -c 'drop')
qd_check "the restart did not duplicate the chain's rules ($n drop rules: 2 per bit of 3 groups' ids)" \
	test "$n" = 8

qd_say "4. the same slow SMB worm from $QD_INF, and a web sweep (8 destinations, severity low, threshold 12) from $QD_BEN"
qd_mark
qd_worm inf "$QD_TMP/worm1.json" -n $QD_NET_WORM -p 445 -r 3 -d 2
w1=$QD_LAST
qd_worm ben "$QD_TMP/worm2.json" -n $QD_NET_WORM -p 8081 -r 4 -d 2
w2=$QD_LAST
det=$(qd_wait_event 10 event=detect host=$QD_INF rule=smb-propagation) || det=""
web=$(qd_wait_event 10 event=detect host=$QD_BEN rule=web-sweep) || web=""
wait "$w1" "$w2"
echo "detect: $det"
echo "detect: $web"
qd_check "smb-propagation flagged $QD_INF at the outbreak threshold (5 <= distinct_dst < 10), isolate" \
	test "$(echo "$det" | qd_json '"%s %s %s" % (5 <= d["evidence"]["distinct_dst"] < 10, d["action"], d["enforced"])')" = \
	"True isolate True"
qd_check "the detect event says outbreak mode is on, since, by root" \
	test "$(echo "$det" | qd_json '"%s %s %s" % (d["outbreak"]["on"], d["outbreak"]["by_name"], bool(d["outbreak"]["since"]))')" = \
	"True root True"
qd_check "web-sweep (severity low, watch) contains in outbreak mode, enforced" \
	test "$(echo "$web" | qd_json '"%s %s %s" % (d["severity"], d["action"], d["enforced"])')" = \
	"low contain True"
qd_check "conm holds $QD_BEN's MAC . tcp . 8081" qd_in_set conm "$(qd_mac ben) . tcp . 8081"
qd_check "release --all succeeds" qctl release --all

qd_say "5. outbreak off"
qd_mark
qd_check "outbreak off succeeds" qctl outbreak off --reason "all clear"
qd_check "an event says off" qd_wait_event 5 event=outbreak state=off
qd_check "SMB finance <-> engineering works again" cross_open
qd_check "status says off" test "$(qd_status '"%s" % d["outbreak"]["on"]')" = False
qd_check "the outbreak chain is empty" \
	test -z "$(ip netns exec "${QD_NS}gw" nft list chain bridge quarantined outbreak | grep -E 'drop|return')"
qd_check "the state database holds no switch" test -z "$(qd_sql 'SELECT * FROM outbreak')"
qd_done
