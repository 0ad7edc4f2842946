#!/bin/bash
# e2e: three gateways share their decisions through a three-node NATS
# cluster with JetStream (the bucket replicated on all three, R3), each
# with its own LAN, daemon and quarantine-sync (quarantine-sync(8)).
#
#   sync.sh QUARANTINED QUARANTINECTL WORM
#   (QD_SYNC: quarantine-sync; QD_KVTOOL: tests/e2e/kvtool; nats-server in PATH)
#
# The organisation is synclib.sh's: gateways A (namespace gw, LAN
# 10.66.1.0/24, the worm on 10.66.1.10), B (gwb, 10.66.3.0/24) and C (gwc,
# 10.66.4.0/24), a three-node cluster in the namespace bus.
#
#  - the worm on LAN A is isolated at A and blocked at B and C, as a
#    detection of source gateway:gw-a;
#  - its machine (its MAC) moves to LAN B with a LAN B address: blocked
#    there by its MAC, without any detection at B; a record naming B's own
#    MAC or a multicast MAC is refused;
#  - an operator's release at B releases it at A and C, and A relays it by
#    MAC: the moved machine is released at B and C too;
#  - an operator's allow and disallow at A reach B, which applies them
#    (networks.allow_from_gateways), and not C, which refuses them with an
#    error event (the default);
#  - hostile records written straight into the bucket (garbage, huge, a
#    never-block address, B's own address, an address outside B's
#    protected networks, a key of another gateway with a mismatching
#    origin) are refused with an error event, and a valid one after them
#    is applied;
#  - the revision applied is in B's state database, and a restarted sync
#    program resumes after it;
#  - a decision made while B's daemon is down is applied when it is back,
#    with the ports the operator gave;
#  - with every node stopped, a decision at A waits in A's outbox (a file),
#    also over a restart of A's sync program, and reaches B once the
#    cluster is back;
#  - propagation latency (an operator's quarantine at A to the detection
#    at B), p50 and p99, as figures;
#  - status shows the bus (the server, since when, the lag, the peers with
#    their latest record, the outbox, the merge view rebuilt at start);
#    list and show name the gateway a block came from;
#  - a restarted sync program rebuilds its merge view from the bucket: a
#    block and the release stored after it, written while it was stopped,
#    do not block and release the machine.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"
. "$(dirname "$0")/synclib.sh"
sync_setup

# bus_of SOCKET EXPR: EXPR of status --json's bus object (b).
bus_of() {
	"$QD_CTL" -S "$1" --json status | $QD_PY json "(lambda b: $2)(d.get('bus') or {})"
}
# bus_is SOCKET EXPR VALUE: bus_of says VALUE (asked again at each call:
# for qd_wait).
bus_is() {
	test "$(bus_of "$1" "$2")" = "$3"
}
# caught_up SOCKET: the sync program handled every record of the stream.
caught_up() {
	test "$(bus_of "$1" "b.get('lag')")" = 0
}
qd_say "status shows the bus: the server, since when, the lag, the outbox, the view"
qctlb status | grep '^bus'
qd_check "B's bus: connected to one of the cluster's servers ($(bus_of "$B_SOCK" "b.get('server')"))" \
	sh -c "'$QD_CTL' -S '$B_SOCK' --json status | $QD_PY json \"d['bus']['server']\" | grep -Eq '^nats://127\.0\.0\.[123]:4222\$'"
qd_check "B's bus: connected since a time" \
	test "$(bus_of "$B_SOCK" "b.get('since') is not None and b.get('connected')")" = true
qd_wait 15 "B's sync program reports the stream's last sequence" \
	bus_is "$B_SOCK" "b.get('stream_last') is not None" true
qd_check "B's bus: the lag is a count ($(bus_of "$B_SOCK" "b.get('lag')"))" \
	test "$(bus_of "$B_SOCK" "isinstance(b.get('lag'), int)")" = true
qd_check "B's bus: the outbox is empty" test "$(bus_of "$B_SOCK" "b.get('outbox')")" = 0
qd_check "B's bus: the view was rebuilt from the bucket at start" \
	test "$(bus_of "$B_SOCK" "b.get('view_rebuilt') is not None")" = true
qd_check "status says the lag and the view in words" \
	sh -c "'$QD_CTL' -S '$B_SOCK' status | grep -q '^bus records: .*lag [0-9]' &&
		'$QD_CTL' -S '$B_SOCK' status | grep -q '^bus view: .*rebuilt from [0-9]* records'"
qctlb metrics >"$QD_TMP/metrics-b"
grep '^quarantined_bus_' "$QD_TMP/metrics-b"
qd_check "metrics: quarantined_bus_connected 1 and the lag" \
	sh -c "grep -qx 'quarantined_bus_connected 1' '$QD_TMP/metrics-b' &&
		grep -q '^quarantined_bus_lag_records [0-9]' '$QD_TMP/metrics-b'"
PROMCHECK="$(command -v /usr/bin/python3 || command -v python3) $QD_DIR/../ctl/promcheck.py"
qd_check "metrics with the bus pass the strict format check" \
	eval "$PROMCHECK --prefix quarantined_ --json $QD_TMP/metrics-b >/dev/null"

qd_say "a worm on LAN A: isolated at A, blocked at B as gateway:gw-a"
qd_mark
qd_worm inf "$QD_TMP/worm.json" -n $QD_NET_WORM -p 445 -r 50 -d 10
worm=$QD_LAST
act=$(qd_wait_event 10 event=action host=$QD_INF level=isolate enforced=true) || exit 1
det_b=$(wait_b 15 event=detect host=$QD_INF rule=smb-propagation) || {
	tail -20 "$QD_TMP/sync-b.log"
	exit 1
}
echo "B: $det_b"
qd_check "B's detection says source gateway:gw-a" \
	test "$(echo "$det_b" | qd_field source)" = gateway:gw-a
qd_check "B's detection is enforced" test "$(echo "$det_b" | qd_field enforced)" = true
# B sees the machine by its address only, which a forger could hold:
# B's own policy caps a block by address (identity.unverified_max), as it
# would its own detection's.  Blocked all the same.
qd_wait 5 "B's table holds $QD_INF" in_any_set_b $QD_INF
qd_check "B's table holds $QD_INF ($(echo "$det_b" | qd_field action))" in_any_set_b $QD_INF
qd_check "B contains it on the worm's ports (tcp 445, 139)" \
	test "$(echo "$det_b" | qd_json '"%s %s" % (d["proto"], d["ports"])')" = "tcp [445, 139]"
det_c=$(wait_c 15 event=detect host=$QD_INF rule=smb-propagation) || exit 1
qd_check "C's detection says source gateway:gw-a" \
	test "$(echo "$det_c" | qd_field source)" = gateway:gw-a
qd_wait 5 "C's table holds $QD_INF" in_any_set_c $QD_INF
qd_check "C's table holds $QD_INF ($(echo "$det_c" | qd_field action))" in_any_set_c $QD_INF
qd_fig "worm isolated at A -> detection at B (event ts)" \
	"$(qd_tsdiff "$(echo "$act" | qd_field ts)" "$(echo "$det_b" | qd_field ts)") ms"
qd_stop "$worm"

qd_say "B and C name the gateway the block came from: status, list and show"
qd_wait 15 "B's status names peer gw-a with its latest record" \
	bus_is "$B_SOCK" "[p['gateway'] for p in b.get('peers_seen', []) if p.get('last_record')]" '["gw-a"]'
qd_wait 15 "B's sync program caught up (lag 0)" caught_up "$B_SOCK"
qd_check "B's status: lag 0, every record handled" caught_up "$B_SOCK"
qctlb status | grep '^bus'
qd_check "B's status names gw-a in words" \
	sh -c "'$QD_CTL' -S '$B_SOCK' status | grep -q '^bus peers: *gw-a (last record 20'"
list_json() { # list_json SOCKET HOST FIELD
	"$QD_CTL" -S "$1" --json list | $QD_PY json \
		"next((h.get('$3') for h in d if h.get('host') == '$2'), 'absent')"
}
for g in b c; do
	sock=$B_SOCK
	[ $g = c ] && sock=$C_SOCK
	qd_check "$g: list --json gives gateways [gw-a] for $QD_INF" \
		test "$(list_json "$sock" $QD_INF gateways)" = '["gw-a"]'
	qd_check "$g: list --json gives origins [gateway:gw-a]" \
		test "$(list_json "$sock" $QD_INF origins)" = '["gateway:gw-a"]'
	qd_check "$g: list --json still gives sources [gateway] (SPEC section 9)" \
		test "$(list_json "$sock" $QD_INF sources)" = '["gateway"]'
	line=$("$QD_CTL" -S "$sock" list | grep "^$QD_INF ")
	qd_check "$g: list says gateway:gw-a ($line)" \
		test "$(echo "$line" | awk '{ print $6 }')" = gateway:gw-a
	qd_check "$g: list --wide says where from" \
		sh -c "'$QD_CTL' -S '$sock' list --wide | grep '^$QD_INF ' | grep -qw 'gateway:gw-a'"
	"$QD_CTL" -S "$sock" show $QD_INF | grep -E '^(from|rule):|from gateway'
	qd_check "$g: show's header says from gateway:gw-a" \
		sh -c "'$QD_CTL' -S '$sock' show $QD_INF | grep -qx 'from: *gateway:gw-a'"
	qd_check "$g: show's rule line names gateway:gw-a" \
		sh -c "'$QD_CTL' -S '$sock' show $QD_INF | grep -q '^rule: *smb-propagation .*, from gateway:gw-a\$'"
	qd_check "$g: show's history names gateway:gw-a" \
		sh -c "'$QD_CTL' -S '$sock' show $QD_INF | grep -q '^ *from gateway:gw-a: '"
	qd_check "$g: show --json: the detection from gateway:gw-a" \
		test "$("$QD_CTL" -S "$sock" --json show $QD_INF | $QD_PY json "sorted(set(x.get('from') for x in d['detections']))")" = '["gateway:gw-a"]'
done
qd_check "A (where the worm is): origins [self], no gateway" \
	test "$(list_json "$QD_SOCK" $QD_INF origins) $(list_json "$QD_SOCK" $QD_INF gateways)" = '["self"] []'
# An operator at B blocks it too: B names both.
qd_check "an operator at B quarantines it too" \
	qctlb quarantine $QD_INF --level isolate --reason "seen here too"
qd_check "B's list --json names both origins" \
	test "$(list_json "$B_SOCK" $QD_INF origins)" = '["operator", "gateway:gw-a"]'
line=$(qctlb list | grep "^$QD_INF ")
qd_check "B's list says gateway:gw-a+1 ($line)" \
	test "$(echo "$line" | awk '{ print $6 }')" = gateway:gw-a+1
qd_check "B's show says from operator,gateway:gw-a" \
	sh -c "'$QD_CTL' -S '$B_SOCK' show $QD_INF | grep -qx 'from: *operator,gateway:gw-a'"

qd_say "its machine moves to LAN B: blocked there by its MAC, without a detection at B"
# A knows the worm's machine by its MAC, and publishes it keyed by the MAC
# too (with the address it had): B and C block that MAC before it shows up
# anywhere (a machine record of no address, its MAC in the kernel set).
WMAC=$(qd_mac inf)
det_bm=$(wait_b 15 event=detect mac="$WMAC" source=gateway:gw-a) || {
	tail -20 "$QD_TMP/sync-b.log"
	exit 1
}
echo "B: $det_bm"
qd_check "B's detection of the MAC $WMAC says source gateway:gw-a" \
	test "$(echo "$det_bm" | qd_field source)" = gateway:gw-a
qd_check "B's detection of the MAC carries the address it had at A" \
	sh -c "echo '$det_bm' | grep -q 'addr=$QD_INF'"
qd_wait 5 "B's table holds the MAC $WMAC" in_any_set_b "$WMAC"
qd_check "B's table holds the MAC $WMAC" in_any_set_b "$WMAC"
wait_c 15 event=detect mac="$WMAC" source=gateway:gw-a >/dev/null || exit 1
qd_wait 5 "C's table holds the MAC $WMAC" in_any_set_c "$WMAC"
qd_check "C's table holds the MAC $WMAC" in_any_set_c "$WMAC"
# A service of gateway B that B's LAN reaches.
qd_bg gwb $QD_PY serve --ready "$QD_TMP/gwb.ready" $GWB:8080
qd_wait 5 "B's service is up" test -e "$QD_TMP/gwb.ready"
qd_wait 5 "bh reaches B's service" qd_connect bh $GWB 8080
# The machine walks to LAN B: the same MAC, an address of LAN B.  br0's
# MAC is pinned first (a bridge takes the lowest MAC of its ports).
B_MARK=$(wc -l <"$B_EVENTS")
qd_in gwb ip link set br0 address "$(qd_in gwb cat /sys/class/net/br0/address)"
_qd_ns mv || exit 1
qd_in gwb ip link add v-mv type veth peer name eth0 netns "${QD_NS}mv"
qd_in gwb ip link set v-mv master br0
qd_in gwb ip link set v-mv up
qd_in mv ip link set eth0 address "$WMAC"
qd_in mv ip addr add 10.66.3.20/24 dev eth0
qd_in mv ip link set eth0 up
qd_in mv ip route add default via $GWB
qd_check "the moved machine does not reach B's service" qd_not qd_connect mv $GWB 8080
qd_check "bh still reaches B's service" qd_connect bh $GWB 8080
qd_wait 10 "B binds 10.66.3.20 to the blocked machine" sh -c \
	"'$QD_CTL' -S '$B_SOCK' --json show '$WMAC' | grep -q '10.66.3.20'"
bshow=$(qctlb --json show "$WMAC")
qd_check "B shows the machine $WMAC isolated ($(echo "$bshow" | qd_json 'd.get("state")'))" \
	test "$(echo "$bshow" | qd_json 'd.get("state")')" = isolated
qd_check "B shows the machine with its LAN B address 10.66.3.20" \
	sh -c "echo '$bshow' | grep -q '10.66.3.20'"
qd_check "the moved machine still does not reach B's service" qd_not qd_connect mv $GWB 8080
tail -n +$((B_MARK + 1)) "$B_EVENTS" >"$QD_TMP/b.moved"
qd_check "no detection at B of its own since the machine moved" \
	test -z "$($QD_PY events "$QD_TMP/b.moved" event=detect source=self)"
# A MAC is as easy to forge as an address: a record naming B's own MAC,
# or a multicast MAC, is refused with an error event.
BRMAC=$(qd_in gwb cat /sys/class/net/br0/address)
now=$(date +%s%6N)
for m in "$BRMAC" 01:00:5e:00:00:01; do
	printf 'cmd=block\tv=1\torigin=gw-x\thost=%s\tts=%s\tlevel=isolate\tseverity=high\trule=smb-propagation\texpires=0\n' \
		"$m" "$now" | kv put quarantine "gw-x.mac-$(echo "$m" | tr -d :)" >/dev/null
done
for m in "$BRMAC" 01:00:5e:00:00:01; do
	qd_wait 15 "B refuses the record of the MAC $m" sh -c \
		"$QD_PY events '$B_EVENTS' event=error | grep -qF 'gateway:gw-x for $m refused'"
	qd_check "B told the record of the MAC $m as refused" sh -c \
		"$QD_PY events '$B_EVENTS' event=error | grep -qF 'gateway:gw-x for $m refused'"
	qd_check "B's table holds nothing of the MAC $m" qd_not in_any_set_b "$m"
done
$QD_PY events "$B_EVENTS" event=error | grep -F 'gateway:gw-x for' | tail -2

qd_say "an operator releases it at B: released at A and C"
qd_mark
B_MARK=$(wc -l <"$B_EVENTS")
C_MARK=$(wc -l <"$C_EVENTS")
qd_check "quarantinectl release at B succeeds" qctlb release $QD_INF
rel=$(qd_wait_event 15 event=release host=$QD_INF) || {
	tail -20 "$QD_TMP/sync-a.log"
	exit 1
}
echo "A: $rel"
qd_check "A's release names gateway:gw-b" \
	sh -c "echo '$rel' | grep -q 'gateway:gw-b'"
qd_check "A's table no longer holds $QD_INF" qd_not qd_in_any_set $QD_INF
qd_check "B's table no longer holds $QD_INF" qd_not in_any_set_b $QD_INF
rel_c=$(wait_c 15 event=release host=$QD_INF) || exit 1
qd_check "C's release names gateway:gw-b (a release anywhere, against A's block)" \
	sh -c "echo '$rel_c' | grep -q 'gateway:gw-b'"
qd_check "C's table no longer holds $QD_INF" qd_not in_any_set_c $QD_INF
qd_check "A's history of $QD_INF says who released it" \
	sh -c "'$QD_CTL' -S '$QD_SOCK' show $QD_INF | grep -q 'gateway:gw-b'"
# B released the address; A, which knows the address's machine by its
# MAC, relays the release by MAC (once): the moved machine is released at
# B and C too.
qd_check "A relayed the release of the machine by its MAC" \
	wait_b 15 event=release mac="$WMAC" host=10.66.3.20
qd_check "B's table no longer holds the MAC $WMAC" qd_not in_any_set_b "$WMAC"
qd_wait 10 "C's table no longer holds the MAC $WMAC" qd_not in_any_set_c "$WMAC"
qd_check "C's table no longer holds the MAC $WMAC" qd_not in_any_set_c "$WMAC"
qd_check "the moved machine reaches B's service again" qd_connect mv $GWB 8080
sleep 1 # no echo: B does not get its own release back as A's
qd_check "A published no release of its own (no echo)" \
	qd_not sh -c "grep -q 'revision.*released $QD_INF' '$QD_TMP/sync-b.log'"

qd_say "allow and disallow shared: applied where the configuration says so (B), refused elsewhere (C)"
# B applies the allows of other gateways (networks.allow_from_gateways);
# C keeps the default, false.
sed -i 's/^networks: {$/networks: {\n  allow_from_gateways = true;/' "$QD_TMP/b.conf"
qd_check "B's configuration applies other gateways' allows" \
	grep -q 'allow_from_gateways = true' "$QD_TMP/b.conf"
qd_check "B reloads its configuration" qctlb reload
B_MARK=$(wc -l <"$B_EVENTS")
C_MARK=$(wc -l <"$C_EVENTS")
qd_check "quarantinectl allow 10.66.3.48/29 at A" qctl allow 10.66.3.48/29
allow_b=$(wait_b 15 event=allow prefix=10.66.3.48/29) || exit 1
qd_check "B applied A's allow (an allow event naming gateway:gw-a)" \
	test "$(echo "$allow_b" | qd_field reason)" = "gateway:gw-a: allow"
qd_check "B's allowlist holds 10.66.3.48/29" sh -c "'$QD_CTL' -S '$B_SOCK' allowlist | grep -qF 10.66.3.48/29"
qd_wait 15 "C tells its refusal of A's allow" \
	sh -c "$QD_PY events '$C_EVENTS' event=error | grep -qF allow_from_gateways"
allow_c=$($QD_PY events "$C_EVENTS" event=error | grep -F 'allow_from_gateways' | tail -1)
qd_check "C refused A's allow with an error event naming the switch" test -n "$allow_c"
echo "C: $allow_c"
qd_check "C's allowlist does not hold 10.66.3.48/29" \
	qd_not sh -c "'$QD_CTL' -S '$C_SOCK' allowlist | grep -qF 10.66.3.48/29"
# A block of an address inside it, from another gateway: B never blocks
# it now, C does.
now=$(date +%s%6N)
printf 'cmd=block\tv=1\torigin=gw-x\thost=10.66.3.52\tts=%s\tlevel=isolate\tseverity=high\trule=smb-propagation\texpires=0\n' \
	"$now" | kv put quarantine gw-x.ip4-10-66-3-52 >/dev/null
qd_wait 15 "C blocks 10.66.3.52" in_any_set_c 10.66.3.52
qd_check "C blocked 10.66.3.52 (its never-block list is its own)" in_any_set_c 10.66.3.52
qd_check "B refused the block of 10.66.3.52 (on its never-block list now)" \
	wait_b 15 event=detect host=10.66.3.52 enforced=false why=never-block
qd_check "B blocked nothing of 10.66.3.52" qd_not in_any_set_b 10.66.3.52
B_MARK=$(wc -l <"$B_EVENTS")
qd_check "quarantinectl disallow 10.66.3.48/29 at A" qctl disallow 10.66.3.48/29
qd_check "B applied A's disallow" wait_b 15 event=disallow prefix=10.66.3.48/29
qd_check "B's allowlist no longer holds 10.66.3.48/29" \
	qd_not sh -c "'$QD_CTL' -S '$B_SOCK' allowlist | grep -qF 10.66.3.48/29"

qd_say "hostile records written straight into the bucket"
B_MARK=$(wc -l <"$B_EVENTS")
now=$(date +%s%6N)
blk() { # blk ORIGIN HOST: a well-formed block value (SMB's ports)
	printf 'cmd=block\tv=1\torigin=%s\thost=%s\tts=%s\tlevel=isolate\tseverity=high\trule=smb-propagation\texpires=0\tproto=tcp\tports=445,139\n' \
		"$1" "$2" "$now"
}
printf 'garbage \001\002 not a record\n' | kv put quarantine gw-x.ip4-10-66-3-41 >/dev/null
head -c 100000 /dev/zero | tr '\0' x | kv put quarantine gw-x.ip4-10-66-3-42 >/dev/null
blk gw-x $B_NB | kv put quarantine gw-x.ip4-10-66-3-30 >/dev/null
blk gw-x $GWB | kv put quarantine gw-x.ip4-10-66-3-1 >/dev/null
blk gw-x 10.99.0.5 | kv put quarantine gw-x.ip4-10-99-0-5 >/dev/null
blk gw-a 10.66.3.43 | kv put quarantine gw-x.ip4-10-66-3-43 >/dev/null
blk gw-x 10.66.3.44 | kv put quarantine gw-x.ip4-10-66-3-44 >/dev/null
qd_wait 15 "B applies the valid record after them" in_any_set_b 10.66.3.44
qd_check "B blocked 10.66.3.44 (the valid record after the hostile ones)" in_any_set_b 10.66.3.44
for h in 10.66.3.41 10.66.3.42 $B_NB $GWB 10.99.0.5 10.66.3.43; do
	qd_check "B blocked nothing of $h" qd_not in_any_set_b $h
done
# Counted from the section's start (the sections before have their own).
tail -n +$((B_MARK + 1)) "$B_EVENTS" >"$QD_TMP/b.hostile"
nerr=$($QD_PY events "$QD_TMP/b.hostile" event=error | grep -c 'sync: decision of gateway')
qd_check "B told each of the 6 hostile records as an error event ($nerr)" test "$nerr" -ge 6
$QD_PY events "$B_EVENTS" event=error | grep 'sync: decision' | tail -6
qd_check "B's daemon is still running" kill -0 "$B_DPID"
qd_check "A's daemon is still running" kill -0 "$QD_DPID"

qd_say "the revision applied is in B's state database; a restarted sync program resumes after it, its view rebuilt"
rev_db() {
	sqlite3 -readonly -batch "$B_STATE/state.db" \
		"SELECT value FROM meta WHERE key = 'sync_rev'" 2>/dev/null
}
qd_wait 10 "B's state database holds a revision" sh -c "test \"\$(sqlite3 -readonly -batch '$B_STATE/state.db' \"SELECT value FROM meta WHERE key = 'sync_rev'\" 2>/dev/null)\" -gt 0"
rev=$(rev_db)
qd_check "B's meta table holds sync_rev ($rev)" test "${rev:-0}" -gt 0
qd_stop "$SYNC_B"
# While it is stopped: gw-x blocks 10.66.3.45, and gw-y releases it after.
# The restarted program reads both; its view, rebuilt from the bucket
# first, holds the release, so the block is not applied (no block and
# release of a machine whose release was already stored).
B_MARK=$(wc -l <"$B_EVENTS")
now=$(date +%s%6N)
blk gw-x 10.66.3.45 | kv put quarantine gw-x.ip4-10-66-3-45 >/dev/null
printf 'cmd=release\tv=1\torigin=gw-y\thost=10.66.3.45\tts=%s\treason=cleaned\n' "$now" |
	kv put quarantine gw-y.ip4-10-66-3-45 >/dev/null
consuming() {
	grep -c "consuming KV_quarantine from revision" "$QD_TMP/sync-b.log"
}
n0=$(consuming)
start_sync b
SYNC_B=$QD_LAST
qd_wait 20 "the restarted sync program consumes again" sh -c "[ \$(grep -c 'consuming KV_quarantine from revision' '$QD_TMP/sync-b.log') -gt $n0 ]"
from=$(grep -o 'consuming KV_quarantine from revision [0-9]*' "$QD_TMP/sync-b.log" | tail -1 |
	awk '{print $NF}')
qd_check "it resumed after the daemon's revision ($from > $rev - 1)" test "$from" -gt "$rev"
grep 'view: rebuilt' "$QD_TMP/sync-b.log" | tail -1
qd_wait 15 "B's status says the view was rebuilt from the bucket" \
	bus_is "$B_SOCK" "(b.get('view_rebuilt') or {}).get('records', 0) >= 8" true
qd_check "B's view holds the machines of the bucket ($(bus_of "$B_SOCK" "b.get('view_machines')"))" \
	test "$(bus_of "$B_SOCK" "b.get('view_machines', 0) >= 5")" = true
qd_check "B names its peers at once, gw-a among them" \
	test "$(bus_of "$B_SOCK" "'gw-a' in b.get('peers', [])")" = true
qd_wait 15 "B's sync program caught up again" caught_up "$B_SOCK"
qd_check "B did not apply gw-x's block of 10.66.3.45, released after it by gw-y" \
	qd_not wait_b 1 event=detect host=10.66.3.45
qd_check "B's table does not hold 10.66.3.45" qd_not in_any_set_b 10.66.3.45
qd_check "B's sync program said why (superseded)" \
	grep -q 'gw-x.ip4-10-66-3-45): superseded' "$QD_TMP/sync-b.log"

qd_say "B's daemon is down while A decides: B catches up when it is back"
kill -TERM "$B_DPID"
wait "$B_DPID" 2>/dev/null
B_MARK=$(wc -l <"$B_EVENTS")
qd_check "quarantine at A while B's daemon is down" \
	qctl quarantine 10.66.1.200 --level isolate --proto tcp --ports 445 --reason "while B was down"
sleep 2 # the record reaches B's sync program, which cannot hand it over
ip netns exec "${QD_NS}gwb" "$QD_Q" -f -o json -i br0 -c "$QD_TMP/b.conf" -S "$B_SOCK" \
	-D "$B_STATE" >>"$B_EVENTS" 2>>"$QD_TMP/b.log" &
B_DPID=$!
QD_PIDS="$QD_PIDS $B_DPID"
qd_wait 15 "B's daemon answers again" qctlb status >/dev/null
det200=$(wait_b 20 event=detect host=10.66.1.200 source=gateway:gw-a)
qd_check "B applied the decision made while it was down" test -n "$det200"
# An operator's block carries the ports it was given (--proto tcp --ports
# 445): B's detection names them, and a containment there would block them.
qd_check "B's detection carries the operator's ports (tcp [445])" \
	test "$(echo "$det200" | qd_json '"%s %s" % (d["proto"], d["ports"])')" = "tcp [445]"
b_state() {
	qctlb --json list | $QD_PY json \
		"next((h.get('state') for h in d if h.get('host') == '$1'), 'absent')"
}
qd_check "B's record of 10.66.1.200 is blocked ($(b_state 10.66.1.200))" \
	test "$(b_state 10.66.1.200)" = contained -o "$(b_state 10.66.1.200)" = isolated
qd_wait 5 "B's table holds 10.66.1.200" in_any_set_b 10.66.1.200
qd_check "B's table holds 10.66.1.200" in_any_set_b 10.66.1.200
qd_check "B still holds 10.66.3.44 (its state, not the bus, kept it)" in_any_set_b 10.66.3.44

qd_say "propagation latency: 40 operator quarantines at A, each seen at B"
qd_wait 30 "B's sync program is connected again" sync_up "$B_SOCK"
qd_mark
B_MARK=$(wc -l <"$B_EVENTS")
for i in $(seq 100 139); do
	qctl quarantine 10.66.1.$i --level isolate --reason latency >/dev/null
	sleep 0.05
done
qd_wait 30 "B saw all 40" sh -c "[ \$($QD_PY events '$B_EVENTS' event=detect source=gateway:gw-a | grep -c '10\.66\.1\.1[0-3][0-9]\"') -ge 40 ]"
python3 - "$QD_EVENTS" "$B_EVENTS" >"$QD_TMP/lat" <<'EOF'
import json, re, sys, datetime
def ts(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
def load(path, pred):
    out = {}
    for line in open(path):
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if pred(d) and re.match(r"10\.66\.1\.1[0-3][0-9]$", d.get("host", "")):
            out.setdefault(d["host"], ts(d["ts"]))
    return out
a = load(sys.argv[1], lambda d: d.get("event") == "action" and d.get("reason") == "latency")
b = load(sys.argv[2], lambda d: d.get("event") == "detect" and d.get("source") == "gateway:gw-a")
v = sorted((b[h] - a[h]) * 1000 for h in a if h in b)
if not v:
    print("0 none none")
else:
    p = lambda q: v[min(len(v) - 1, int(q * len(v)))]
    print("%d %.1f %.1f" % (len(v), p(0.5), p(0.99)))
EOF
read -r n p50 p99 <"$QD_TMP/lat"
qd_check "B saw the 40 quarantines of A ($n)" test "$n" = 40
qd_fig "propagation A action -> B detect, $n decisions: p50" "$p50 ms"
qd_fig "propagation A action -> B detect, $n decisions: p99" "$p99 ms"

qd_say "the bus is away: A's decision waits in its outbox, also over a restart of A's sync program"
for i in 1 2 3; do
	eval "qd_stop \$NODE_$i"
done
qd_wait 20 "A's daemon says the bus is not connected" qd_not sync_up "$QD_SOCK"
B_MARK=$(wc -l <"$B_EVENTS")
qd_check "quarantine at A while the bus is away" \
	qctl quarantine 10.66.1.210 --level isolate --proto tcp --ports 445 --reason "bus away"
qd_wait 10 "A's outbox holds it" outbox_has "$QD_TMP/sync-a.state/outbox" 'host=10\.66\.1\.210'
qd_check "A's outbox holds the decision" grep -q 'host=10.66.1.210' "$QD_TMP/sync-a.state/outbox"
qd_stop "$SYNC_A"
start_sync a
SYNC_A=$QD_LAST
t_back=$(date +%s%N)
for i in 1 2 3; do
	start_node $i
done
qd_check "B applied it once the bus was back" \
	wait_b 90 event=detect host=10.66.1.210 source=gateway:gw-a
qd_fig "catch-up: three nodes started again -> the outbox's decision seen at B" \
	"$((($(date +%s%N) - t_back) / 1000000)) ms (at most)"
qd_check "A's outbox is empty again" test ! -e "$QD_TMP/sync-a.state/outbox"
grep 'outbox' "$QD_TMP/sync-a.log" | tail -3

qd_say "one worm at two sites: C's incident names patient zero at A; the events stream holds both"
# The events stream, made by the administrator as quarantine-sync(8) says
# (R3, 30 days, 1 GiB, a 10-minute duplicate window).  The sync programs
# have queued their events since they started; they publish them now.
qd_wait 60 "the events stream QD_EVENTS is created with 3 replicas" \
	kv stream-create QD_EVENTS 'qd.events.>' 3 64 2>/dev/null || exit 1
qctlc() {
	"$QD_CTL" -S "$C_SOCK" "$@"
}
qd_wait 30 "C's sync program is connected again" sync_up "$C_SOCK"
# What C queued before the stream existed waits for its next try (at most
# 5 s after a refused publish): once it is in, C publishes as it goes,
# and the figure below is that path, not the retry.
stream_has_c() {
	kv stream-read QD_EVENTS 2>/dev/null | awk -F'\t' '$2 ~ /^qd\.events\.gw-c\./ { n++ } END { exit !n }'
}
qd_wait 30 "C's queued events are in the stream" stream_has_c || exit 1
qd_host_add wa 10.66.1.50/24 || exit 1
_qd_ns ch || exit 1
qd_in gwc ip link add v-ch type veth peer name eth0 netns "${QD_NS}ch"
qd_in gwc ip link set v-ch master br0
qd_in gwc ip link set v-ch up
qd_in ch ip addr add 10.66.4.10/24 dev eth0
qd_in ch ip link set eth0 up
qd_in ch ip route add default via 10.66.4.1
qd_mark
C_MARK=$(wc -l <"$C_EVENTS")
qd_worm wa "$QD_TMP/worm-a2.json" -n $QD_NET_WORM -p 445 -r 50 -d 8
worm_a=$QD_LAST
det_a=$(qd_wait_event 15 event=detect host=10.66.1.50 rule=smb-propagation) || exit 1
wait_c 15 event=detect host=10.66.1.50 source=gateway:gw-a >/dev/null || exit 1
# The same malware on C's LAN, seconds later: its first probe is later.
qd_worm ch "$QD_TMP/worm-c.json" -n $QD_NET_WORM -p 445 -r 50 -d 8
worm_c=$QD_LAST
det_c2=$(wait_c 20 event=detect host=10.66.4.10 rule=smb-propagation source=self) || exit 1
inc_c=$(wait_c 10 event=incident host=10.66.4.10) || exit 1
qd_stop "$worm_a"
qd_stop "$worm_c"
echo "C: $inc_c"
pz=$(echo "$inc_c" | qd_field patient_zero)
inc_id=$(echo "$inc_c" | qd_field id)
qd_check "C's host joined incident $inc_id at C" \
	test "$(echo "$det_c2" | qd_field incident)" = "$inc_id"
qd_check "C's incident's patient zero ($pz) is a host of A's LAN" \
	sh -c "echo '$pz' | grep -q '^10\.66\.1\.'"
qd_check "C's incident says patient zero was seen by gateway:gw-a" \
	test "$(echo "$inc_c" | qd_field patient_zero_source)" = gateway:gw-a
# Patient zero's first probe is one A saw (passed on with its block),
# earlier than C's own host's.
first_c=$(echo "$inc_c" | qd_field first_ts)
qd_check "C's incident's first probe ($first_c) is A's first probe of $pz" \
	sh -c "$QD_PY events '$QD_EVENTS' event=detect host='$pz' source=self | grep -qF '\"first_probe_ts\":\"$first_c\"'"
qd_check "it is earlier than C's host's own first probe" \
	test "$(qd_tsdiff "$(echo "$inc_c" | qd_field first_ts)" "$(echo "$det_c2" | qd_field first_probe_ts)" | cut -d. -f1)" -gt 0
a_inc=$(echo "$det_a" | qd_field incident)
qd_check "C's incident links to A's incident $a_inc of 10.66.1.50" \
	test "$(echo "$inc_c" | qd_json "any(l['gateway'] == 'gw-a' and l['incident'] == $a_inc for l in d.get('links', []))")" = true
qctlc --json incident "$inc_id" >"$QD_TMP/inc-c.json"
qctlc incident "$inc_id" | tee "$QD_TMP/inc-c.txt"
member() { # member HOST EXPR: EXPR of HOST's entry in C's timeline (JSON)
	$QD_PY json "next((str($2) for m in d['members'] if m['host'] == '$1'), 'absent')" <"$QD_TMP/inc-c.json"
}
qd_check "C's timeline names 10.66.1.50 as seen by gateway:gw-a" \
	test "$(member 10.66.1.50 "m['source']")" = gateway:gw-a
qd_check "C's timeline names 10.66.4.10 as seen by C itself" \
	test "$(member 10.66.4.10 "m['source']")" = self
qd_check "C's timeline starts with patient zero $pz" \
	test "$($QD_PY json "d['members'][0]['host']" <"$QD_TMP/inc-c.json")" = "$pz"
qd_check "C's timeline is in order of first probe" \
	test "$($QD_PY json "[m['first_probe_ts'] for m in d['members']] == sorted(m['first_probe_ts'] for m in d['members'])" <"$QD_TMP/inc-c.json")" = true
qd_check "C's text timeline says patient zero was seen by gateway:gw-a" \
	grep -q "^patient zero: $pz, seen by gateway:gw-a" "$QD_TMP/inc-c.txt"
qd_check "C's text timeline names itself for its own host" \
	grep -q "10\.66\.4\.10 .*self (gw-c)" "$QD_TMP/inc-c.txt"

# The control center's view: the stream, read as a consumer would.
stream_has() { # stream_has SUBJECT PYTHON-PREDICATE-ON-d
	kv stream-read QD_EVENTS 2>/dev/null | awk -F'\t' -v s="$1" '$2 == s { print $5 }' |
		while read -r l; do
			echo "$l" | $QD_PY json "$2" 2>/dev/null
		done | grep -qx true
}
qd_wait 30 "the stream holds A's detection of 10.66.1.50" \
	stream_has qd.events.gw-a.detect "d['gateway'] == 'gw-a' and d['host'] == '10.66.1.50'"
qd_check "the stream holds A's detection of 10.66.1.50, gateway gw-a" \
	stream_has qd.events.gw-a.detect "d['gateway'] == 'gw-a' and d['host'] == '10.66.1.50'"
qd_wait 30 "the stream holds C's detection of 10.66.4.10" \
	stream_has qd.events.gw-c.detect "d['gateway'] == 'gw-c' and d['host'] == '10.66.4.10'"
qd_check "the stream holds C's detection of 10.66.4.10, gateway gw-c" \
	stream_has qd.events.gw-c.detect "d['gateway'] == 'gw-c' and d['host'] == '10.66.4.10'"
qd_check "the stream holds A's incident of 10.66.1.50" \
	stream_has qd.events.gw-a.incident "d['gateway'] == 'gw-a' and d['id'] == $a_inc"
qd_check "the stream holds C's incident $inc_id, patient zero $pz at gw-a, linked to A's $a_inc" \
	stream_has qd.events.gw-c.incident "d['gateway'] == 'gw-c' and d['id'] == $inc_id and d['patient_zero'] == '$pz' and d['patient_zero_source'] == 'gateway:gw-a' and {'gateway': 'gw-a', 'incident': $a_inc} in d['links']"
kv stream-read QD_EVENTS >"$QD_TMP/stream" 2>&1
qd_check "C did not publish A's block as its own detection (no echo)" \
	qd_not stream_has qd.events.gw-c.detect "d['host'] == '10.66.1.50'"
bad=$(awk -F'\t' '{ split($2, s, "."); if (index($3, s[3] "-") != 1) n++ } END { print n + 0 }' "$QD_TMP/stream")
dup=$(cut -f3 "$QD_TMP/stream" | sort | uniq -d | wc -l)
qd_check "every Nats-Msg-Id names the subject's gateway ($bad do not)" test "$bad" = 0
qd_check "no Nats-Msg-Id twice in the stream ($dup)" test "$dup" = 0
# How long an event takes to be in the stream: from the detection's time
# in C's event to the time the servers stored it (one machine's clock).
lat=$(awk -F'\t' '$2 == "qd.events.gw-c.detect" { print $4 "\t" $5 }' "$QD_TMP/stream" |
	python3 -c '
import datetime, json, sys
for l in sys.stdin:
    ns, data = l.rstrip("\n").split("\t", 1)
    d = json.loads(data)
    if d.get("host") == "10.66.4.10":
        t = datetime.datetime.strptime(d["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
        print("%.1f" % (int(ns) / 1e6 - t.timestamp() * 1e3))
        break')
qd_fig "events stream: C's detection of 10.66.4.10 (event ts) -> stored in QD_EVENTS" "${lat:-none} ms"
qd_fig "events stream: messages from A, B and C" \
	"$(wc -l <"$QD_TMP/stream") ($(cut -f2 "$QD_TMP/stream" | cut -d. -f3 | sort | uniq -c | tr -s ' ' | tr '\n' ' '))"
qd_fig "machine load (1-minute average, 2 cores shared)" "$(cut -d' ' -f1 /proc/loadavg)"
qd_done
