#!/bin/bash
# e2e: outbreak mode on a routed gateway (table inet quarantined): two
# departments on two subnets the gateway routes between, IPv4 and IPv6.
#
#   outbreak-routed.sh QUARANTINED QUARANTINECTL WORM
#
# finance is br0, 10.66.1.0/24 and fd66:1::/64 (inf .10, ben .20, the
# never-block host nb .30, the admin station adm .40); engineering is
# lan2, 10.66.2.0/24 and fd66:2::/64 (l2o .20, the admin station l2a .40,
# and dns2 .53, declared essential).  Both on floor 3.  The hosts serve
# tcp/445, tcp/53 and 8080.
#
# 1. Before: routed SMB between the departments works (IPv4 and IPv6).
# 2. outbreak on (the configuration's grouping, department): routed SMB
#    finance <-> engineering blocked both ways, IPv4 and IPv6; DNS
#    (tcp/53) across works; the essential server, the never-block host
#    and the admin station of the other subnet get through; finance
#    inside br0 and the outside are untouched; a host allowed at run time
#    is essential at once, and no longer once disallowed; the chain or
#    the group map flushed from outside is repaired.
# 3. Reload with an inventory that moves l2o (a /32) to finance: one
#    transaction regroups; finance -> l2o SMB works, finance -> dns2's
#    SMB (engineering, essential) still does, and a new engineering host
#    is still cut off.
# 4. outbreak on --by floor: one floor, one group: routed SMB works;
#    --by subnet: the two /24s are groups again: blocked.  Then kill -9:
#    the kernel keeps the segmentation while the daemon is gone, and the
#    next start has it on, by subnet, as it was.
# 5. outbreak off: all back.
# The thresholds stay as they are (outbreak.factor = 1): the checks' own
# connections from one host to five SMB servers would otherwise flag it
# (e2e-outbreak tests the tighter thresholds).
# Needs root; exit 77 (skipped) otherwise.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"
L2O=$QD_L2OTHER
DNS2=10.66.2.53
ENG3=10.66.2.30

qd_say "topology (with lan2), IPv6 on br0 and lan2, services on 445, 53, 8080"
qd_topology --lan2 || exit 1
_qd_host dns2 $DNS2/24 lan2 || exit 1
_qd_host eng3 $ENG3/24 lan2 || exit 1
qd_ipv6_on gw br0 lan2 all || exit 1
qd_sysctl gw net/ipv6/conf/all/forwarding 1
qd_in gw ip addr add fd66:1::1/64 dev br0 nodad || exit 1
qd_in gw ip addr add fd66:2::1/64 dev lan2 nodad || exit 1
# name, address, its subnet's gateway
for h in "inf fd66:1::10 fd66:1::1" "l2o fd66:2::20 fd66:2::1"; do
	set -- $h
	qd_ipv6_on "$1" eth0 || exit 1
	qd_in "$1" ip addr add "$2/64" dev eth0 nodad || exit 1
	qd_in "$1" ip -6 route add default via "$3" || exit 1
done
for h in inf ben l2o dns2 eng3 nb; do
	extra=""
	case $h in inf) extra="[fd66:1::10]:445" ;; l2o) extra="[fd66:2::20]:445" ;; esac
	qd_bg "$h" $QD_PY serve --ready "$QD_TMP/$h.smb" 0.0.0.0:445 0.0.0.0:53 $extra
done
qd_bg dns2 $QD_PY serve --ready "$QD_TMP/dns2.web" 0.0.0.0:8080
qd_wait 10 "services listening" sh -c "ls $QD_TMP/*.smb $QD_TMP/dns2.web | wc -l | grep -qx 7" ||
	exit 1

inventory() {
	cat <<-EOF
		inventory = (
		  { net = "10.66.1.0/24"; department = "finance"; floor = 3; },
		  { net = "fd66:1::/64"; department = "finance"; floor = 3; },
		  { net = "10.66.2.0/24"; department = "engineering"; floor = 3; },
		  { net = "fd66:2::/64"; department = "engineering"; floor = 3; }$1
		);
	EOF
}
write_config() {
	qd_config "$(inventory "$1")" \
		"outbreak: { essential = [ \"$DNS2\" ]; factor = 1; };" \
		'rules = ( { name = "login-guessing"; enabled = false; } );'
	qd_config_net 'protected = [ "10.66.1.0/24", "10.66.2.0/24", "fd66:1::/64", "fd66:2::/64" ];'
}
write_config ""
qd_daemon_start || exit 1

cross_blocked() {
	qd_not qd_connect inf $L2O 445 && qd_not qd_connect l2o $QD_INF 445 &&
		qd_not qd_connect inf fd66:2::20 445 && qd_not qd_connect l2o fd66:1::10 445
}
cross_open() {
	qd_connect inf $L2O 445 && qd_connect l2o $QD_INF 445 &&
		qd_connect inf fd66:2::20 445 && qd_connect l2o fd66:1::10 445
}

qd_say "1. before"
qd_wait 5 "routed SMB works between the departments, IPv4 and IPv6" cross_open
qd_check "routed SMB works between the departments, IPv4 and IPv6" cross_open

qd_say "2. outbreak on"
qd_mark
qd_check "outbreak on succeeds" qctl outbreak on --reason "worm on campus"
qd_check "an event says on, by department" qd_wait_event 5 event=outbreak state=on grouping=department
qd_check "routed SMB finance <-> engineering blocked both ways, IPv4 and IPv6" cross_blocked
qd_check "DNS (tcp/53) engineering -> finance works" qd_connect l2o $QD_INF 53
# The DNS answer above passed by its source port in the reply direction
# of its flow (conntrack); a packet merely sent from port 53 does not.
qd_check "SMB engineering -> finance from source port 53 is blocked" \
	qd_not qd_in l2o $QD_PY connect $QD_INF 445 --sport 53 --timeout 1
qd_check "finance -> essential $DNS2:445" qd_connect inf $DNS2 445
qd_check "finance -> essential $DNS2:8080" qd_connect ben $DNS2 8080
qd_check "engineering -> never-block $QD_NB:445" qd_connect l2o $QD_NB 445
qd_check "admin $QD_L2ADM (engineering's subnet) -> finance $QD_INF:445" qd_connect l2a $QD_INF 445
qd_check "finance inside br0 ($QD_INF -> $QD_BEN:445) untouched" qd_connect inf $QD_BEN 445
qd_check "the outside is untouched ($QD_INF -> $QD_WEB:80)" qd_connect inf $QD_WEB 80
qd_check "allow $ENG3 (never-block is essential): finance -> $ENG3:445 works" \
	sh -c "'$QD_CTL' -S '$QD_SOCK' allow $ENG3 >/dev/null && ip netns exec ${QD_NS}inf $QD_PY connect $ENG3 445"
qd_check "disallow $ENG3: finance -> $ENG3:445 blocked again" \
	sh -c "'$QD_CTL' -S '$QD_SOCK' disallow $ENG3 >/dev/null && ! ip netns exec ${QD_NS}inf $QD_PY connect $ENG3 445"
qd_check "metrics: quarantined_outbreak 1" sh -c "'$QD_CTL' -S '$QD_SOCK' metrics | grep -qx 'quarantined_outbreak 1'"
qd_mark
qd_in gw nft flush chain inet quarantined outbreak
qd_check "the outbreak chain flushed from outside: repaired, an alert says so" \
	qd_wait_event 5 event=error
qd_check "after the repair: finance <-> engineering blocked again" cross_blocked
qd_mark
qd_in gw nft flush set inet quarantined obg4
qd_check "obg4 flushed from outside: rewritten, an alert says so" \
	qd_wait_event 5 event=error
qd_check "after the repair: finance <-> engineering blocked again" cross_blocked
qd_check "obg6 holds the IPv6 /64s" \
	sh -c "ip netns exec ${QD_NS}gw nft list set inet quarantined obg6 | grep -q 'fd66:2::/64'"
qd_mark
qd_in gw nft flush set inet quarantined obb4_0
qd_check "obb4_0 flushed from outside: rewritten, an alert says so" \
	qd_wait_event 5 event=error
qd_check "after the repair: finance <-> engineering blocked again" cross_blocked
# What `nft list ruleset` saves must restore (nftables.service at boot):
# the table as nft prints it, read back by nft -f in a scratch namespace.
qd_check "the table with outbreak mode on reads back with nft -f" \
	sh -c "ip netns exec ${QD_NS}gw nft list table inet quarantined > '$QD_TMP/ob-table.nft' &&
		unshare -n nft -f '$QD_TMP/ob-table.nft'"

qd_say "3. reload: $L2O moves to finance"
write_config ",
		  { net = \"$L2O/32\"; name = \"l2o\"; department = \"finance\"; }"
qd_check "reload succeeds" qctl reload
qd_check "finance -> $L2O:445 works (now finance)" qd_connect inf $L2O 445
qd_check "$L2O -> finance $QD_INF:445 works" qd_connect l2o $QD_INF 445
qd_check "finance -> engineering $ENG3:445 still blocked" qd_not qd_connect inf $ENG3 445
qd_check "finance -> essential $DNS2:445 still works" qd_connect inf $DNS2 445
qd_check "status still says on, 3 groups (unassigned, finance, engineering)" \
	test "$(qd_status '"%s %s" % (d["outbreak"]["on"], d["outbreak"]["groups"])')" = "True 3"

qd_say "4. regroup: --by floor, then --by subnet"
qd_check "outbreak on --by floor succeeds" qctl outbreak on --by floor
qd_check "one floor: finance -> $ENG3:445 works" qd_connect inf $ENG3 445
qd_check "outbreak on --by subnet succeeds" qctl outbreak on --by subnet
qd_check "two subnets: finance -> $ENG3:445 blocked" qd_not qd_connect inf $ENG3 445
qd_check "$L2O (a /32, no subnet of its own) is in lan2's group: -> $ENG3:445 works" \
	qd_connect l2o $ENG3 445
qd_check "status says by subnet" test "$(qd_status 'd["outbreak"]["grouping"]')" = subnet

qd_say "4b. kill -9 with outbreak mode on (by subnet), then a start"
qd_daemon_stop KILL
qd_check "killed: the segmentation stays in the kernel (finance -> $ENG3:445 blocked)" \
	qd_not qd_connect inf $ENG3 445
qd_daemon_start || exit 1
qd_check "after the start status says on, by subnet" \
	test "$(qd_status '"%s %s" % (d["outbreak"]["on"], d["outbreak"]["grouping"])')" = "True subnet"
qd_check "after the start: finance -> $ENG3:445 still blocked" qd_not qd_connect inf $ENG3 445
qd_check "after the start: $L2O -> $ENG3:445 still works" qd_connect l2o $ENG3 445

qd_say "5. outbreak off"
qd_check "outbreak off succeeds" qctl outbreak off
qd_check "routed SMB works again, IPv4 and IPv6" cross_open
qd_check "finance -> $ENG3:445 works again" qd_connect inf $ENG3 445
qd_done
