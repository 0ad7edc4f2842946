#!/bin/bash
# e2e: a forger that takes the victim's address AND its MAC.  The daemon
# cannot tell their frames apart, but the bridge can tell their ports
# apart: an alert, and the victim is blocked no harder than the
# unverified level (identity.unverified_max, "contain" by default).
#
#   mac-clone.sh QUARANTINED QUARANTINECTL WORM
#
# The benign host ben (10.66.1.20) keeps talking (a connection to the web
# server every 0.2 s).  The namespace inf becomes its clone: its eth0 takes
# ben's MAC and ben's address, and its first frames move ben's MAC to
# inf's bridge port in br0's forwarding database; ben's next frame moves
# it back.  The daemon follows the FDB over rtnetlink (neighmon): a MAC
# behind two ports in turn is two machines with one MAC, CONTESTED, with
# a binding event what=port-flap naming the MAC.  Then the clone runs an
# SMB sweep (worm.c, 50 probes/s to tcp/445 of 10.66.128.0/18).  Its
# probes are charged to ben's MAC (nothing in a frame says which of the
# two sent it), but as contested: smb-propagation (high, isolate) is
# capped at contain, so ben's MAC is contained on tcp/445 and 139 (conm)
# and never isolated (isom), and ben's web traffic keeps working.
#
# What the daemon can and cannot see: it sees the flap only because the
# gateway is the bridge (its FDB is the one that moves).  A routed gateway
# behind a switch sees one MAC on one port whichever machine sent a frame;
# only the switch would see the flap, and the daemon would charge both
# machines' traffic to the one MAC, fully trusted.  Even here the flap
# needs a frame from the victim after the clone's first one: a clone
# that sweeps from its very first frame, before the victim speaks again,
# can be flagged (and the MAC isolated) within tens of milliseconds, before
# there is anything to tell the two apart.  So this test waits for the
# port-flap alert before starting the sweep; with ben talking every 0.2 s
# that alert comes within a fraction of a second of the clone's first
# frame (a figure below).
#
# Part 2 does the same to a second victim (10.66.1.50) with an ARP sweep,
# a threat without ports: capped at contain, which for ARP blocks nothing,
# it must not isolate the victim's MAC either.  It does today: the action
# layer turns a containment without known ports into isolation
# (enforce_effective_level() in src/enforce.c, called from act_apply()
# with the critical flag only), after policy_decide() has capped the
# unverified detection at contain, so the cap does not hold.  Needs root;
# exit 77 (skipped) otherwise.  See lib.sh for the topology and the
# network safety rules.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"
VIC=10.66.1.50

qd_say "topology and quarantined (inet table, -i br0; br0 is a bridge: its FDB is watched)"
qd_topology || exit 1
qd_daemon_start || exit 1
benmac=$(qd_mac ben)
infmac=$(qd_mac inf)
echo "ben $QD_BEN at $benmac; the clone-to-be (inf) at $infmac"

qd_say "ben talks: a connection to $QD_WEB:80 every 0.2 s"
qd_bg_out ben "$QD_TMP/ben-loop.json" $QD_PY loop --interval 0.2 --timeout 1 $QD_WEB:80
benloop=$QD_LAST
# Long enough for the gateway to deliver replies to ben: its binding is
# established (the delivery confirms it).
qd_wait 5 "ben's binding is established" \
	sh -c "ip netns exec ${QD_NS}gw ip -4 neigh show $QD_BEN | grep -q $benmac" || exit 1
sleep 1

qd_say "inf takes ben's MAC $benmac and address $QD_BEN"
qd_mark
qd_in inf ip link set eth0 down
qd_in inf ip link set eth0 address "$benmac" || exit 1
qd_in inf ip addr flush dev eth0
qd_in inf ip addr add $QD_BEN/24 dev eth0 || exit 1
qd_in inf ip link set eth0 up
qd_in inf ip route add default via 10.66.1.1
t_clone=$(date +%s%N)
# The clone's first frames (ARP for the gateway, a connection): the FDB
# moves ben's MAC to inf's port, and ben's next connection moves it back.
qd_connect inf $QD_WEB 80 || true
flap=$(qd_wait_event 10 event=binding what=port-flap mac="$benmac") || exit 1
t_flap=$(date +%s%N)
echo "port-flap: $flap"
qd_check "a binding event what=port-flap names ben's MAC, learned from the FDB" \
	test "$(echo "$flap" | qd_json '"%s %s" % (d["mac"], d["how"])')" = "$benmac fdb"

qd_say "the clone sweeps tcp/445 of $QD_NET_WORM at 50 probes/s for 4 s"
qd_worm inf "$QD_TMP/worm.json" -n $QD_NET_WORM -p 445 -r 50 -d 4
worm=$QD_LAST
det=$(qd_wait_event 10 event=detect mac="$benmac" rule=smb-propagation) || exit 1
echo "detect: $det"
act=$(qd_wait_event 5 event=action mac="$benmac") || exit 1
echo "first action: $act"
wait "$worm"
cat "$QD_TMP/worm.json"
sleep 1 # the last probes' outcomes (and any late detection) reach the daemon

qd_check "smb-propagation (high) was decided contain, not isolate, and enforced" \
	test "$(echo "$det" | qd_json '"%s %s %s" % (d["severity"], d["action"], d["enforced"])')" = \
	"high contain True"
qd_check "no detection of ben's MAC asked for isolate" \
	test -z "$(qd_events mac="$benmac" event=detect action=isolate)"
qd_check "no action isolated ben's MAC" \
	test -z "$(qd_events mac="$benmac" event=action level=isolate)"
qd_check "isom does not hold ben's MAC (not isolated by MAC)" qd_not qd_in_set isom "$benmac"
qd_check "iso4 does not hold $QD_BEN" qd_not qd_in_set iso4 $QD_BEN
qd_check "conm holds $benmac . tcp . 445 (contained, the unverified level)" \
	qd_in_set conm "$benmac . tcp . 445"
show=$(qctl --json show $QD_BEN)
echo "show: $(echo "$show" | qd_json '[d.get("state"), d.get("level"), d.get("machine"), d.get("mac_blocked"), d.get("contained_ports"), d.get("bindings")]')"
qd_check "show: level contain, state contained" \
	test "$(echo "$show" | qd_json '"%s %s" % (d["level"], d["state"])')" = "contain contained"
qd_check "show: the machine is contested, its MAC not blocked" \
	test "$(echo "$show" | qd_json '"%s %s" % ("contested" in d["machine"].split(","), d["mac_blocked"])')" = \
	"True False"
qd_check "show: $QD_BEN is not blocked as an address" \
	test "$(echo "$show" | qd_json "next((b['blocked'] for b in d['bindings'] if b['address'] == '$QD_BEN'), 'none')")" = false
qd_check "ben (or its clone: one MAC, one address) still reaches $QD_WEB:80" \
	qd_wait 5 "a connection from $QD_BEN to $QD_WEB:80" qd_connect ben $QD_WEB 80
qctl show $QD_BEN | sed 's/^/  /'

qd_stop "$benloop"
cat "$QD_TMP/ben-loop.json"
qd_fig "clone's first frame -> port-flap alert seen" "$(((t_flap - t_clone) / 1000000)) ms"
qd_fig "ben's connections while cloned (ok/attempts)" \
	"$(qd_json '"%d/%d" % (d["ok"], d["attempts"])' <"$QD_TMP/ben-loop.json")"

# 2. The same cap for a threat without ports.  A second victim vic
# (10.66.1.50, a record with no contained ports yet); inf clones it and
# sweeps the LAN by ARP (flood --mode arp-request, 30/s to nobody in
# 10.66.1.128/25): arp-sweep (medium: contain) is charged to vic's MAC,
# contested, so it must stay at most at contain, which for ARP puts
# nothing in force.  It must not isolate vic's MAC.
FLOOD=${QD_FLOOD:-$(dirname "$QD_WORM")/flood}
if [ -x "$FLOOD" ]; then
	qd_say "2. a second victim vic $VIC; inf clones it and sweeps the LAN by ARP"
	_qd_host vic $VIC/24 br0 || exit 1
	vicmac=$(qd_mac vic)
	qd_bg_out vic "$QD_TMP/vic-loop.json" $QD_PY loop --interval 0.2 --timeout 1 $QD_WEB:80
	vicloop=$QD_LAST
	qd_wait 5 "vic is known to the gateway" \
		sh -c "ip netns exec ${QD_NS}gw ip -4 neigh show $VIC | grep -q $vicmac" || exit 1
	sleep 1
	qd_mark
	qd_in inf ip link set eth0 down
	qd_in inf ip link set eth0 address "$vicmac" || exit 1
	qd_in inf ip addr flush dev eth0
	qd_in inf ip addr add $VIC/24 dev eth0 || exit 1
	qd_in inf ip link set eth0 up
	qd_in inf ip route add default via 10.66.1.1
	qd_connect inf $QD_WEB 80 || true
	flap=$(qd_wait_event 10 event=binding what=port-flap mac="$vicmac") || exit 1
	echo "port-flap: $flap"
	qd_in inf "$FLOOD" -i eth0 --mode arp-request --dst-mac ff:ff:ff:ff:ff:ff --src $VIC \
		--dst 10.66.1.128/25 --per-src 90 --rate 30 --count 90 --quiet
	det=$(qd_wait_event 10 event=detect mac="$vicmac" rule=arp-sweep) || exit 1
	echo "detect: $det"
	sleep 0.5
	qd_events event=action mac="$vicmac"
	qd_check "arp-sweep was decided contain (the cap)" test "$(echo "$det" | qd_field action)" = contain
	# Fails today: see the note at the top.
	qd_check "no action isolated vic's MAC" test -z "$(qd_events event=action mac="$vicmac" level=isolate)"
	qd_check "isom does not hold vic's MAC $vicmac" qd_not qd_in_set isom "$vicmac"
	qd_check "iso4 does not hold $VIC" qd_not qd_in_set iso4 $VIC
	qctl show $VIC | sed 's/^/  /'
	qd_stop "$vicloop"
else
	echo "no flood sender at $FLOOD (set QD_FLOOD): part 2 skipped"
fi
qd_done
