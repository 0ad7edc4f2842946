#!/bin/bash
# e2e: the operator's commands change the kernel at once.
#
#   operator.sh QUARANTINED QUARANTINECTL WORM
#
# 1. An SSH worm gets the infected host (10.66.1.10) contained; escalate
#    isolates it, deescalate contains it again (on the rule's tcp/22),
#    escalate isolates it again; release restores its connectivity at once
#    (the very first connection after the command succeeds), and the host
#    is not blocked again by what it sent before the release.
# 2. Manual quarantine of a host nobody flagged (10.66.1.20): isolate
#    (the default level), contain on given ports, release.
# 3. quarantine --ttl 3s: the kernel drops the element by itself; the
#    host's connectivity is back within TTL + 2 s, and the daemon reports
#    the release.
# Needs root; exit 77 (skipped) otherwise.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"

qd_say "topology and quarantined"
qd_topology || exit 1
qd_count_add inf22 ip saddr $QD_INF tcp dport 22 'tcp flags & (syn|ack) == syn' || exit 1
qd_daemon_start || exit 1

qd_say "1. infected $QD_INF: SSH worm, 50 probes/s, 2 s"
qd_worm inf "$QD_TMP/worm.json" -n $QD_NET_WORM -p 22 -r 50 -d 2
worm=$QD_LAST
qd_wait_event 10 event=action host=$QD_INF level=contain >/dev/null || exit 1
wait "$worm"
cat "$QD_TMP/worm.json"
qd_check "contained: conm holds $(qd_mac inf) . tcp . 22" qd_in_set conm "$(qd_mac inf) . tcp . 22"

qd_check "escalate succeeds" qctl escalate $QD_INF
qd_check "escalated: iso4 holds $QD_INF" qd_in_set iso4 $QD_INF
qd_check "escalated: state isolated" test "$(qd_host_state $QD_INF)" = isolated
qd_check "escalated: the action event names the operator (uid 0)" \
	test -n "$(qd_events event=action host=$QD_INF level=isolate by=0)"
qd_check "escalated: $QD_INF cannot reach $QD_WEB:80" qd_not qd_connect inf $QD_WEB 80

qd_check "deescalate succeeds" qctl deescalate $QD_INF
qd_check "deescalated: conm holds $(qd_mac inf) . tcp . 22 (the rule's port)" \
	qd_in_set conm "$(qd_mac inf) . tcp . 22"
qd_check "deescalated: iso4 no longer holds $QD_INF" qd_not qd_in_set iso4 $QD_INF
qd_check "deescalated: state contained" test "$(qd_host_state $QD_INF)" = contained
qd_check "deescalated: $QD_INF reaches $QD_WEB:80" qd_connect inf $QD_WEB 80
qd_check "escalate again succeeds" qctl escalate $QD_INF
qd_check "escalated: iso4 holds $QD_INF" qd_in_set iso4 $QD_INF
qd_check "escalated: conm no longer holds $(qd_mac inf) . tcp . 22" \
	qd_not qd_in_set conm "$(qd_mac inf) . tcp . 22"

t0=$(date +%s%N)
qd_check "release succeeds" qctl release $QD_INF
qd_check "released: the first connection right after the command succeeds" \
	qd_connect inf $QD_WEB 80
t1=$(date +%s%N)
qd_check "released: in no set" qd_not qd_in_any_set $QD_INF
qd_check "released: a release event by uid 0" \
	test -n "$(qd_events event=release host=$QD_INF by=0)"
qd_fig "release command -> first successful connection" \
	"$(((t1 - t0) / 1000000)) ms (both processes included)"
# The worm stopped before the release; the probes it sent while blocked
# (which time out in the daemon after scan.timeout, 3 s) must not block
# the host again once an operator has released it.
qd_say "   the released host stays unblocked (scan.timeout 3 s + 1 s)"
sleep 4 # nothing to poll for: the released host must stay unblocked
state=$(qd_host_state $QD_INF)
qd_check "4 s after the release it is in no set" qd_not qd_in_any_set $QD_INF
qd_check "4 s after the release it is not blocked (state $state)" \
	test "$state" != contained -a "$state" != isolated
qd_check "4 s after the release it reaches $QD_WEB:80" qd_connect inf $QD_WEB 80
echo "events after the release:"
sed -n "/\"event\":\"release\",\"host\":\"$QD_INF\"/,\$p" "$QD_EVENTS" | grep "\"host\":\"$QD_INF\""

c22=$(qd_count inf22)
qd_fig "ssh worm: probes that reached the outside before the block" "$c22"

qd_say "2. manual quarantine of $QD_BEN (never flagged)"
qd_check "quarantine $QD_BEN (default level) succeeds" qctl quarantine $QD_BEN --reason e2e
qd_check "iso4 holds $QD_BEN" qd_in_set iso4 $QD_BEN
qd_check "state isolated" test "$(qd_host_state $QD_BEN)" = isolated
qd_check "$QD_BEN cannot reach $QD_WEB:80" qd_not qd_connect ben $QD_WEB 80
qd_check "contain --proto tcp --ports 80 succeeds" \
	qctl quarantine $QD_BEN --level contain --proto tcp --ports 80
qd_check "conm holds $(qd_mac ben) . tcp . 80" qd_in_set conm "$(qd_mac ben) . tcp . 80"
qd_check "iso4 no longer holds $QD_BEN" qd_not qd_in_set iso4 $QD_BEN
qd_check "contained on tcp/80: $QD_BEN cannot reach $QD_WEB:80" qd_not qd_connect ben $QD_WEB 80
qd_check "contained on tcp/80: $QD_BEN reaches $QD_WEB:8080" qd_connect ben $QD_WEB 8080
qd_check "release succeeds" qctl release $QD_BEN
qd_check "released: $QD_BEN reaches $QD_WEB:80 at once" qd_connect ben $QD_WEB 80
qd_check "released: in no set" qd_not qd_in_any_set $QD_BEN

qd_say "3. quarantinectl quarantine $QD_BEN --ttl 3s"
t0=$(date +%s%N)
qd_check "quarantine --ttl 3s succeeds" qctl quarantine $QD_BEN --ttl 3s
qd_check "iso4 holds $QD_BEN with a timeout" qd_elem_has iso4 $QD_BEN "timeout 3s"
qd_check "the action event has ttl_s 3" test -n "$(qd_events event=action host=$QD_BEN ttl_s=3)"
qd_check "$QD_BEN cannot reach $QD_WEB:80" qd_not qd_connect ben $QD_WEB 80
qd_wait 6 "the element expires" qd_not qd_in_set iso4 $QD_BEN
t_gone=$(date +%s%N)
QD_CONNECT_TIMEOUT=0.2 qd_wait 6 "$QD_BEN reaches $QD_WEB:80 again" qd_connect ben $QD_WEB 80
t_back=$(date +%s%N)
gone_ms=$(((t_gone - t0) / 1000000))
back_ms=$(((t_back - t0) / 1000000))
qd_check "the element was gone after the TTL, within TTL + 2 s ($gone_ms ms)" \
	test $gone_ms -ge 2800 -a $gone_ms -le 5000
qd_check "connectivity was back within TTL + 2 s ($back_ms ms)" test $back_ms -le 5000
rel=$(qd_wait_event 3 event=release host=$QD_BEN by=auto) || rel=""
qd_check "the daemon reported the expiry as a release ($(echo "$rel" | qd_field reason))" \
	test -n "$rel"
qd_check "state released" test "$(qd_host_state $QD_BEN)" = released
qd_fig "ttl 3s: element gone / connectivity back after" "$gone_ms ms / $back_ms ms"
qd_done
