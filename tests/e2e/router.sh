#!/bin/bash
# e2e: a LAN router listed in networks.routers relays many addresses: it is
# never blocked by its MAC, and a worm behind it is still handled, by its
# address.
#
#   router.sh QUARANTINED QUARANTINECTL WORM
#
# A router namespace rtr on br0 (10.66.1.254) routes a subnet of its own,
# 10.66.4.0/24 (its bridge brb, 10.66.4.1), with two hosts behind it:
# 10.66.4.10 (infected: the SMB worm, 50 probes/s to tcp/445 of
# 10.66.128.0/18) and 10.66.4.20 (benign).  The gateway routes
# 10.66.4.0/24 via 10.66.1.254, and networks.protected includes it.  Every
# frame from behind the router carries the router's MAC, so the daemon
# judges them by their source address (UNVERIFIED): the worm's detections
# name 10.66.4.10 and no MAC, and their level is capped at
# identity.unverified_max, "contain" by default (kept here): 10.66.4.10 is
# contained on tcp/445 and 139 (con4), not isolated (iso4 would hold it
# with unverified_max = "isolate").  The router's MAC is in no blocking
# set, an operator cannot block it by MAC (refused: a router), and the
# benign host behind it still reaches the web server.
#
# Two runs, each with a fresh daemon, state and table:
#   1. networks.routers = [ "10.66.1.254" ]: the router is known by its
#      address, once its MAC has spoken for it at layer 2 (its ARP for
#      the gateway, made sure of below, or the gateway's neighbour entry);
#   2. networks.routers = [ "<the router's MAC>" ]: known from its first
#      frame.
# Needs root; exit 77 (skipped) otherwise.  See lib.sh for the topology
# and the network safety rules: the router's second subnet is made of
# veth pairs created inside the router namespace, joined only to the two
# namespaces behind it.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"
RTR=10.66.1.254
B10=10.66.4.10
B20=10.66.4.20

qd_say "topology, a router $RTR on br0 with 10.66.4.0/24 behind it"
qd_topology || exit 1
_qd_host rtr $RTR/24 br0 || exit 1
qd_sysctl rtr net/ipv4/ip_forward 1
qd_in rtr ip link add brb type bridge || exit 1
qd_in rtr ip addr add 10.66.4.1/24 dev brb
qd_in rtr ip link set brb up
for b in b10 b20; do
	_qd_ns $b || exit 1
	# Made inside the router namespace: the pair never touches the root one.
	qd_in rtr ip link add v-$b type veth peer name eth0 netns "$QD_NS$b" || exit 1
	qd_in rtr ip link set v-$b master brb
	qd_in rtr ip link set v-$b up
	qd_in $b ip addr add 10.66.4.${b#b}/24 dev eth0
	qd_in $b ip link set eth0 up
	qd_in $b ip route add default via 10.66.4.1
done
qd_in gw ip route add 10.66.4.0/24 via $RTR || exit 1
qd_wait 10 "$B20 reaches $QD_WEB:80 through the router" qd_connect b20 $QD_WEB 80 || exit 1
rtrmac=$(qd_mac rtr)
echo "router $RTR at $rtrmac"
qd_count_add b10_445 ip saddr $B10 tcp dport 445 'tcp flags & (syn|ack) == syn' || exit 1

# mac_blocked MAC: MAC is in a machine blocking set.
mac_blocked() {
	qd_in_set isom "$1" || qd_in_set conm "$1" || qd_in_set conpm "$1"
}

# run LABEL ROUTERS: one run with networks.routers = ROUTERS.
run() {
	local label=$1 routers=$2 det dets act c0 c_block c_end n out rc
	qd_say "$label: networks.routers = [ $routers ]"
	qd_config
	qd_config_net "protected = [ \"10.66.1.0/24\", \"10.66.2.0/24\", \"10.66.4.0/24\" ];" \
		"routers = [ $routers ];"
	qd_daemon_start || exit 1
	qd_mark
	# The router's first frame after the start is its ARP for the gateway
	# (cache flushed): its MAC speaks for $RTR at layer 2 before it
	# forwards anything, so it is known for a router from then on.
	qd_in rtr ip neigh flush dev eth0
	qd_check "$label: $B20 reaches $QD_WEB:80 through the router" qd_connect b20 $QD_WEB 80
	sleep 0.3

	c0=$(qd_count b10_445)
	qd_worm b10 "$QD_TMP/worm-$label.json" -n $QD_NET_WORM -p 445 -r 50 -d 3
	worm=$QD_LAST
	act=$(qd_wait_event 10 event=action host=$B10 enforced=true) || exit 1
	c_block=$(qd_count b10_445)
	det=$(qd_wait_event 5 event=detect host=$B10 rule=smb-propagation) || exit 1
	echo "first action: $act"
	echo "detect: $det"
	qd_check "$label: $B20 reaches $QD_WEB:80 while $B10 is blocked" qd_connect b20 $QD_WEB 80
	wait "$worm"
	cat "$QD_TMP/worm-$label.json"
	sleep 0.5
	c_end=$(qd_count b10_445)

	dets=$(tail -n +$((QD_MARK + 1)) "$QD_EVENTS" | grep -F "\"host\":\"$B10\"" | grep -F '"event":"detect"')
	n=$(echo "$dets" | grep -c .)
	qd_check "$label: $n detect events for $B10, none with a mac (judged by address)" \
		test "$n" -gt 0 -a -z "$(echo "$dets" | grep -F '"mac":')"
	qd_check "$label: smb-propagation (high) decided contain (unverified_max), enforced" \
		test "$(echo "$det" | qd_json '"%s %s %s" % (d["severity"], d["action"], d["enforced"])')" = \
		"high contain True"
	qd_check "$label: con4 holds $B10 . tcp . 445 (blocked by address)" qd_in_set con4 "$B10 . tcp . 445"
	qd_check "$label: iso4 does not hold $B10 (contain is the cap)" qd_not qd_in_set iso4 $B10
	qd_check "$label: no probe of $B10 reached the outside after the block ($c_block then $c_end)" \
		test "$c_end" = "$c_block"
	qd_check "$label: list shows $B10 contained, with no MAC" test "$(qctl --json list | qd_json \
		"next(('%s %s' % (h['state'], h.get('mac', '-')) for h in d if h['host'] == '$B10'), 'absent')")" = \
		"contained -"
	qd_check "$label: the router's MAC is in no blocking set (isom, conm, conpm)" \
		qd_not mac_blocked "$rtrmac"
	qd_check "$label: no event names the router's MAC" \
		test -z "$(tail -n +$((QD_MARK + 1)) "$QD_EVENTS" | grep -F "\"mac\":\"$rtrmac\"")"
	qd_check "$label: $RTR is in no blocking set" qd_not qd_in_any_set $RTR
	out=$(qctl quarantine "$rtrmac" 2>&1)
	rc=$?
	echo "quarantine $rtrmac: $out"
	qd_check "$label: an operator cannot block the router by MAC (refused: a router)" \
		test $rc = 1 -a -n "$(echo "$out" | grep -F 'router')"
	qd_check "$label: isom still does not hold the router's MAC" qd_not qd_in_set isom "$rtrmac"
	qd_check "$label: $B20 reaches $QD_WEB:80" qd_connect b20 $QD_WEB 80
	qd_fig "$label: probes that reached the outside before the block" "$((c_block - c0))"

	qctl release --all >/dev/null
	qd_daemon_stop
	qd_in gw nft delete table inet quarantined
	rm -rf "${QD_STATE:?}"/*
}

run by-address "\"$RTR\""
run by-mac "\"$rtrmac\""
qd_done
