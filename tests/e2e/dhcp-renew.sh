#!/bin/bash
# e2e: a blocked machine that takes a new address is blocked under the new
# address too: a new DHCP lease from the gateway's DHCP server, and a new
# IPv6 (privacy-like) address.
#
#   dhcp-renew.sh QUARANTINED QUARANTINECTL WORM
#
# dnsmasq serves DHCP on the gateway's br0 (10.66.1.100-150, no DNS, its
# lease file in the test's directory), where the daemon captures; a host
# namespace dh on br0 runs dhclient with a script of ours that only sets
# the address and the default route (dhcp-probe.sh shows the set-up and
# its pitfalls).
#
# 1. DHCP: dh gets a lease A1 and talks; the gateway's DHCPACK (from a
#    DHCP server on the gateway itself) makes A1 an established address
#    of dh's MAC.  An operator isolates dh by its MAC: isom holds the MAC,
#    iso4 A1.  Then dh asks for A1 again (its lease file kept, as after a
#    reboot) of a server that now leases 10.66.1.200-220: DHCPNAK, then a
#    new lease A2.  The ACK for A2 establishes A2 for dh's MAC, and a
#    blocked machine's new established address is added to its block:
#    the test polls (at most 20 s) until iso4 holds an address of
#    10.66.1.200-220, checks it is A2, and records how long it took from
#    the client's start (the time goes into the figures, not a check).
# 2. IPv6: IPv6 on for dh's eth0 and the gateway's br0 (fd66:1::1/64),
#    fd66:1::/64 protected; dh, still isolated, adds a new address
#    fd66:1::<random>/64 (nodad) and sends a DNS query (udp/53) to the
#    gateway from it.  An isolated machine may send that one (the
#    iso_in6 chain accepts DNS and DHCP to the gateway and neighbour
#    discovery; an ICMPv6 echo would be dropped there).  Before the query
#    dh resolves fd66:1::1 with a neighbour solicitation from its new
#    address; the gateway answers it (a neighbour advertisement to the new
#    address at dh's MAC) and answers the query with port unreachable
#    (nothing listens on port 53): the gateway delivered to the new
#    address at dh's MAC, which establishes it, and iso6 gets it.  The
#    test polls (at most 20 s, a query a second) until iso6 holds it and
#    records the time.
# Needs root, dnsmasq and dhclient: exit 77 (skipped) without.  See lib.sh
# for the topology and the network safety rules: dnsmasq and dhclient run
# only inside the test's namespaces, by pid, stopped at the end.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"
PATH=$PATH:/usr/sbin:/sbin
for t in dnsmasq dhclient; do
	if ! command -v $t >/dev/null; then
		echo "SKIP: $t is not installed (tools/deps.sh)"
		exit 77
	fi
done

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# ---- DHCP server and client (see dhcp-probe.sh) -----------------------------

DNSMASQ=""
DHCLIENT=""

# dnsmasq_start LO HI: dnsmasq on br0 leasing 10.66.1.LO-HI for 2 minutes.
dnsmasq_start() {
	# ip netns exec execs dnsmasq: $! is dnsmasq's own pid.
	ip netns exec "${QD_NS}gw" dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 \
		--interface=br0 --except-interface=lo --bind-interfaces \
		--dhcp-range="10.66.1.$1,10.66.1.$2,255.255.255.0,2m" --dhcp-authoritative \
		--dhcp-leasefile="$QD_TMP/dnsmasq.leases" --pid-file="$QD_TMP/dnsmasq.pid" \
		--user=root --group=root --no-resolv --no-hosts --log-dhcp \
		--log-facility="$QD_TMP/dnsmasq.log" --no-ping &
	DNSMASQ=$!
	QD_PIDS="$QD_PIDS $DNSMASQ"
	# Up once it logs its DHCP range (it opens its sockets first).
	qd_wait 5 "dnsmasq leases 10.66.1.$1-$2" logged "DHCP, IP range 10.66.1.$1"
}

# logged TEXT: dnsmasq's log has TEXT (0 or 1: grep's 2 would end qd_wait).
logged() {
	grep -qsF "$1" "$QD_TMP/dnsmasq.log" || return 1
}

# The client's script: the address and the default route only (no
# resolv.conf); a line with the time once done.  dhclient clears the
# environment: the log's path is written in.
cat >"$QD_TMP/script" <<'EOF'
#!/bin/sh
masklen() {
	n=0
	for o in $(echo "$1" | tr . ' '); do
		while [ "$o" -gt 0 ]; do
			n=$((n + (o & 1)))
			o=$((o >> 1))
		done
	done
	echo $n
}
case $reason in
PREINIT)
	ip link set dev "$interface" up
	;;
BOUND | RENEW | REBIND | REBOOT)
	if [ -n "${old_ip_address:-}" ] && [ "$old_ip_address" != "$new_ip_address" ]; then
		ip -4 addr flush dev "$interface"
	fi
	ip addr replace "$new_ip_address/$(masklen "$new_subnet_mask")" dev "$interface"
	if [ -n "${new_routers:-}" ]; then
		ip route replace default via "${new_routers%% *}" dev "$interface"
	fi
	;;
EXPIRE | FAIL | RELEASE | STOP)
	ip -4 addr flush dev "$interface"
	;;
esac
echo "$reason ${new_ip_address:-} $(($(date +%s%N) / 1000000))" >>@LOG@
exit 0
EOF
sed -i "s|@LOG@|$QD_TMP/script.log|" "$QD_TMP/script"
chmod 755 "$QD_TMP/script"
cat >"$QD_TMP/dhclient.conf" <<'EOF'
request subnet-mask, broadcast-address, routers;
timeout 20;
initial-interval 1;
EOF

# dhclient_start: dhclient in the foreground on dh's eth0 (its pid is
# ours); sets T0 (ms).
dhclient_start() {
	: >"$QD_TMP/script.log"
	T0=$(now_ms)
	ip netns exec "${QD_NS}dh" dhclient -d -1 -v -cf "$QD_TMP/dhclient.conf" \
		-lf "$QD_TMP/dhclient.leases" -pf "$QD_TMP/dhclient.pid" -sf "$QD_TMP/script" eth0 \
		>>"$QD_TMP/dhclient.log" 2>&1 &
	DHCLIENT=$!
	QD_PIDS="$QD_PIDS $DHCLIENT"
}

# bound: the address of the client's last BOUND or REBOOT, empty before.
bound() {
	awk '$1 == "BOUND" || $1 == "REBOOT" { a = $2 } END { print a }' "$QD_TMP/script.log"
}

bound_ms() {
	awk '$1 == "BOUND" || $1 == "REBOOT" { t = $3 } END { print t }' "$QD_TMP/script.log"
}

has_lease() {
	[ -n "$(bound)" ]
}

# iso_in_range SET REGEX: the first element of SET matching REGEX.
iso_match() {
	qd_in gw nft list set inet quarantined "$1" 2>/dev/null | grep -oE "$2" | head -n 1
}

# binding_of ADDR: "trust blocked" of ADDR in show --json of dh's MAC.
binding_of() {
	qd_show_json "$dhmac" "next(('%s %s' % (b['trust'], b['blocked']) for b in d['bindings'] if b['address'] == '$1'), 'none')"
}

dump_dhcp() {
	echo "---- dnsmasq log (tail) ----"
	tail -n 15 "$QD_TMP/dnsmasq.log"
	echo "---- dhclient script log ----"
	cat "$QD_TMP/script.log"
}

# ---- the test ----------------------------------------------------------------

qd_say "topology, a DHCP client namespace dh on br0, quarantined (fd66:1::/64 protected too)"
qd_topology || exit 1
qd_host_bare dh || exit 1
dhmac=$(qd_mac dh)
qd_config
qd_config_net 'protected = [ "10.66.1.0/24", "10.66.2.0/24", "fd66:1::/64" ];'
qd_daemon_start || exit 1

qd_say "1. dnsmasq on br0 (10.66.1.100-150); dh at $dhmac takes a lease"
dnsmasq_start 100 150 || exit 1
dhclient_start
qd_wait 20 "a lease for dh" has_lease || {
	dump_dhcp
	exit 1
}
a1=$(bound)
echo "first lease: $a1 in $(($(bound_ms) - T0)) ms"
qd_check "dh reaches $QD_WEB:80 from $a1" qd_wait 5 "dh reaches $QD_WEB:80" qd_connect dh $QD_WEB 80

qd_check "an operator isolates dh by its MAC" qctl quarantine "$dhmac"
qd_check "isom holds dh's MAC" qd_in_set isom "$dhmac"
qd_check "iso4 holds its lease $a1" qd_in_set iso4 "$a1"
qd_check "show: $a1 is dh's, established and blocked" test "$(binding_of "$a1")" = "established True"
qd_check "dh cannot reach $QD_WEB:80 (isolated)" qd_not qd_connect dh $QD_WEB 80

qd_say "dh asks for $a1 again; the server, now 10.66.1.200-220, says no and leases another"
kill -KILL "$DHCLIENT" 2>/dev/null # switched off: its lease file stays
qd_stop "$DHCLIENT"
qd_in dh ip -4 addr flush dev eth0
qd_stop "$DNSMASQ"
rm -f "$QD_TMP/dnsmasq.leases"
dnsmasq_start 200 220 || exit 1
qd_mark
dhclient_start
# Poll the kernel set (the daemon may block the new address before the
# client has even configured it).
a2_iso=""
deadline=$((T0 + 20000))
while [ "$(now_ms)" -lt $deadline ]; do
	a2_iso=$(iso_match iso4 '10\.66\.1\.2(0[0-9]|1[0-9]|20)\b')
	[ -n "$a2_iso" ] && break
	sleep 0.05
done
t_iso=$(now_ms)
qd_wait 20 "dh's new lease" has_lease || {
	dump_dhcp
	exit 1
}
a2=$(bound)
t_bound=$(bound_ms)
echo "new lease: $a2 (client bound after $((t_bound - T0)) ms); iso4 got ${a2_iso:-nothing}"
qd_check "dnsmasq refused $a1 (DHCPNAK)" grep -q "DHCPNAK(br0) $a1 $dhmac" "$QD_TMP/dnsmasq.log"
qd_check "the new lease $a2 is another address of 10.66.1.200-220" \
	test "$a2" != "$a1" -a "${a2%.*}" = 10.66.1 -a "${a2##*.}" -ge 200 -a "${a2##*.}" -le 220
qd_check "iso4 holds the new lease $a2 (within 20 s)" test "$a2_iso" = "$a2"
qd_check "iso4 still holds $a1 (a block never moves with an address)" qd_in_set iso4 "$a1"
qd_check "isom still holds dh's MAC" qd_in_set isom "$dhmac"
qd_check "show: $a2 is dh's, established and blocked" test "$(binding_of "$a2")" = "established True"
qd_check "dh cannot reach $QD_WEB:80 from $a2" qd_not qd_connect dh $QD_WEB 80
act=$(qd_events event=action mac="$dhmac" | tail -n 1)
echo "last action: $act"
if [ -n "$a2_iso" ]; then
	qd_fig "DHCP: dhclient start -> new lease in iso4" "$((t_iso - T0)) ms (client bound at $((t_bound - T0)) ms)"
else
	qd_fig "DHCP: dhclient start -> new lease in iso4" "not within 20 s"
	dump_dhcp
fi

qd_say "2. IPv6: br0 fd66:1::1/64; dh, still isolated, takes a new address"
qd_ipv6_on gw br0 || exit 1
qd_in gw ip addr add fd66:1::1/64 dev br0 nodad || exit 1
qd_ipv6_on dh eth0 || exit 1
a6=fd66:1::$(printf '%x' $((0x1000 + RANDOM % 0xe000)))
qd_in dh ip addr add $a6/64 dev eth0 nodad || exit 1
T0=$(now_ms)
n=0
deadline=$((T0 + 20000))
while [ "$(now_ms)" -lt $deadline ]; do
	if [ $((n % 20)) = 0 ]; then
		# A DNS query to the gateway, from $a6 (the only address of its
		# prefix): what an isolated host may still send it.
		qd_in dh bash -c "printf 'q' >/dev/udp/fd66:1::1/53" 2>/dev/null
	fi
	n=$((n + 1))
	qd_in_set iso6 $a6 && break
	sleep 0.05
done
t_iso=$(now_ms)
echo "dh's addresses: $(qd_in dh ip -6 -o addr show dev eth0 | awk '{ print $4 }' | tr '\n' ' ')"
echo "gateway's neighbour entry: $(qd_in gw ip -6 neigh show $a6)"
qd_check "iso6 holds dh's new address $a6 (within 20 s)" qd_in_set iso6 $a6
qd_check "show: $a6 is dh's, established and blocked" test "$(binding_of $a6)" = "established True"
if qd_in_set iso6 $a6; then
	qd_fig "IPv6: new address's first packet -> in iso6" "$((t_iso - T0)) ms"
else
	qd_fig "IPv6: new address's first packet -> in iso6" "not within 20 s"
fi
qd_in gw nft list set inet quarantined iso6 | grep -E 'elements|fd66|fe80' | sed 's/^/  /'
qd_done
