#!/bin/bash
# shellcheck disable=SC2317 # functions called through check and traps
# dhcp-probe: shows that a DHCP server and client work in test namespaces,
# and how long a lease takes; evidence for the daemon's DHCP tests, not a
# daemon test.
#
#   dhcp-probe.sh [--ping]
#
# A gateway namespace with a bridge br0 (10.66.1.1/24) runs dnsmasq as a
# DHCP server on br0 only (no DNS, no config file, its lease file in a
# temporary directory); a host namespace on the bridge runs dhclient on
# its eth0 with a script of ours that only adds and removes the address
# (dhclient's own script would rewrite the machine's /etc/resolv.conf).
#
#   1. the host gets a lease from 10.66.1.100-150;
#   2. release, new server range 10.66.1.200-220, both lease files
#      deleted: the host gets an address of the new range;
#   3. the client keeps its lease file and asks for its old address again
#      (INIT-REBOOT, as after a reboot), the server now has the range
#      10.66.1.160-170 and refuses it (DHCPNAK, authoritative): the host
#      starts over and gets an address of that range.
#
# dnsmasq runs with --no-ping unless --ping: before it first offers an
# address it pings it and offers only after the ping timed out (about 3 s
# here), which is realistic but slow for tests.  Prints the time each
# lease took.  Network safety: two namespaces of our
# own (qddhcp<pid>gw and qddhcp<pid>h), the veth pair made inside the
# gateway namespace and never linked to the root one; nothing is routed
# anywhere.  The cleanup (on exit and after HUP, INT, PIPE, TERM) stops
# what runs inside the namespaces, by pid, and deletes them.  Needs root,
# dnsmasq (dnsmasq-base) and dhclient (isc-dhcp-client): exit 77 without.
set -u

NOPING=--no-ping
case ${1:-} in
"") ;;
--ping) NOPING="" ;;
*)
	echo "usage: $0 [--ping]" >&2
	exit 2
	;;
esac
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: dhcp-probe needs root (network namespaces)"
	exit 77
fi
for t in ip dnsmasq dhclient; do
	if ! PATH=$PATH:/usr/sbin:/sbin command -v "$t" >/dev/null; then
		echo "SKIP: $t is not installed (tools/deps.sh)"
		exit 77
	fi
done
PATH=$PATH:/usr/sbin:/sbin

NS=qddhcp$$
MADE=""
FAILS=0
DNSMASQ_PID=""
DHCLIENT_PID=""
TMP=$(mktemp -d "${TMPDIR:-/tmp}/qddhcp.XXXXXX") || exit 1

cleanup() {
	local rc=$? ns p
	trap - EXIT HUP INT TERM
	trap '' PIPE
	if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
		echo "---- dnsmasq log (tail) ----"
		tail -n 20 "$TMP/dnsmasq.log" 2>/dev/null
		echo "---- dhclient log (tail) ----"
		tail -n 20 "$TMP/dhclient.log" 2>/dev/null
	fi
	for p in $DHCLIENT_PID $DNSMASQ_PID; do
		kill -TERM "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	for ns in $MADE; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM

in_gw() { ip netns exec "${NS}gw" "$@"; }
in_h() { ip netns exec "${NS}h" "$@"; }

check() {
	local what=$1
	shift
	if "$@"; then
		echo "ok:   $what"
	else
		echo "FAIL: $what"
		FAILS=$((FAILS + 1))
	fi
}

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# wait_for TIMEOUT_S CMD...: poll CMD every 20 ms.
wait_for() {
	local deadline=$(($(now_ms) + $1 * 1000))
	shift
	until "$@"; do
		[ "$(now_ms)" -ge $deadline ] && return 1
		sleep 0.02
	done
}

# in_range ADDR LO HI: ADDR is 10.66.1.LO to 10.66.1.HI.
in_range() {
	local last=${1##*.}
	[ "${1%.*}" = 10.66.1 ] && [ "$last" -ge "$2" ] && [ "$last" -le "$3" ]
}

host_addr() {
	in_h ip -4 -o addr show dev eth0 | awk '{ split($4, a, "/"); print a[1]; exit }'
}

host_prefix() {
	in_h ip -4 -o addr show dev eth0 | awk '{ print $4; exit }'
}

bound() {
	grep -qE '^(BOUND|REBOOT) ' "$TMP/script.log" 2>/dev/null
}

# ---- namespaces -------------------------------------------------------------

for n in gw h; do
	if ! ip netns add "$NS$n" 2>"$TMP/netns.err"; then
		echo "SKIP: cannot create a network namespace: $(cat "$TMP/netns.err")"
		exit 77
	fi
	MADE="$MADE $NS$n"
	ip netns exec "$NS$n" sh -c 'echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6 &&
		echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6 && ip link set lo up' || exit 1
done
in_gw ip link add br0 type bridge || exit 1
in_gw ip addr add 10.66.1.1/24 dev br0 || exit 1
in_gw ip link set br0 up || exit 1
# Made inside the gateway namespace, the pair never touches the root one.
in_gw ip link add v-h type veth peer name eth0 netns "${NS}h" || exit 1
in_gw ip link set v-h master br0 || exit 1
in_gw ip link set v-h up || exit 1
in_h ip link set eth0 up || exit 1
HMAC=$(in_h cat /sys/class/net/eth0/address)
# No STP forwarding delay on a fresh bridge port (the default bridge has
# STP off; say it).
in_gw ip link set br0 type bridge stp_state 0 forward_delay 0 2>/dev/null
wait_for 5 sh -c "ip netns exec ${NS}gw ip -br link show v-h | grep -q 'UP '" || exit 1

# ---- the server and the client ---------------------------------------------

# dnsmasq_start LO HI: dnsmasq on br0 leasing 10.66.1.LO-HI for 2 minutes
# (dnsmasq's shortest), in the foreground, logging to a file.
dnsmasq_start() {
	rm -f "$TMP/dnsmasq.ready"
	# ip netns exec execs dnsmasq: $! is dnsmasq's pid (through a shell
	# function it would be a subshell's).
	ip netns exec "${NS}gw" dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 \
		--interface=br0 --except-interface=lo --bind-interfaces \
		--dhcp-range="10.66.1.$1,10.66.1.$2,255.255.255.0,2m" --dhcp-authoritative \
		--dhcp-leasefile="$TMP/dnsmasq.leases" --pid-file="$TMP/dnsmasq.pid" \
		--user=root --group=root --no-resolv --no-hosts --log-dhcp \
		--log-facility="$TMP/dnsmasq.log" $NOPING &
	DNSMASQ_PID=$!
	# Up once it logs its DHCP range (it opens its sockets first).
	wait_for 5 grep -qs "DHCP, IP range 10.66.1.$1" "$TMP/dnsmasq.log"
}

dnsmasq_stop() {
	kill -TERM "$DNSMASQ_PID" 2>/dev/null
	wait "$DNSMASQ_PID" 2>/dev/null
	DNSMASQ_PID=""
}

# The client's script: the address only (no routes, no resolv.conf).
# (dhclient clears the environment: the log's path is written in.)
cat >"$TMP/script" <<'EOF'
#!/bin/sh
SCRIPT_LOG=@LOG@
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
	;;
EXPIRE | FAIL | RELEASE | STOP)
	ip -4 addr flush dev "$interface"
	;;
esac
# Logged once done: a BOUND line means the address is on the interface.
echo "$reason ${new_ip_address:-} ${new_subnet_mask:-} ${new_dhcp_lease_time:-}" >>"$SCRIPT_LOG"
exit 0
EOF
sed -i "s|@LOG@|$TMP/script.log|" "$TMP/script"
chmod 755 "$TMP/script"
# No DNS asked for; retry DISCOVER every second (dhclient's default starts
# at 10 s after a failure); give up after 20 s.
cat >"$TMP/dhclient.conf" <<'EOF'
request subnet-mask, broadcast-address, routers;
timeout 20;
initial-interval 1;
EOF

# dhclient_start: dhclient -1 on eth0, in the foreground (-d) so that we
# keep its pid; sets T0.
dhclient_start() {
	: >"$TMP/script.log"
	T0=$(now_ms)
	ip netns exec "${NS}h" dhclient -d -1 -v -cf "$TMP/dhclient.conf" \
		-lf "$TMP/dhclient.leases" -pf "$TMP/dhclient.pid" -sf "$TMP/script" eth0 \
		>>"$TMP/dhclient.log" 2>&1 &
	DHCLIENT_PID=$!
}

# dhclient_release: DHCPRELEASE and exit (dhclient -r stops the running
# one through its pid file).
dhclient_release() {
	in_h dhclient -r -v -cf "$TMP/dhclient.conf" \
		-lf "$TMP/dhclient.leases" -pf "$TMP/dhclient.pid" -sf "$TMP/script" eth0 \
		>>"$TMP/dhclient.log" 2>&1
	wait "$DHCLIENT_PID" 2>/dev/null
	DHCLIENT_PID=""
}

# dhclient_kill: the client stops without a word (a host switched off);
# its lease file stays.
dhclient_kill() {
	kill -KILL "$DHCLIENT_PID" 2>/dev/null
	wait "$DHCLIENT_PID" 2>/dev/null
	DHCLIENT_PID=""
	in_h ip -4 addr flush dev eth0
}

# lease LO HI WHAT: waits for a lease in 10.66.1.LO-HI; prints the time.
lease() {
	local t addr
	if ! wait_for 25 bound; then
		echo "FAIL: $3: no lease in 25 s"
		FAILS=$((FAILS + 1))
		return 1
	fi
	t=$(($(now_ms) - T0))
	addr=$(host_addr)
	echo "figure: $3: $(host_prefix) in $t ms ($(tr '\n' ';' <"$TMP/script.log"))"
	check "$3: $addr is in 10.66.1.$1-$2" in_range "$addr" "$1" "$2"
	check "$3: dnsmasq's lease file has $HMAC at $addr" \
		grep -q " $HMAC $addr " "$TMP/dnsmasq.leases"
	LAST=$addr
}

echo "== 1. first lease (10.66.1.100-150)"
dnsmasq_start 100 150 || exit 1
dhclient_start
lease 100 150 "first lease" || exit 1
first=$LAST

echo "== 2. release, new range 10.66.1.200-220, lease files deleted"
dhclient_release
check "the release removed the address" test -z "$(host_addr)"
dnsmasq_stop
rm -f "$TMP/dnsmasq.leases" "$TMP/dhclient.leases"
dnsmasq_start 200 220 || exit 1
dhclient_start
lease 200 220 "new lease after a release" || exit 1
check "the address changed ($first, then $LAST)" test "$first" != "$LAST"
second=$LAST

echo "== 3. the client asks for its old address; the server, now 10.66.1.160-170, says no"
dhclient_kill
dnsmasq_stop
rm -f "$TMP/dnsmasq.leases"
dnsmasq_start 160 170 || exit 1
dhclient_start
lease 160 170 "new lease after a NAK" || exit 1
check "dnsmasq refused the old address $second (DHCPNAK)" \
	grep -q "DHCPNAK(br0) $second $HMAC" "$TMP/dnsmasq.log"
check "the address changed ($second, then $LAST)" test "$second" != "$LAST"

if [ "$FAILS" != 0 ]; then
	echo "$FAILS check(s) failed"
	exit 1
fi
echo "all checks passed"
exit 0
