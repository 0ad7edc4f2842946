#!/bin/bash
# e2e: an SMB worm on a LAN host is detected and isolated, and once the
# block is in the kernel none of its further probes reach the outside.
#
#   worm-isolated.sh QUARANTINED QUARANTINECTL WORM
#
# The infected host (10.66.1.10) probes tcp/445 of random addresses of
# 10.66.128.0/18 (all owned by the out namespace) at 50 probes/s.  The out
# namespace counts the SYNs that reach it; after the daemon's action event
# the count must not move over 4 s of continued scanning.  Once the worm
# has stopped, release unblocks the host at once, and the probes it sent
# while blocked (they time out in the daemon after scan.timeout) do not
# block it again.  Needs root;
# exit 77 (skipped) otherwise.  See lib.sh for the topology and the
# network safety rules.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"

qd_say "topology and quarantined (inet table, -i br0)"
qd_topology || exit 1
qd_count_add inf445 ip saddr $QD_INF tcp dport 445 'tcp flags & (syn|ack) == syn' || exit 1
qd_count_add infall ip saddr $QD_INF || exit 1
qd_daemon_start || exit 1

qd_say "infected $QD_INF: SMB worm, 50 probes/s to tcp/445 of $QD_NET_WORM"
qd_worm inf "$QD_TMP/worm.json" -n $QD_NET_WORM -p 445 -r 50 -d 12
worm=$QD_LAST

first=$(qd_wait_event 10 event=action host=$QD_INF enforced=true) || exit 1
c_first=$(qd_count inf445)
det=$(qd_wait_event 10 event=detect host=$QD_INF rule=smb-propagation) || exit 1
act=$(qd_wait_event 5 event=action host=$QD_INF level=isolate) || exit 1
c_block=$(qd_count inf445)
a_block=$(qd_count infall)
echo "detect: $det"
echo "action: $act"

qd_check "the detect event says smb-propagation, high, isolate, enforced" \
	test "$(echo "$det" | qd_json '"%s %s %s" % (d["severity"], d["action"], d["enforced"])')" = \
	"high isolate True"
qd_check "the action is automatic, until released" \
	test "$(echo "$act" | qd_json '"%s %s" % (d["by"], d["ttl_s"])')" = "auto 0"
qd_check "iso4 holds $QD_INF" qd_in_set iso4 $QD_INF
mac=$(qd_mac inf)
qd_check "isom holds its machine's MAC $mac" qd_in_set isom "$mac"
qd_check "the detect event names the machine's MAC" \
	test "$(echo "$det" | qd_field mac)" = "$mac"
qd_check "list --json names its MAC and addresses" test "$(qctl --json list | qd_json \
	"next(('%s %s' % (h['mac'], ','.join(h['addresses'])) for h in d if h['host'] == '$QD_INF'), '')")" = "$mac $QD_INF"
qd_check "quarantinectl list shows $QD_INF isolated" test "$(qd_host_state $QD_INF)" = isolated

qd_say "4 s of continued scanning after the block"
sleep 4 # the measurement window: the worm keeps probing
qd_check "the worm was still scanning during the window" kill -0 "$worm"
c_after=$(qd_count inf445)
a_after=$(qd_count infall)
qd_stop "$worm"
cat "$QD_TMP/worm.json"
sent=$(qd_json 'd["attempts"]' <"$QD_TMP/worm.json")
refused=$(qd_json 'd["refused"]' <"$QD_TMP/worm.json")

qd_check "no probe reached the outside after the block ($c_block then $c_after)" \
	test "$c_after" = "$c_block"
qd_check "no packet at all from $QD_INF reached the outside after the block ($a_block then $a_after)" \
	test "$a_after" = "$a_block"
qd_check "every probe that reached the outside was refused there, none other ($refused = $c_after)" \
	test "$refused" = "$c_after"

qd_say "release: connectivity back at once, and no new block from the probes sent before"
qd_check "quarantinectl release $QD_INF succeeds" qctl release $QD_INF
qd_check "released: the first connection right after the command succeeds" \
	qd_connect inf $QD_WEB 80
sleep 4 # scan.timeout (3 s) + 1 s: the probes the block dropped time out in the daemon
state=$(qd_host_state $QD_INF)
qd_check "4 s after the release $QD_INF is in no set" qd_not qd_in_any_set $QD_INF
qd_check "4 s after the release its MAC is in no set" qd_not qd_in_set isom "$mac"
qd_check "4 s after the release $QD_INF is not blocked (state $state)" \
	test "$state" != contained -a "$state" != isolated
if [ "$state" != released ]; then
	echo "events after the release:"
	sed -n "/\"event\":\"release\",\"host\":\"$QD_INF\"/,\$p" "$QD_EVENTS" |
		grep "\"host\":\"$QD_INF\""
fi

first_rule=$(echo "$first" | qd_field reason)
first_level=$(echo "$first" | qd_field level)
fp=$(echo "$det" | qd_field first_probe_ts)
qd_fig "probes that reached the outside before the block" "$c_block (of $sent sent)"
qd_fig "probes that reached the outside before the first block ($first_level by $first_rule)" \
	"$c_first"
qd_fig "first probe -> first block (action ts)" "$(qd_tsdiff "$fp" "$(echo "$first" | qd_field ts)") ms"
qd_fig "smb-propagation detect -> isolate action (event ts)" \
	"$(qd_tsdiff "$(echo "$det" | qd_field ts)" "$(echo "$act" | qd_field ts)") ms"
qd_fig "probes after the block, 4 s window" "$((c_after - c_block))"
qctl --json status >"$QD_TMP/status.json"
qd_fig "kernel transaction (status last/max)" \
	"$(qd_json '"%d us / %d us" % (d["last_commit_us"], d["max_commit_us"])' <"$QD_TMP/status.json")"
qd_done
