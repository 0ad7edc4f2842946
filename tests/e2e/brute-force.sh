#!/bin/bash
# e2e: password guessing against one server, contained towards that
# server's port only.
#
#   brute-force.sh QUARANTINED QUARANTINECTL WORM
#
# Two "ssh" servers in the out namespace, 10.66.200.22 and 10.66.200.23,
# listen on tcp/22 (10.66.200.22 on tcp/8080 too): each answers a line and
# closes, as sshd does after refused passwords.
#
# 1. The benign host logs in four times (a person retrying): nothing.
# 2. The infected host (10.66.1.10) opens connection after connection to
#    10.66.200.22:22, 20 a second: login-guessing watches it at its 6th
#    short connection, login-bruteforce contains it at its 20th, towards
#    10.66.200.22 tcp/22 only.  The loop's own count shows that no more
#    than a few connections got through after the threshold.  Then it
#    cannot reach 10.66.200.22:22, but still reaches the other server's
#    tcp/22, 10.66.200.22:8080 and the web; the benign host still reaches
#    10.66.200.22:22; it is not isolated.
# 3. It turns to 10.66.200.23:22: contained towards that server too (the
#    same rule, another server), still not isolated.
# 4. Released, it reaches both servers' tcp/22 again.
# Needs root; exit 77 (skipped) otherwise.  See lib.sh for the topology
# and the network safety rules.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"

SSH1=10.66.200.22
SSH2=10.66.200.23

qd_say "topology, two ssh servers, quarantined"
qd_topology || exit 1
qd_bg out $QD_PY serve --ready "$QD_TMP/ssh.ready" $SSH1:22 $SSH1:8080 $SSH2:22
qd_wait 10 "ssh servers listening" test -e "$QD_TMP/ssh.ready" || exit 1
qd_config
qd_daemon_start || exit 1
mac=$(qd_mac inf)

qd_say "1. $QD_BEN logs in to $SSH1 four times"
qd_mark
for _ in 1 2 3 4; do
	qd_check "$QD_BEN reaches $SSH1:22" qd_connect ben $SSH1 22
	sleep 0.3
done
sleep 1
qd_check "no detection for $QD_BEN" qd_not qd_wait_event 0 event=detect host=$QD_BEN

qd_say "2. $QD_INF guesses passwords on $SSH1:22, 20 connections a second"
qd_mark
qd_bg_out inf "$QD_TMP/brute.json" $QD_PY loop --interval 0.05 --timeout 0.3 $SSH1:22
loop=$QD_LAST
watch=$(qd_wait_event 10 event=detect host=$QD_INF rule=login-guessing) || exit 1
echo "$watch"
ev=$(qd_wait_event 15 event=detect host=$QD_INF rule=login-bruteforce) || exit 1
echo "$ev"
qd_wait_event 5 event=action host=$QD_INF level=contain >/dev/null || exit 1
sleep 1
qd_stop "$loop"
cat "$QD_TMP/brute.json"
ok=$(qd_json 'd["ok"]' <"$QD_TMP/brute.json")
qd_fig "connections that got through" "$ok"
qd_check "login-guessing watched it at 6 connections to $SSH1" \
	test "$(echo "$watch" | qd_json '"%s %s %s" % (d["action"], d["evidence"]["connections"], d["evidence"]["target"])')" = "watch 6 $SSH1"
qd_check "login-bruteforce is medium, on tcp/22, 20 connections to $SSH1" \
	test "$(echo "$ev" | qd_json '"%s %s %s %s %s" % (d["severity"], d["proto"], d["ports"], d["evidence"]["connections"], d["evidence"]["target"])')" = "medium tcp [22] 20 $SSH1"
qd_check "status counts at least 20 short connections followed" \
	test "$(qctl --json status | qd_json 'd["connections"]["short"] >= 20 and d["connections"]["followed"] >= d["connections"]["short"]')" = true
qd_check "blocked within the threshold: 20 to 25 connections got through" \
	test "$ok" -ge 20 -a "$ok" -le 25
qd_check "the contain set holds $mac . $SSH1 . tcp . 22" \
	qd_in_set conhm4 "$mac . $SSH1 . tcp . 22"
qd_check "no contain of tcp/22 towards everyone" qd_not qd_in_set conm "$mac . tcp . 22"
qd_check "state contained" test "$(qd_host_state $QD_INF)" = contained
qd_check "show names the server" \
	test "$(qd_show_json $QD_INF '" ".join("%s/%s to %s" % (p["proto"], p["port"], p["to"]) for p in d["contained_ports_to"])')" = "tcp/22 to $SSH1"
qd_check "$QD_INF cannot reach $SSH1:22" qd_not qd_connect inf $SSH1 22
qd_check "$QD_INF still reaches $SSH2:22" qd_connect inf $SSH2 22
qd_check "$QD_INF still reaches $SSH1:8080" qd_connect inf $SSH1 8080
qd_check "$QD_INF still reaches $QD_WEB:80" qd_connect inf $QD_WEB 80
qd_check "$QD_BEN still reaches $SSH1:22" qd_connect ben $SSH1 22
qd_check "not isolated" qd_not qd_in_set iso4 $QD_INF

qd_say "3. $QD_INF turns to $SSH2:22"
qd_mark
qd_bg_out inf "$QD_TMP/brute2.json" $QD_PY loop --interval 0.05 --timeout 0.3 $SSH2:22
loop=$QD_LAST
ev=$(qd_wait_event 15 event=detect host=$QD_INF rule=login-bruteforce) || exit 1
echo "$ev"
qd_wait 5 "the contain set holds $mac . $SSH2 . tcp . 22" \
	qd_in_set conhm4 "$mac . $SSH2 . tcp . 22" || exit 1
sleep 1
qd_stop "$loop"
qd_check "the detection names $SSH2" \
	test "$(echo "$ev" | qd_json 'd["evidence"]["target"]')" = $SSH2
qd_check "still contained towards $SSH1" qd_in_set conhm4 "$mac . $SSH1 . tcp . 22"
qd_check "$QD_INF cannot reach $SSH2:22" qd_not qd_connect inf $SSH2 22
qd_check "$QD_INF still reaches $SSH1:8080" qd_connect inf $SSH1 8080
qd_check "not isolated" qd_not qd_in_set iso4 $QD_INF

qd_say "4. released"
qctl release $QD_INF --reason "password changed" >/dev/null
qd_check "$QD_INF reaches $SSH1:22 again" qd_connect inf $SSH1 22
qd_check "$QD_INF reaches $SSH2:22 again" qd_connect inf $SSH2 22
qd_check "the elements are gone" qd_not qd_in_set conhm4 "$mac"
qd_done
