#!/bin/bash
# e2e: changes made to the daemon's table from outside are repaired.
#
#   outside-flush.sh QUARANTINED QUARANTINECTL WORM
#
# Debian's nftables.service runs `flush ruleset` (from /etc/nftables.conf)
# at start and reload, and `nft flush ruleset` at stop.  With 10.66.1.10
# isolated and 10.66.1.20 contained on tcp/8080 (both machines: their
# MACs are in isom and conm, their addresses in iso4), in the gateway
# namespace:
# 1. nft flush ruleset;
# 2. nft -f of a file that starts with "flush ruleset" and defines a table
#    of its own (which must stay);
# 3. one element deleted by hand;
# 4. a set flushed;
# 5. the rules of a chain flushed.
# After each: the table, its sets and the blocks are back within 5 s, an
# alert names what was repaired, and the blocked hosts stay blocked
# (traffic).  Then 6: a flush every 100 ms for 15 s ends with the daemon
# stopping its repairs with an alert, using little CPU, and a reload
# resumes them.  7: with 10,000 more addresses isolated, the ruleset and
# then iso4 alone are flushed: how long the repair of a large table takes.
# QD_FAMILY=bridge in the environment runs it all with enforce.family =
# "bridge"; inet otherwise.  Needs root; exit 77 (skipped) otherwise.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"
QD_FAMILY=${QD_FAMILY:-inet}
case $QD_FAMILY in
inet | bridge) ;;
*) echo "QD_FAMILY must be inet or bridge, not $QD_FAMILY" >&2; exit 1 ;;
esac

BOUND=5 # seconds from a change to the table being back

qd_say "topology and quarantined (table $QD_FAMILY quarantined; 10.80.0.0/16 protected too, for part 7)"
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
qd_config_net 'protected = [ "10.66.1.0/24", "10.66.2.0/24", "10.80.0.0/16" ];' || exit 1
qd_daemon_start || exit 1
qd_check "isolate $QD_INF" qctl quarantine $QD_INF --level isolate --reason e2e
qd_check "contain $QD_BEN on tcp/8080" \
	qctl quarantine $QD_BEN --level contain --proto tcp --ports 8080 --reason e2e
INF_MAC=$(qd_mac inf)
BEN_MAC=$(qd_mac ben)
qd_check "iso4 holds $QD_INF" qd_in_set iso4 $QD_INF
qd_check "isom holds $INF_MAC" qd_in_set isom "$INF_MAC"
qd_check "conm holds $BEN_MAC" qd_in_set conm "$BEN_MAC"
qd_check "$QD_INF cannot reach $QD_WEB:80" qd_not qd_connect inf $QD_WEB 80
qd_check "$QD_BEN cannot reach $QD_WEB:8080" qd_not qd_connect ben $QD_WEB 8080
qd_check "$QD_BEN still reaches $QD_WEB:80" qd_connect ben $QD_WEB 80

# intact: the whole table as the daemon made it.
intact() {
	qd_in_set iso4 $QD_INF && qd_in_set isom "$INF_MAC" && qd_in_set conm "$BEN_MAC" &&
		qd_in gw nft list chain "$QD_FAMILY" quarantined forward 2>/dev/null | grep -q '@iso4' &&
		qd_in gw nft list chain "$QD_FAMILY" quarantined input 2>/dev/null | grep -q '@iso4' &&
		qd_in gw nft list set "$QD_FAMILY" quarantined rem4 2>/dev/null | grep -qF $QD_REM
}

# alert TEXT: an error event after the last qd_mark whose message holds TEXT.
alert() {
	tail -n +$((QD_MARK + 1)) "$QD_EVENTS" | grep '"event":"error"' | grep -qF -- "$1"
}

# repaired WHAT TEXT...: after a change made at $t0, the table is back
# within BOUND s, the alert names each TEXT, and the blocks hold.
repaired() {
	local what=$1 ms text
	shift
	if qd_wait $BOUND "$what: the table is back" intact; then
		ms=$((($(date +%s%N) - t0) / 1000000))
		echo "ok:   $what: the table is back after $ms ms"
		qd_fig "$what: change to table seen back (polled)" "$ms ms"
	else
		echo "FAIL: $what: the table is back within $BOUND s"
		QD_FAILS=$((QD_FAILS + 1))
		qd_in gw nft list ruleset | head -40
	fi
	for text in "$@"; do
		qd_check "$what: the alert says \"$text\"" qd_wait 2 "alert: $text" alert "$text"
	done
	last=$(tail -n +$((QD_MARK + 1)) "$QD_EVENTS" | grep '"event":"error"' | tail -n 1)
	echo "$last"
	# The alert is written when the repair's last transaction is done.
	[ -n "$last" ] && qd_fig "$what: change to repair done" \
		"$(qd_tsdiff "$t0_ts" "$(echo "$last" | qd_field ts)") ms"
	qd_check "$what: $QD_INF still cannot reach $QD_WEB:80" qd_not qd_connect inf $QD_WEB 80
	qd_check "$what: $QD_BEN still cannot reach $QD_WEB:8080" \
		qd_not qd_connect ben $QD_WEB 8080
	qd_check "$what: $QD_BEN still reaches $QD_WEB:80" qd_connect ben $QD_WEB 80
	qd_check "$what: $QD_INF still listed isolated" test "$(qd_host_state $QD_INF)" = isolated
}

# start: the time of the change, for the figures.
start() {
	t0=$(date +%s%N)
	t0_ts=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)
}

qd_say "1. nft flush ruleset (nftables.service stop)"
qd_mark
start
qd_in gw nft flush ruleset
repaired "flush ruleset" "table recreated" "iso4 refilled with 1 element" \
	"isom refilled with 1 element" "conm refilled with 1 element" "by nft (pid"

qd_say "2. nft -f FILE that starts with flush ruleset (nftables.service start and reload)"
cat >"$QD_TMP/nftables.conf" <<-EOF
	flush ruleset
	table inet filter {
		chain input {
			type filter hook input priority filter; policy accept;
		}
		chain forward {
			type filter hook forward priority filter; policy accept;
		}
	}
EOF
qd_mark
start
qd_in gw nft -f "$QD_TMP/nftables.conf"
repaired "nft -f with flush ruleset" "table recreated" "iso4 refilled with 1 element"
qd_check "the other tool's table stays" qd_in gw nft list table inet filter >/dev/null

qd_say "3. one element deleted by hand"
qd_mark
start
qd_in gw nft delete element "$QD_FAMILY" quarantined iso4 "{ $QD_INF }"
repaired "delete element" "iso4 refilled with 1 element"
qd_check "delete element: the table was not rebuilt" qd_not alert "table recreated"

qd_say "4. a set flushed"
qd_mark
start
qd_in gw nft flush set "$QD_FAMILY" quarantined conm
repaired "flush set conm" "conm refilled with 1 element"

qd_say "5. the rules of a chain flushed"
qd_mark
start
qd_in gw nft flush chain "$QD_FAMILY" quarantined forward
repaired "flush chain forward" "chains rewritten"

qd_say "6. a flush every 100 ms for 15 s: the daemon stops repairing"
# CPU time (user + system, clock ticks) of the daemon.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$QD_DPID/stat"
}
hz=$(getconf CLK_TCK)
qd_mark
c0=$(cpu_ticks)
t0=$(date +%s%N)
end=$((t0 + 15000000000))
flushes=0
while [ "$(date +%s%N)" -lt $end ]; do
	qd_in gw nft flush ruleset
	flushes=$((flushes + 1))
	sleep 0.1
done
c1=$(cpu_ticks)
wall_ms=$((($(date +%s%N) - t0) / 1000000))
cpu_ms=$(((c1 - c0) * 1000 / hz))
qd_fig "flush loop: flushes in ${wall_ms} ms" "$flushes"
qd_fig "flush loop: daemon CPU time" "$cpu_ms ms of $wall_ms ms"
qd_check "the daemon used under 30% of a CPU ($cpu_ms ms in $wall_ms ms)" \
	test $((cpu_ms * 100)) -lt $((wall_ms * 30))
qd_check "an alert says repairs stopped" alert "repairs stop for 60 s"
tail -n +$((QD_MARK + 1)) "$QD_EVENTS" | grep -F "repairs stop" | head -n 1
nrep=$(tail -n +$((QD_MARK + 1)) "$QD_EVENTS" | grep -cF "repaired:")
qd_fig "flush loop: repairs before the hold" "$nrep"
qd_check "some repairs during the loop ($nrep)" test "$nrep" -ge 1
# Every repair of the test so far was within a minute: 10 at most.
nall=$(grep -cF "repaired:" "$QD_EVENTS")
qd_check "at most 10 repairs in the minute before the hold ($nall)" test "$nall" -le 10
qd_check "the daemon still runs" kill -0 "$QD_DPID"
# Held: the table stays gone, and the daemon is idle.
sleep 1
qd_check "held: no repair a second after the loop" qd_not intact
c0=$(cpu_ticks)
sleep 2
c1=$(cpu_ticks)
qd_check "held: the daemon is idle ($(((c1 - c0) * 1000 / hz)) ms of CPU in 2 s)" \
	test $(((c1 - c0) * 1000 / hz)) -lt 200

qd_say "   quarantinectl reload ends the hold"
qd_mark
start
qd_check "reload succeeds" qctl reload
repaired "reload after the hold" "table recreated" "iso4 refilled with 1 element"

qd_say "7. 10,000 more addresses isolated: flush ruleset, then flush set iso4"
for a in $(seq 0 39); do
	for b in $(seq 1 250); do
		echo "10.80.$a.$b"
	done
done >"$QD_TMP/bulk.txt"
qctl quarantine --from "$QD_TMP/bulk.txt" --reason bulk >/dev/null || exit 1
# iso4_count: the addresses in iso4.
iso4_count() {
	qd_in gw nft list set "$QD_FAMILY" quarantined iso4 2>/dev/null | grep -oE '10\.(66|80)\.[0-9.]+' | wc -l
}
qd_check "iso4 holds 10,001 addresses" test "$(iso4_count)" = 10001
qd_mark
start
qd_in gw nft flush ruleset
repaired "flush ruleset, 10,001 blocked" "table recreated" "iso4 refilled with 10001 elements"
qd_check "iso4 holds 10,001 addresses again" test "$(iso4_count)" = 10001
qd_mark
start
qd_in gw nft flush set "$QD_FAMILY" quarantined iso4
repaired "flush set iso4, 10,001 elements" "iso4 refilled with 10001 elements"
qd_check "iso4 holds 10,001 addresses again" test "$(iso4_count)" = 10001
qd_done
