#!/bin/bash
# e2e: ARP spoofing of a binding: an alert, and no block moves with the
# spoofed address, neither from the victim nor to it.
#
#   arp-spoof.sh QUARANTINED QUARANTINECTL WORM
#
# The benign host ben (10.66.1.20) talks (a connection every 0.2 s), so
# its binding is established (the gateway delivers its replies to ben's
# MAC).  The attacker is inf (10.66.1.10): it sends ARP replies to the
# gateway's br0 that say "10.66.1.20 is at <inf's MAC>" (flood --mode
# arp-reply, 20 frames at 20/s).
#
# 1. ben is isolated by an operator first.  The spoofing raises a binding
#    event what=spoof (mac: the attacker's MAC, host: ben's address,
#    other_mac: ben's MAC); ben's binding and ben's block stay (iso4 holds
#    10.66.1.20, isom ben's MAC).  The forged claim is the attacker's own
#    source forgery (identity.h: a claim of an address bound to a trusted,
#    active or blocked owner is FORGED, charged to its sender, counted by
#    the source-forgery rule, high): the attacker is blocked on its own
#    account, by its own MAC.  The rule's decision is capped at contain
#    (the detection names an address bound to another machine, which
#    engine.c takes for unverified), and a containment without ports
#    (ARP has none) means isolation: its MAC goes into isom.  What the
#    test asserts: the attacker's block is its own (its MAC, its address
#    10.66.1.10), never ben's address.
# 2. ben is released (it is unblocked and reaches the web server), the
#    attacker stays blocked by the operator, and spoofs ben's address
#    again: forged packets are counted, no binding moves, and ben stays
#    unblocked (the attacker's block does not take ben's address).
#
# The gateway's kernel believes a unicast ARP reply (its neighbour entry
# for 10.66.1.20 then points at the attacker): the daemon alerts on that,
# it does not repair the cache, so the test deletes the entry before it
# checks ben's connectivity.  Needs root; exit 77 (skipped) otherwise.
# See lib.sh for the topology and the network safety rules; flood refuses
# the initial namespace and any address outside 10.66.0.0/16.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"
FLOOD=${QD_FLOOD:-$(dirname "$QD_WORM")/flood}
if [ ! -x "$FLOOD" ]; then
	echo "SKIP: no flood sender at $FLOOD (set QD_FLOOD)"
	exit 77
fi

qd_say "topology and quarantined (inet table, -i br0)"
qd_topology || exit 1
qd_daemon_start || exit 1
benmac=$(qd_mac ben)
infmac=$(qd_mac inf)
gwmac=$(qd_in gw cat /sys/class/net/br0/address)
echo "victim ben $QD_BEN at $benmac; attacker inf $QD_INF at $infmac; gateway br0 at $gwmac"

# spoof N: N ARP replies "ben's address is at inf's MAC" from inf to the
# gateway, 20 a second, in the foreground.
spoof() {
	qd_in inf "$FLOOD" -i eth0 --mode arp-reply --src-mac own --dst-mac "$gwmac" \
		--src $QD_BEN --dst 10.66.1.1 --rate 20 --count "$1" --quiet
}

# binding ADDR: "trust mac" of ADDR's binding in show --json ADDR.
binding() {
	qd_show_json "$1" "next(('%s %s' % (b['trust'], b.get('mac', '-')) for b in d['bindings'] if b['address'] == '$1'), 'none')"
}

# holds HOST ADDR: the addresses of HOST's record (show --json) include ADDR.
holds() {
	qd_show_json "$1" "'$2' in d.get('addresses', [])" | grep -qx true
}

# events_since KEY=VALUE...: the matching events after the last qd_mark.
events_since() {
	tail -n +$((QD_MARK + 1)) "$QD_EVENTS" >"$QD_TMP/since.json"
	$QD_PY events "$QD_TMP/since.json" "$@"
}

status_id() {
	qctl --json status | qd_json "d['identity']['$1']"
}

qd_say "ben and inf talk: ben's binding is established by the gateway's deliveries"
qd_bg_out ben "$QD_TMP/ben-loop.json" $QD_PY loop --interval 0.2 --timeout 1 $QD_WEB:80
benloop=$QD_LAST
qd_check "inf reaches $QD_WEB:80" qd_connect inf $QD_WEB 80
qd_wait 5 "ben is known to the gateway at $benmac" \
	sh -c "ip netns exec ${QD_NS}gw ip -4 neigh show $QD_BEN | grep -q $benmac" || exit 1
sleep 0.5

qd_say "1. an operator isolates ben; inf claims ben's address by ARP"
qd_check "quarantine $QD_BEN succeeds" qctl quarantine $QD_BEN
qd_check "iso4 holds $QD_BEN" qd_in_set iso4 $QD_BEN
qd_check "isom holds ben's MAC $benmac" qd_in_set isom "$benmac"
qd_check "$QD_BEN is bound to ben, established" test "$(binding $QD_BEN)" = "established $benmac"
qd_mark
forged0=$(status_id forged_packets)
t_spoof=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)
spoof 20
sp=$(qd_wait_event 5 event=binding what=spoof mac="$infmac" host=$QD_BEN)
echo "spoof: $sp"
qd_check "a binding event what=spoof names the attacker's MAC and $QD_BEN" test -n "$sp"
qd_check "... and ben's MAC as the binding's owner (other_mac), learned from ARP" \
	test "$(echo "$sp" | qd_json '"%s %s" % (d.get("other_mac"), d.get("how"))')" = "$benmac arp"
det=$(qd_wait_event 5 event=detect mac="$infmac" rule=source-forgery)
act=$(qd_wait_event 5 event=action mac="$infmac")
echo "detect: $det"
echo "action: $act"
sleep 1 # anything the spoofing set off (neighbour updates) reaches the daemon
echo "gateway's neighbour entry: $(qd_in gw ip -4 neigh show $QD_BEN)"
qd_check "the forged ARP counted as forged packets ($forged0, then $(status_id forged_packets))" \
	test "$(status_id forged_packets)" -gt "$forged0"
qd_check "$QD_BEN is still ben's, established" test "$(binding $QD_BEN)" = "established $benmac"
qd_check "ben's block stays: iso4 holds $QD_BEN" qd_in_set iso4 $QD_BEN
qd_check "ben's block stays: isom holds $benmac" qd_in_set isom "$benmac"
qd_check "ben is still isolated" test "$(qd_host_state $QD_BEN)" = isolated
qd_check "source-forgery flagged the attacker's MAC (its own forgery)" test -n "$det"
qd_check "the attacker is blocked by its own MAC (isom holds $infmac)" qd_in_set isom "$infmac"
qd_check "the attacker's record holds its own address $QD_INF" holds "$infmac" $QD_INF
qd_check "the attacker's record does not hold ben's address $QD_BEN" qd_not holds "$infmac" $QD_BEN
qd_check "ben's record does not hold the attacker's address" qd_not holds $QD_BEN $QD_INF

qd_say "2. ben released; the attacker blocked by an operator spoofs ben's address again"
qd_check "release $QD_BEN succeeds" qctl release $QD_BEN
qd_check "quarantine $infmac (the attacker, by its MAC) succeeds" qctl quarantine "$infmac"
qd_check "isom holds the attacker's MAC" qd_in_set isom "$infmac"
qd_check "ben is unblocked: iso4 does not hold $QD_BEN" qd_not qd_in_set iso4 $QD_BEN
qd_in gw ip neigh del $QD_BEN dev br0 2>/dev/null
qd_check "ben reaches $QD_WEB:80 again" qd_wait 5 "ben reaches $QD_WEB:80" qd_connect ben $QD_WEB 80
qd_mark
forged0=$(status_id forged_packets)
moves0=$(status_id moves)
spoof 20
sleep 1.5
echo "gateway's neighbour entry: $(qd_in gw ip -4 neigh show $QD_BEN)"
forged1=$(status_id forged_packets)
qd_check "the spoofing counted as forged packets ($forged0, then $forged1)" test "$forged1" -gt "$forged0"
qd_check "no binding moved (moves $moves0, then $(status_id moves))" test "$(status_id moves)" = "$moves0"
qd_check "$QD_BEN is still ben's, established" test "$(binding $QD_BEN)" = "established $benmac"
qd_check "iso4 does not hold $QD_BEN (no transfer of the attacker's block)" qd_not qd_in_set iso4 $QD_BEN
qd_check "isom does not hold ben's MAC" qd_not qd_in_set isom "$benmac"
qd_check "no action on ben's MAC since" test -z "$(events_since event=action mac="$benmac")"
qd_check "no action on $QD_BEN since" test -z "$(events_since event=action host=$QD_BEN)"
qd_check "the attacker's record does not hold $QD_BEN" qd_not holds "$infmac" $QD_BEN
state=$(qd_host_state $QD_BEN)
qd_check "ben is not blocked (state $state)" test "$state" != contained -a "$state" != isolated
qd_in gw ip neigh del $QD_BEN dev br0 2>/dev/null
qd_check "ben reaches $QD_WEB:80" qd_wait 5 "ben reaches $QD_WEB:80" qd_connect ben $QD_WEB 80
qd_check "the attacker cannot ($QD_INF isolated)" qd_not qd_connect inf $QD_WEB 80

qd_stop "$benloop"
qd_fig "flood start -> spoof alert (event ts)" "$(qd_tsdiff "$t_spoof" "$(echo "$sp" | qd_field ts)") ms"
qd_fig "flood start -> the attacker's block (event ts)" "$(qd_tsdiff "$t_spoof" "$(echo "$act" | qd_field ts)") ms"
qd_done
