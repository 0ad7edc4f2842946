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
# 4. Operators by name: a quarantine as root under sudo (SUDO_USER=alice,
#    SUDO_UID=1000 as sudo sets them) is recorded as root's, with alice
#    claimed; one by a user of the control group who is not root
#    (nobody, through setpriv, with control.group nogroup) as nobody's;
#    each in show --json (the host and its history line) and in the
#    event.
# 5. --json on every command of quarantinectl -h against the daemon: an
#    answer is JSON on stdout, an error one {"error":...,"exit":N} line on
#    stderr with N the exit status.
# Needs root; exit 77 (skipped) otherwise.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"

qd_say "topology and quarantined"
qd_topology || exit 1
qd_count_add inf22 ip saddr $QD_INF tcp dport 22 'tcp flags & (syn|ack) == syn' || exit 1
# The control group of part 4: nobody's own group, so that nobody may
# run every command without being root.
qd_config
sed -i "s|^control: { socket = \"\\(.*\\)\"; };|control: { socket = \"\\1\"; group = \"nogroup\"; };|" "$QD_CONF"
grep -q 'group = "nogroup"' "$QD_CONF" || {
	echo "could not set control.group in $QD_CONF" >&2
	exit 1
}
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

qd_say "4. operators by name"
qd_mark
qd_check "quarantine $QD_BEN as root under sudo from alice succeeds" \
	env SUDO_USER=alice SUDO_UID=1000 "$QD_CTL" -S "$QD_SOCK" quarantine $QD_BEN --reason sudo
qd_check "show --json: by 0, by_name root, by_claimed alice (uid 1000)" \
	test "$(qd_show_json $QD_BEN '"%s %s %s" % (d["by"], d.get("by_name"), d.get("by_claimed"))')" = \
	"0 root {'sudo_user': 'alice', 'sudo_uid': 1000}"
qd_check "show --json: the history line names them too" \
	test "$(qd_show_json $QD_BEN '[h for h in d["history"] if h["text"] == "sudo"][-1].get("by_claimed", {}).get("sudo_user")')" = alice
ev=$(qd_wait_event 3 event=action host=$QD_BEN by=0 by_name=root) || ev=""
qd_check "the action event: by_name root, claimed sudo user alice" \
	test "$(echo "$ev" | qd_json 'd.get("by_claimed", {}).get("sudo_user")')" = alice
qd_check "show says it in words" \
	sh -c "'$QD_CTL' -S '$QD_SOCK' show $QD_BEN | grep -q 'by root (uid 0, sudo from alice, claimed) (sudo)'"
# nobody, in the control group (nogroup), reaches the socket through the
# test's directory (search permission only) and runs a copy of
# quarantinectl it can execute.
if getent passwd nobody >/dev/null && command -v setpriv >/dev/null; then
	chmod 0711 "$QD_TMP"
	install -m 0755 "$QD_CTL" "$QD_TMP/quarantinectl"
	nuid=$(id -u nobody)
	qd_check "nobody (group nogroup) may change a host: contain $QD_BEN on tcp/80" \
		setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$QD_TMP/quarantinectl" -S "$QD_SOCK" quarantine $QD_BEN --level contain \
		--proto tcp --ports 80 --reason nobody
	qd_check "show --json: by $nuid, by_name nobody, no claim" \
		test "$(qd_show_json $QD_BEN '"%s %s %s" % (d["by"], d.get("by_name"), d.get("by_claimed"))')" = \
		"$nuid nobody None"
	qd_check "show --json: the history line by nobody" \
		test "$(qd_show_json $QD_BEN '[h for h in d["history"] if h["text"] == "nobody"][-1].get("by_name")')" = nobody
	qd_check "the sudo line before it keeps its names" \
		test "$(qd_show_json $QD_BEN '[h for h in d["history"] if h["text"] == "sudo"][-1].get("by_name")')" = root
	ev=$(qd_wait_event 3 event=action host=$QD_BEN level=contain by=$nuid by_name=nobody) || ev=""
	qd_check "the action event: by $nuid, by_name nobody" test -n "$ev"
	qd_check "nobody's own sudo claim of itself is not sent" \
		env SUDO_USER=nobody SUDO_UID=$nuid setpriv --reuid=nobody --regid=nogroup \
		--clear-groups "$QD_TMP/quarantinectl" -S "$QD_SOCK" release $QD_BEN --reason self
	qd_check "... and the release is nobody's without a claim" \
		test "$(qd_show_json $QD_BEN '"%s %s" % (d.get("by_name"), d.get("by_claimed"))')" = \
		"nobody None"
else
	echo "   (no user nobody or no setpriv: the non-root operator is not checked)"
fi

qd_say "5. --json on every command"
# json_cmd STATUS ARGS...: quarantinectl --json ARGS exits STATUS; on
# success stdout is JSON (one document, or JSON lines for events) and
# stderr empty; on failure stdout is empty and stderr one line
# {"error":...,"exit":STATUS}.
json_cmd() {
	local want=$1 rc=0
	shift
	qctl --json "$@" >"$QD_TMP/j.out" 2>"$QD_TMP/j.err" || rc=$?
	[ "$rc" = "$want" ] || {
		echo "   quarantinectl --json $*: exit status $rc, want $want" >&2
		cat "$QD_TMP/j.err" >&2
		return 1
	}
	python3 - "$rc" "$QD_TMP/j.out" "$QD_TMP/j.err" <<-'EOF'
		import json, sys
		rc, out, err = int(sys.argv[1]), open(sys.argv[2]).read(), open(sys.argv[3]).read()
		if rc == 0:
		    assert err == "", err
		    lines = out.splitlines()
		    assert lines, "no output"
		    try:
		        json.loads(out)
		    except ValueError:
		        for l in lines:
		            json.loads(l)
		else:
		    assert out == "", out
		    lines = err.splitlines()
		    assert len(lines) == 1, err
		    d = json.loads(lines[0])
		    assert set(d) == {"error", "exit"} and d["exit"] == rc, d
	EOF
}
for c in status list "show $QD_BEN" incidents report events "purge --older-than 30d" \
	pause resume "allow 10.66.9.0/24" "allow 10.66.9.0/24" "disallow 10.66.9.0/24" \
	"quarantine $QD_BEN --level watch" "escalate $QD_BEN" "deescalate $QD_BEN" \
	"mark $QD_BEN cleaning" "release $QD_BEN" "release $QD_BEN" "release --all" reload; do
	# shellcheck disable=SC2086
	qd_check "--json $c: a JSON answer" json_cmd 0 $c
done
id=$(qctl --json incidents | qd_json 'd[0]["id"] if d else 1')
qd_check "--json incident $id: a JSON answer" json_cmd 0 incident "$id"
qd_check "--json incident 999999: {\"error\":...,\"exit\":1}" json_cmd 1 incident 999999
qd_check "--json disallow 10.66.9.0/24 (not on the list): exit 1 as JSON" \
	json_cmd 1 disallow 10.66.9.0/24
qd_check "--json deescalate $QD_BEN (not blocked): exit 1 as JSON" json_cmd 1 deescalate $QD_BEN
qd_check "--json quarantine $QD_NB (never-block): exit 1 as JSON" json_cmd 1 quarantine $QD_NB
qd_check "--json show no-such-host: exit 2 as JSON" json_cmd 2 show no-such-host
qd_check "--json metrics: exit 2 as JSON" json_cmd 2 metrics
qd_check "--json quarantine --level bogus: exit 2 as JSON" json_cmd 2 quarantine $QD_BEN --level bogus
# A reload refused for a broken file: the diagnostics as a JSON list on
# stdout, the refusal as the error object; the file put back, it reloads.
cp "$QD_CONF" "$QD_CONF.good"
echo 'scan: { threshold = "many"; };' >>"$QD_CONF"
qd_check "--json reload of a broken file: exit 1 as JSON" \
	sh -c "'$QD_CTL' -S '$QD_SOCK' --json reload >'$QD_TMP/r.out' 2>'$QD_TMP/r.err'; test \$? = 1"
qd_check "... the refusal on stderr" test "$(qd_json 'd["exit"]' <"$QD_TMP/r.err")" = 1
qd_check "... the diagnostics on stdout, one per problem, with the file's name" \
	test "$(qd_json 'd["ok"] is False and len(d["diagnostics"]) >= 1 and all("quarantined.conf:" in x for x in d["diagnostics"])' <"$QD_TMP/r.out")" = true
mv "$QD_CONF.good" "$QD_CONF"
qd_check "--json reload of the good file again: a JSON answer" json_cmd 0 reload
qd_check "--json: quarantine's answer says what was done" \
	sh -c "'$QD_CTL' -S '$QD_SOCK' --json quarantine $QD_BEN --ttl 30s | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"ok\"] and d[\"host\"] == \"$QD_BEN\" and d[\"level\"] == \"isolate\" and d[\"changed\"], d'"
qd_done
