#!/bin/bash
# e2e: a forged SYN sweep that carries a victim's address, sent from the
# forger's own MAC: the victim is never blocked; the forger is blocked by
# its MAC and loses its network; the events name its MAC and its real
# address.
#
#   forged-sweep.sh QUARANTINED QUARANTINECTL WORM
#
# The forger is the infected host (10.66.1.10), the victim the benign one
# (10.66.1.20).  Both first talk to the web server through the gateway,
# so that the gateway delivers their answers and their bindings are
# established.  Then the forger sends 64 TCP SYNs to tcp/445 of 64
# addresses of 10.66.128.0/18 (all owned by the out namespace) with the
# source address 10.66.1.20 from its own MAC, at 100 frames/s (flood,
# QD_FLOOD or next to WORM).  The same again over IPv6 (fd66:1::/64 on
# br0, the forger sweeping fd66:8000::/33 as fd66:1::20), unless the
# kernel has no IPv6.  QD_FAMILY=bridge in the environment runs it all
# with enforce.family = "bridge" (the MAC sets in the bridge table, which
# filters at the forger's bridge port); inet otherwise.  Needs root; exit
# 77 (skipped) otherwise.  See lib.sh for the topology and the network
# safety rules.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"
qd_flood_init
QD_FAMILY=${QD_FAMILY:-inet}
case $QD_FAMILY in
inet | bridge) ;;
*) echo "QD_FAMILY must be inet or bridge, not $QD_FAMILY" >&2; exit 1 ;;
esac

V6_LAN=fd66:1::/64
V6_GW=fd66:1::1
V6_FORGER=fd66:1::60 # namespace f6
V6_VICTIM=fd66:1::70 # namespace v6
V6_OUT=fd66::2
V6_NET=fd66:8000::/33 # the IPv6 targets, owned by the out namespace
V6_WEB=fd66:8000::80

# v6_on NAME: IPv6 back on in namespace NAME (lib.sh turns it off), no DAD.
v6_on() {
	local k
	for k in all default; do
		qd_sysctl "$1" net/ipv6/conf/$k/disable_ipv6 0 || return 1
		qd_sysctl "$1" net/ipv6/conf/$k/accept_dad 0 || return 1
	done
}

# v6_host NAME ADDR: an IPv6-only host namespace on br0 (whose MAC is
# pinned: see qd_host_add).
v6_host() {
	qd_in gw ip link set br0 address "$(qd_gw_mac)" || return 1
	_qd_ns "$1" || return 1
	v6_on "$1" || return 1
	qd_in gw ip link add "v-$1" type veth peer name eth0 netns "$QD_NS$1" || return 1
	qd_in "$1" ip -6 addr add "$2/64" dev eth0 nodad || return 1
	qd_in "$1" ip link set eth0 up || return 1
	qd_in gw ip link set "v-$1" master br0 || return 1
	qd_in gw ip link set "v-$1" up || return 1
	qd_in "$1" ip -6 route add default via $V6_GW
}

# v6_up: fd66:1::/64 on br0 with an IPv6-only forger (f6) and victim (v6),
# fd66::/64 on wan0, fd66:8000::/33 local in the out namespace with a web
# server on fd66:8000::80.
v6_up() {
	local i
	v6_on gw || return 1
	v6_on out || return 1
	for i in br0 wan0; do
		qd_sysctl gw "net/ipv6/conf/$i/disable_ipv6" 0 || return 1
	done
	qd_sysctl out net/ipv6/conf/eth0/disable_ipv6 0 || return 1
	qd_sysctl gw net/ipv6/conf/all/forwarding 1 || return 1
	qd_in gw ip -6 addr add $V6_GW/64 dev br0 nodad || return 1
	qd_in gw ip -6 addr add fd66::1/64 dev wan0 nodad || return 1
	qd_in gw ip -6 route add $V6_NET via $V6_OUT || return 1
	qd_in out ip -6 addr add $V6_OUT/64 dev eth0 nodad || return 1
	qd_in out ip -6 route add default via fd66::1 || return 1
	qd_in out ip -6 route add local $V6_NET dev lo || return 1
	# A local route is not enough to bind() an IPv6 address.
	qd_in out ip -6 addr add $V6_WEB/128 dev lo || return 1
	v6_host f6 $V6_FORGER || return 1
	v6_host v6 $V6_VICTIM || return 1
	qd_bg out $QD_PY serve --ready "$QD_TMP/out6.ready" "[$V6_WEB]:80"
	qd_wait 10 "the IPv6 web server listens" test -e "$QD_TMP/out6.ready"
}

# established_at ADDR MAC: ADDR's binding is established (or pinned) at MAC.
established_at() {
	case $(qd_trust "$1") in
	"established $2" | "pinned $2") return 0 ;;
	esac
	return 1
}

# in_no_set ADDR MAC: neither ADDR nor MAC is in any blocking set.
in_no_set() {
	local s
	for s in iso4 con4 conp4 iso6 con6 conp6; do
		qd_in_set "$s" "$1" && return 1
	done
	qd_not qd_mac_in_any_set "$2"
}

# sweep V FORGER VICTIM REAL SRC NET WEB: the round for IP version V:
# namespace FORGER (real address REAL) sweeps NET as SRC, the address of
# namespace VICTIM; both first talk to WEB:80.
sweep() {
	local v=$1 fns=$2 vns=$3 real=$4 src=$5 net=$6 web=$7 fmac vmac det forg act s ip=ip
	[ "$v" = 6 ] && ip=ip6
	fmac=$(qd_mac "$fns")
	vmac=$(qd_mac "$vns")
	echo "IPv$v: forger $real at $fmac, victim $src at $vmac"
	qd_count_add "forged$v" $ip saddr "$src" tcp dport 445 || return 1

	qd_say "IPv$v: both talk to $web through the gateway"
	for _ in 1 2 3; do
		qd_wait 5 "the forger reaches $web:80" qd_connect "$fns" "$web" 80 || return 1
		qd_wait 5 "the victim reaches $web:80" qd_connect "$vns" "$web" 80 || return 1
	done
	# The gateway delivered their answers: both bindings are established
	# at once (identity.h).  show --json says so per address.
	qd_wait 2 "$real and $src established" \
		eval 'established_at "$real" "$fmac" && established_at "$src" "$vmac"'
	echo "identity: $(qd_status 'd["identity"]')"
	qd_check "IPv$v: show --json $real: established at the forger's MAC ($(qd_trust "$real"))" \
		established_at "$real" "$fmac"
	qd_check "IPv$v: show --json $src: established at the victim's MAC ($(qd_trust "$src"))" \
		established_at "$src" "$vmac"

	qd_say "IPv$v: the forger sends 64 SYNs to tcp/445 of $net as $src, from its own MAC"
	qd_mark
	qd_flood "$fns" "$QD_TMP/flood$v.out" --src "$src" --per-src 64 --count 64 \
		--dst "$net" --dport 445 --rate 100
	det=$(qd_wait_event 10 event=detect mac="$fmac" enforced=true) || return 1
	forg=$(qd_wait_event 10 event=detect rule=source-forgery mac="$fmac") || return 1
	act=$(qd_wait_event 10 event=action mac="$fmac" level=isolate) || return 1
	wait "$QD_LAST"
	cat "$QD_TMP/flood$v.out"
	echo "first detect: $det"
	echo "source-forgery detect: $forg"
	echo "action: $act"

	qd_check "IPv$v: the first enforced detect ($(echo "$det" | qd_field rule)) names the forger's MAC and real address" \
		test "$(echo "$det" | qd_json '"%s %s" % (d["host"], d["mac"])')" = "$real $fmac"
	qd_check "IPv$v: the source-forgery detect names $real, $fmac and the forged $src" \
		test "$(echo "$forg" | qd_json '"%s %s %s" % (d["host"], d["mac"], d["evidence"]["forged"])')" = \
		"$real $fmac $src"
	qd_check "IPv$v: the source-forgery detect is high and asks for isolate ($(echo "$forg" | qd_json '"%s %s" % (d["severity"], d["action"])'))" \
		test "$(echo "$forg" | qd_json '"%s %s" % (d["severity"], d["action"])')" = "high isolate"
	qd_check "IPv$v: the isolate action names $real and $fmac" \
		test "$(echo "$act" | qd_json '"%s %s" % (d["host"], d["mac"])')" = "$real $fmac"
	s=$(qd_events event=detect host="$src")$(qd_events event=detect mac="$vmac")
	qd_check "IPv$v: no detect event names the victim or its MAC" test -z "$s"
	s=$(qd_events event=action host="$src")$(qd_events event=action mac="$vmac")
	qd_check "IPv$v: no action event for the victim" test -z "$s"

	qd_check "IPv$v: isom holds the forger's MAC $fmac" qd_in_set isom "$fmac"
	qd_check "IPv$v: iso$v holds the forger's real address $real" qd_in_set "iso$v" "$real"
	qd_check "IPv$v: the victim $src is in no set, nor its MAC $vmac" in_no_set "$src" "$vmac"
	qd_check "IPv$v: the victim still reaches $web:80" qd_connect "$vns" "$web" 80
	qd_check "IPv$v: the forger no longer reaches $web:80" qd_not qd_connect "$fns" "$web" 80
	s=$(qctl --json list | qd_json "[h['host'] for h in d if h['state'] in ('contained', 'isolated')
		and ('$src' == h['host'] or '$src' in h.get('addresses', []) or h.get('mac') == '$vmac')]")
	qd_check "IPv$v: list --json has no blocked row for the victim ($s)" test "$s" = "[]"
	s=$(qctl --json list | qd_json \
		"next(('%s %s' % (h['state'], h.get('mac')) for h in d if h['host'] == '$real'), 'absent')")
	qd_check "IPv$v: list --json shows $real isolated, with its MAC ($s)" test "$s" = "isolated $fmac"
	s=$(qctl --json show "$real" | qd_json '"%s %s" % ((d or {}).get("mac_blocked"), (d or {}).get("machine"))')
	qd_check "IPv$v: show --json $real: its MAC blocked, a forger ($s)" \
		test "$s" = "True blocked,forger"
	s=$(qctl --json show "$fmac" | qd_json '"%s %s" % ((d or {}).get("mac_blocked"), (d or {}).get("mac"))')
	qd_check "IPv$v: show --json $fmac (HOST given as a MAC): its MAC blocked ($s)" \
		test "$s" = "True $fmac"
	qd_check "IPv$v: $src stays established at the victim's MAC ($(qd_trust "$src"))" \
		established_at "$src" "$vmac"
	s=$(qd_count "forged$v")
	# source-forgery flags at the first forged packet (distinct_src 1):
	# that one is through before the block; smb-propagation would need 10.
	qd_check "IPv$v: fewer forged SYNs reached the outside than the smb threshold (10): $s" \
		test "$s" -lt 10
	qd_fig "IPv$v: forged SYNs that reached the outside" "$s of 64"
	qd_fig "IPv$v: first forged SYN -> isolate action (event ts)" \
		"$(qd_tsdiff "$(echo "$forg" | qd_field first_probe_ts)" "$(echo "$act" | qd_field ts)") ms"
}

qd_say "topology and quarantined (table $QD_FAMILY quarantined)"
qd_topology || exit 1
if [ "$QD_FAMILY" = bridge ]; then
	# Only the bridge table filters (see bridge-family.sh).
	if qd_in gw test -e /proc/sys/net/bridge/bridge-nf-call-iptables; then
		qd_sysctl gw net/bridge/bridge-nf-call-iptables 0
	fi
	qd_config 'enforce: { family = "bridge"; };'
else
	qd_config
fi
v6=0
if [ -e /proc/sys/net/ipv6 ] && v6_up; then
	v6=1
	# lib.sh's protected networks, and fd66:1::/64.
	sed -i "s|protected = \[ \"10.66.1.0/24\", \"10.66.2.0/24\" \];|protected = [ \"10.66.1.0/24\", \"10.66.2.0/24\", \"$V6_LAN\" ];|" "$QD_CONF"
	grep -q "$V6_LAN" "$QD_CONF" || exit 1
else
	echo "note: no IPv6 here: the IPv6 round is skipped"
fi
qd_daemon_start || exit 1
qd_check "the daemon made table $QD_FAMILY quarantined" \
	qd_in gw nft list table "$QD_FAMILY" quarantined >/dev/null

sweep 4 inf ben $QD_INF $QD_BEN $QD_NET_WORM $QD_WEB || exit 1
qd_check "IPv4: the victim $QD_BEN still reaches $QD_WEB:8080" qd_connect ben $QD_WEB 8080
if [ $v6 = 1 ]; then
	sweep 6 f6 v6 $V6_FORGER $V6_VICTIM $V6_NET "$V6_WEB" || exit 1
fi
qd_done
