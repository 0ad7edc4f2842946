#!/bin/bash
# shellcheck disable=SC2317,SC2016 # functions called through check; awk programs
# flood-selftest: the frame sender (tests/e2e/flood.c) between two
# namespaces of its own.
#
#   flood-selftest.sh FLOOD
#
# Network safety: two namespaces, qdflood<pid>s (sender) and qdflood<pid>r
# (receiver), joined by a veth pair made inside the sender namespace; the
# pair never touches the root namespace, and neither namespace has a route
# or an address anywhere.  The one run in the root namespace checks that
# flood refuses it, on an interface that does not exist.  The cleanup (on
# exit and after HUP, INT, PIPE, TERM) stops what runs inside the two
# namespaces, by pid, and deletes them.
#
# Checks: flood refuses the initial namespace, addresses outside
# 10.66.0.0/16 and fd66::/16 and a run without a bound, and sends nothing
# then; at 50,000 frames/s for 2 s the receiver's ingress counter sees
# what flood says it sent (within 5 %) and flood keeps the rate (within
# 5 %); a tcpdump sample has valid IPv4, TCP and TCP-over-IPv6 checksums,
# PER_SRC frames per forged source to different destinations, --include
# at its place in each cycle, and well-formed ARP replies and requests.
# Needs root and tcpdump; exit 77 (skipped) otherwise.
set -u

if [ $# -ne 1 ]; then
	echo "usage: $0 FLOOD" >&2
	exit 2
fi
FLOOD=$1
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: flood-selftest needs root (network namespaces, AF_PACKET)"
	exit 77
fi
for t in ip nft tcpdump; do
	if ! command -v "$t" >/dev/null; then
		echo "SKIP: $t is not installed"
		exit 77
	fi
done

NS=qdflood$$
MADE=""
FAILS=0
TMP=$(mktemp -d "${TMPDIR:-/tmp}/qdflood.XXXXXX") || exit 1

cleanup() {
	local rc=$? ns p
	trap - EXIT HUP INT TERM
	trap '' PIPE
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

in_s() { ip netns exec "${NS}s" "$@"; }
in_r() { ip netns exec "${NS}r" "$@"; }

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

fig() {
	echo "figure: $1: $2"
}

# within PCT A B: |A - B| <= PCT % of B.
within() {
	local d=$(($2 - $3))
	[ "$d" -lt 0 ] && d=$((-d))
	[ $((d * 100)) -le $(($1 * $3)) ]
}

# refuses WHERE PATTERN ARGS...: flood (in WHERE: root or s) exits 2 and
# says PATTERN on stderr.
refuses() {
	local where=$1 pat=$2 rc
	shift 2
	if [ "$where" = root ]; then
		"$FLOOD" "$@" >"$TMP/out" 2>"$TMP/err"
	else
		in_s "$FLOOD" "$@" >"$TMP/out" 2>"$TMP/err"
	fi
	rc=$?
	[ "$rc" = 2 ] && grep -q -- "$pat" "$TMP/err" && return 0
	echo "  exit $rc, stderr: $(head -n 2 "$TMP/err")"
	return 1
}

counter() {
	in_r nft list counter netdev qdflood "$1" | awk '$1 == "packets" { print $2 }'
}

# ---- namespaces -------------------------------------------------------------

for n in s r; do
	if ! ip netns add "$NS$n" 2>"$TMP/netns.err"; then
		echo "SKIP: cannot create a network namespace: $(cat "$TMP/netns.err")"
		exit 77
	fi
	MADE="$MADE $NS$n"
	# No IPv6 chatter (router solicitations, MLD) to count.
	ip netns exec "$NS$n" sh -c 'echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6 &&
		echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6 && ip link set lo up' || exit 1
done
# Made inside the sender namespace, the pair never touches the root one.
in_s ip link add f0 type veth peer name f1 netns "${NS}r" || exit 1
in_s ip link set f0 up || exit 1
in_r ip link set f1 up || exit 1
RMAC=$(in_r cat /sys/class/net/f1/address) || exit 1
# Every frame that reaches the receiver's interface, counted before
# anything else sees it.
in_r nft -f - <<-'EOF' || exit 1
	table netdev qdflood {
		counter frames {}
		counter syns {}
		chain in {
			type filter hook ingress device f1 priority 0; policy accept;
			counter name frames
			ip saddr 10.66.1.0/24 ip daddr 10.66.128.0/18 tcp dport 445 tcp flags == syn counter name syns
		}
	}
EOF
BASE=(-i f0 --dst-mac "$RMAC" --quiet)

# ---- refusals -----------------------------------------------------------------

echo "== refusals"
root_ino=$(stat -L -c %i /proc/self/ns/net)
init_ino=$(stat -L -c %i /proc/1/ns/net 2>/dev/null)
if [ "$root_ino" = 4026531833 ] || [ "$root_ino" = "$init_ino" ]; then
	# No such interface: even a broken refusal would send nothing.
	check "flood refuses the initial network namespace" \
		refuses root "initial network namespace" -i qdflood-none --dst-mac "$RMAC" \
		--count 1 --src 10.66.1.0/24 --dst 10.66.128.0/18
else
	echo "note: this test does not run in the initial network namespace; that refusal is not checked"
fi
check "flood refuses a destination outside 10.66.0.0/16 (10.67.128.0/18)" \
	refuses s "refusing 10.67.128.0/18" "${BASE[@]}" --count 1 --src 10.66.1.0/24 \
	--dst 10.67.128.0/18
check "flood refuses a destination outside 10.66.0.0/16 (192.168.1.1)" \
	refuses s "refusing 192.168.1.1" "${BASE[@]}" --count 1 --src 10.66.1.0/24 --dst 192.168.1.1
check "flood refuses a prefix wider than 10.66.0.0/16 (10.0.0.0/8)" \
	refuses s "refusing 10.0.0.0/8" "${BASE[@]}" --count 1 --src 10.66.1.0/24 --dst 10.0.0.0/8
check "flood refuses a source outside 10.66.0.0/16" \
	refuses s "refusing 10.1.1.0/24" "${BASE[@]}" --count 1 --src 10.1.1.0/24 \
	--dst 10.66.128.0/18
check "flood refuses an --include outside 10.66.0.0/16" \
	refuses s "refusing 8.8.8.8" "${BASE[@]}" --count 1 --src 10.66.1.0/24 \
	--dst 10.66.128.0/18 --include 8.8.8.8
check "flood refuses an IPv6 destination outside fd66::/16" \
	refuses s "refusing fd00::" "${BASE[@]}" --count 1 --src fd66:1::/64 --dst fd00::/64
check "flood refuses ARP targets outside 10.66.0.0/16" \
	refuses s "refusing 10.67.1.1" "${BASE[@]}" --count 1 --mode arp-request \
	--src 10.66.1.10 --dst 10.67.1.1
check "flood refuses a run without --count or --duration" \
	refuses s "usage" "${BASE[@]}" --src 10.66.1.0/24 --dst 10.66.128.0/18
check "nothing reached the receiver from the refused runs" test "$(counter frames)" = 0

# ---- rate --------------------------------------------------------------------

echo "== 50,000 frames/s for 2 s"
in_r nft reset counters >/dev/null
in_s "$FLOOD" "${BASE[@]}" --rate 50000 --duration 2 --src 10.66.1.0/24 --per-src 10 \
	--dst 10.66.128.0/18 >"$TMP/rate.out" 2>"$TMP/rate.err"
rc=$?
cat "$TMP/rate.out" "$TMP/rate.err"
read -r sent secs errs < <(awk '/^sent / { print $2, $5, $NF }' "$TMP/rate.out")
sent=${sent:-0}
got=$(counter syns)
all=$(counter frames)
fig "flood at 50000 pps for 2 s" "sent $sent in ${secs:-?} s, errors ${errs:-?}"
fig "received (ingress counter)" "$got SYNs of $all frames"
check "flood exits 0" test "$rc" = 0
check "flood kept the rate: $sent frames within 5 % of 100000" within 5 "$sent" 100000
check "the receiver saw what was sent: $got within 5 % of $sent" within 5 "$got" "$sent"
check "every frame that arrived is one of the SYNs ($got of $all)" test "$got" = "$all"

# ---- frames ------------------------------------------------------------------

echo "== a sample: checksums, sources, ARP"
# 200 IPv4 SYNs (20 sources of 10, one in 5 from the --include address),
# 20 IPv6 SYNs, 10 ARP replies, 10 ARP requests.
want=240
# ip netns exec execs tcpdump: $! is its pid.
ip netns exec "${NS}r" tcpdump -Z root -i f1 -nn -U -c $want -w "$TMP/sample.pcap" 2>"$TMP/tcpdump.err" &
tcpdump_pid=$!
for _ in $(seq 100); do
	grep -q "listening on" "$TMP/tcpdump.err" && break
	sleep 0.05
done
in_s "$FLOOD" "${BASE[@]}" --rate 2000 --count 200 --src 10.66.1.128/25 --per-src 10 \
	--dst 10.66.128.0/18 --src-mac random --include 10.66.1.10 --include-every 5 \
	--dport 139 --ttl 33 >/dev/null
in_s "$FLOOD" "${BASE[@]}" --rate 2000 --count 20 --src fd66:1::/64 --per-src 5 \
	--dst fd66:8000::/33 --src-mac random >/dev/null
in_s "$FLOOD" "${BASE[@]}" --rate 2000 --count 10 --mode arp-reply --src 10.66.1.10 \
	--src-mac 02:00:00:00:00:77 >/dev/null
in_s "$FLOOD" "${BASE[@]}" --rate 2000 --count 10 --mode arp-request --src 10.66.1.20 \
	--dst 10.66.1.1 >/dev/null
for _ in $(seq 100); do
	kill -0 $tcpdump_pid 2>/dev/null || break
	sleep 0.05
done
kill -TERM $tcpdump_pid 2>/dev/null
wait $tcpdump_pid 2>/dev/null

tcpdump -nn -vv -r "$TMP/sample.pcap" 'ip and tcp' >"$TMP/v4.txt" 2>/dev/null
tcpdump -nn -vv -r "$TMP/sample.pcap" 'ip6 and tcp' >"$TMP/v6.txt" 2>/dev/null
tcpdump -nn -e -r "$TMP/sample.pcap" 'ip and tcp' >"$TMP/v4e.txt" 2>/dev/null
tcpdump -nn -e -r "$TMP/sample.pcap" arp >"$TMP/arp.txt" 2>/dev/null
n4=$(grep -c 'Flags \[S\], cksum 0x[0-9a-f]* (correct)' "$TMP/v4.txt")
bad4=$(grep -cE 'bad cksum|incorrect' "$TMP/v4.txt")
n6=$(grep -c 'Flags \[S\], cksum 0x[0-9a-f]* (correct)' "$TMP/v6.txt")
bad6=$(grep -c 'incorrect' "$TMP/v6.txt")
check "200 IPv4 SYNs with correct TCP checksums ($n4)" test "$n4" = 200
check "no bad IPv4 header or TCP checksum ($bad4)" test "$bad4" = 0
check "IPv4: TTL 33, DF, length 44, port 139, window 64240, MSS 1460" \
	test "$(grep -c 'ttl 33, id [0-9]*, offset 0, flags \[DF\], proto TCP (6), length 44' \
		"$TMP/v4.txt")" = 200 -a \
	"$(grep -c '\.139: Flags \[S\], cksum .*, win 64240, options \[mss 1460\], length 0' \
		"$TMP/v4.txt")" = 200
check "20 IPv6 SYNs with correct TCP checksums ($n6, $bad6 bad)" test "$n6" = 20 -a "$bad6" = 0
# One line per frame: $2 is the source MAC, $10 the source address and
# port, $12 the destination address and port.
check "20 forged sources, a random MAC each, 10 frames each to 10 destinations" \
	awk '{ n[$2]++; if (!seen[$2 " " $12]++) d[$2]++; s[$2] = $10 }
	     END {
		for (m in n) {
			if (n[m] != 10 || d[m] != 10) exit 1
			if (substr(m, 2, 1) !~ /[26ae]/) exit 1 # unicast, locally administered
			k++
		}
		exit k != 20
	     }' "$TMP/v4e.txt"
inc=$(awk '$10 ~ /^10\.66\.1\.10\./' "$TMP/v4e.txt" | wc -l)
other=$(awk '$10 !~ /^10\.66\.1\.(129|1[3-9][0-9]|2[0-4][0-9]|25[0-4])\./ && $10 !~ /^10\.66\.1\.10\./' \
	"$TMP/v4e.txt" | wc -l)
check "--include 10.66.1.10 every 5 sources: 4 sources, 40 frames ($inc)" test "$inc" = 40
check "the other sources are inside 10.66.1.128/25 ($other outside)" test "$other" = 0
check "10 ARP replies: 10.66.1.10 is-at 02:00:00:00:00:77" \
	test "$(grep -c '^[^ ]* 02:00:00:00:00:77 > .* Reply 10\.66\.1\.10 is-at 02:00:00:00:00:77' \
		"$TMP/arp.txt")" = 10
check "10 ARP requests: who-has 10.66.1.1 tell 10.66.1.20" \
	test "$(grep -c 'Request who-has 10\.66\.1\.1 tell 10\.66\.1\.20' "$TMP/arp.txt")" = 10

if [ "$FAILS" != 0 ]; then
	echo "$FAILS check(s) failed"
	exit 1
fi
echo "all checks passed"
exit 0
